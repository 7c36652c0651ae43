"""Component registry: a component is one function per role, plus validated parameters.

Flow validates a job against this registry at submit time (unknown component, role or parameter
-> a clear 4xx); the node-manager looks the function up to run a task.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from silobridge.errors import InvalidInput, NotFound
from silobridge.federation.context import TaskContext
from silobridge.table import Table


class Params(BaseModel):
    """Base of every component's parameters: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class TaskResult:
    tables: dict[str, Table] = field(default_factory=dict)
    # Model artifact of this party (numpy arrays, scalars, dicts): kept by this party only.
    model: dict[str, Any] | None = None
    # Small numbers shown to the user (auc, rows, ...).
    summary: dict[str, float] = field(default_factory=dict)


RoleFn = Callable[[TaskContext], TaskResult]


@dataclass
class ComponentDef:
    name: str
    roles: dict[str, RoleFn]
    params: type[Params] = Params
    # Parameters naming a party-local table ("namespace.name"): flow resolves them to input tables.
    table_params: tuple[str, ...] = ()
    # Named outputs this component produces (tables or "model").
    outputs: tuple[str, ...] = ()
    description: str = ""

    def validate(self, params: Mapping[str, Any], *, where: str = "") -> dict[str, Any]:
        try:
            return self.params.model_validate(dict(params)).model_dump()
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(params)'}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidInput(f"invalid parameters for {where or self.name}: {problems}") from None


_REGISTRY: dict[str, ComponentDef] = {}


def register(defn: ComponentDef) -> ComponentDef:
    if defn.name in _REGISTRY and _REGISTRY[defn.name] is not defn:
        raise ValueError(f"component {defn.name!r} registered twice")
    _REGISTRY[defn.name] = defn
    return defn


def get(name: str) -> ComponentDef:
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise NotFound(f"unknown component {name!r} (known: {known})") from None


def all_components() -> dict[str, ComponentDef]:
    _load_builtins()
    return dict(_REGISTRY)


def _load_builtins() -> None:
    import silobridge.components.builtin  # noqa: F401  (registers on import)

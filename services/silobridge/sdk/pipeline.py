"""A job as Python objects: tasks with validated parameters, wired by their outputs, into YAML.

A parameter is checked when it is given (name and type, against the component's own pydantic
model from the registry) and again, merged per role and party, when the pipeline is serialised,
so a wrong parameter fails in the user's script with the task, the component and the parameter
named, before anything reaches flow. :meth:`Pipeline.to_yaml` writes the document that
``silobridge job submit`` takes and that flow parses (``flow.jobspec``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python

from silobridge.client.flow_api import FlowClient
from silobridge.components import registry
from silobridge.components.registry import ComponentDef
from silobridge.errors import InvalidInput, NotFound
from silobridge.federation.context import ROLES
from silobridge.sdk.job import Job

_WORD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TABLE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
TABLE_PREFIX = "table:"
JOB_KEYS = ("job_id", "initiator", "parties", "timeout_s", "components")
TASK_KEYS = ("name", "component", "inputs", "needs", "params", "role_params")


@dataclass(frozen=True)
class Output:
    """A named output of a task (``reader_0.data``), given as another task's input."""

    task: Task
    name: str

    def ref(self) -> str:
        return f"{self.task.named()}.{self.name}"


#: An input: another task's output, ``"<task>.<output>"`` or ``"table:<namespace>.<name>"``.
Input = Output | str


class Outputs:
    """``task.outputs.data``: the component's declared outputs, checked by name."""

    def __init__(self, task: Task) -> None:
        self._task = task

    def __getattr__(self, name: str) -> Output:
        return self._task.output(name)

    def __dir__(self) -> Iterable[str]:
        return list(self._task.definition.outputs)


class Task:
    """One component of a job. Made by the functions of :mod:`silobridge.sdk.components`."""

    def __init__(
        self,
        component: str,
        name: str | None = None,
        *,
        inputs: Mapping[str, Input] | None = None,
        needs: Sequence[Task | str] = (),
        params: Mapping[str, Any] | None = None,
    ) -> None:
        try:
            self.definition: ComponentDef = registry.get(component)
        except NotFound as exc:
            raise InvalidInput(str(exc)) from None
        self.component = component
        if name is not None:
            _check_name(name, f"{component} task")
        self.name = name
        self.inputs: dict[str, Input] = {}
        for key, ref in (inputs or {}).items():
            self.inputs[key] = _check_input(ref, f"{self._where()}: input {key!r}")
        self.needs: list[Task | str] = list(needs)
        self.params: dict[str, Any] = self._checked(params or {}, "")
        self.role_params: dict[str, dict[str, Any]] = {}

    @property
    def outputs(self) -> Outputs:
        return Outputs(self)

    def output(self, name: str) -> Output:
        declared = self.definition.outputs
        if declared and name not in declared:
            raise InvalidInput(f"{self._where()} has no output {name!r} (outputs: {', '.join(declared)})")
        return Output(self, name)

    def at(self, role: str, party_id: int | None = None, /, **params: Any) -> Task:
        """Parameters for one role (or one party of a role), over the task's common ``params``."""
        if role not in ROLES:
            raise InvalidInput(f"{self._where()}: unknown role {role!r} (roles: {', '.join(ROLES)})")
        if role not in self.definition.roles:
            supported = ", ".join(sorted(self.definition.roles))
            raise InvalidInput(
                f"{self._where()}: component {self.component!r} does not run at role {role!r} "
                f"(roles: {supported})"
            )
        key = role if party_id is None else f"{role}:{_party_id(party_id, f'{self._where()}: party')}"
        self.role_params.setdefault(key, {}).update(self._checked(params, f" at {key}"))
        return self

    def named(self) -> str:
        if self.name is None:
            raise InvalidInput(
                f"a {self.component} task is referred to before it has a name: add it to the pipeline first, or name it"
            )
        return self.name

    def _where(self) -> str:
        return f"task {self.name!r} ({self.component})" if self.name else f"{self.component} task"

    def _checked(self, params: Mapping[str, Any], at: str) -> dict[str, Any]:
        """Each parameter against its field of the component's model; JSON-ready values back."""
        fields = self.definition.params.model_fields
        out: dict[str, Any] = {}
        for key, value in params.items():
            if key not in fields:
                close = difflib.get_close_matches(key, list(fields), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                known = ", ".join(fields) or "none"
                raise InvalidInput(
                    f"{self._where()}{at}: unknown parameter {key!r}{hint} (parameters: {known})"
                )
            try:
                _field_adapter(self.definition.params, key).validate_python(value)
            except ValidationError as exc:
                raise InvalidInput(f"{self._where()}{at}: parameter {key!r}: {_problems(exc)}") from None
            out[key] = to_jsonable_python(value.model_dump() if isinstance(value, BaseModel) else value)
        return out

    def merged(self, role: str, party: int) -> dict[str, Any]:
        """``params`` < ``at(role)`` < ``at(role, party)``, as flow merges them."""
        return {
            **self.params,
            **self.role_params.get(role, {}),
            **self.role_params.get(f"{role}:{party}", {}),
        }

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "component": self.component}
        if self.inputs:
            out["inputs"] = {k: v.ref() if isinstance(v, Output) else v for k, v in self.inputs.items()}
        if self.needs:
            out["needs"] = [n if isinstance(n, str) else n.named() for n in self.needs]
        if self.params:
            out["params"] = dict(self.params)
        if self.role_params:
            out["role_params"] = {k: dict(v) for k, v in self.role_params.items()}
        return out

    def __repr__(self) -> str:
        return f"<Task {self.name or '?'} ({self.component})>"


@cache
def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    info = model.model_fields[name]
    annotated: Any = Annotated[info.annotation, info]  # type: ignore[name-defined]
    return TypeAdapter(annotated)


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        (f"{'.'.join(str(p) for p in e['loc'])}: " if e["loc"] else "") + e["msg"] for e in exc.errors()
    )


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _WORD.match(name):
        raise InvalidInput(f"{what}: name {name!r} must be 1-64 characters of [A-Za-z0-9_-]")
    return name


def _party_id(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInput(f"{where}: expected a positive integer party id, got {value!r}")
    return value


def _check_input(ref: object, where: str) -> Input:
    if isinstance(ref, Output):
        return ref
    if isinstance(ref, str):
        if ref.startswith(TABLE_PREFIX):
            if not _TABLE.match(ref.removeprefix(TABLE_PREFIX)):
                raise InvalidInput(f"{where}: {ref!r} is not 'table:<namespace>.<name>'")
            return ref
        task, _, output = ref.partition(".")
        if task and output:
            return ref
    raise InvalidInput(
        f"{where}: {ref!r} is not another task's output, '<task>.<output>' or 'table:<namespace>.<name>'"
    )


class Pipeline:
    """The parties of a job by role, and its tasks in order.

    ``Pipeline(guest=9999, host=10000, arbiter=10001, initiator=9999, timeout_s=900)``; a role
    takes one party id or a list. Without ``initiator`` the party that receives the job starts it.
    """

    def __init__(
        self,
        *,
        guest: int | Sequence[int] | None = None,
        host: int | Sequence[int] | None = None,
        arbiter: int | Sequence[int] | None = None,
        initiator: int | None = None,
        timeout_s: float | None = None,
        job_id: str | None = None,
    ) -> None:
        self.parties: dict[str, list[int]] = {}
        for role, ids in (("guest", guest), ("host", host), ("arbiter", arbiter)):
            if ids is None:
                continue
            listed = [ids] if isinstance(ids, int) else list(ids)
            if not listed:
                raise InvalidInput(f"parties.{role}: give at least one party id")
            self.parties[role] = [_party_id(p, f"parties.{role}") for p in listed]
        if not self.parties:
            raise InvalidInput("a pipeline needs parties, e.g. Pipeline(guest=9999, host=10000)")
        seen: dict[int, str] = {}
        for role, ids in self.parties.items():
            for p in ids:
                if p in seen:
                    raise InvalidInput(f"parties.{role}: party {p} already has the role {seen[p]}")
                seen[p] = role
        if initiator is not None and initiator not in seen:
            raise InvalidInput(f"initiator: party {initiator} is not among the pipeline's parties")
        if timeout_s is not None and (isinstance(timeout_s, bool) or not timeout_s > 0):
            raise InvalidInput(f"timeout_s: {timeout_s!r} must be a positive number of seconds")
        if job_id is not None:
            _check_name(job_id, "job_id")
        self.initiator = initiator
        self.timeout_s = timeout_s
        self.job_id = job_id
        self.tasks: list[Task] = []

    def role_of(self, party: int) -> str:
        return next(role for role, ids in self.parties.items() if party in ids)

    def add(self, task: Task) -> Task:
        """Add a task (named ``<component>_<n>`` when it has no name); returns it for wiring."""
        if task.name is None:
            taken = {t.name for t in self.tasks}
            task.name = next(
                f"{task.component}_{n}"
                for n in range(len(self.tasks) + 1)
                if f"{task.component}_{n}" not in taken
            )
        elif any(t.name == task.name for t in self.tasks):
            raise InvalidInput(f"task name {task.name!r} is used twice in the pipeline")
        if any(t is task for t in self.tasks):
            raise InvalidInput(f"{task._where()} is already in the pipeline")
        self.tasks.append(task)
        return task

    def task(self, name: str) -> Task:
        for t in self.tasks:
            if t.name == name:
                return t
        raise InvalidInput(
            f"no task {name!r} in the pipeline (tasks: {', '.join(str(t.name) for t in self.tasks)})"
        )

    # ----- validation ---------------------------------------------------------------------

    def validate(self) -> None:
        """Every task's parameters merged at every party it runs at, and its wiring."""
        if not self.tasks:
            raise InvalidInput("the pipeline has no tasks: add one with Pipeline.add")
        by_name = {t.name: t for t in self.tasks}
        for task in self.tasks:
            self._validate_task(task, by_name)

    def _validate_task(self, task: Task, by_name: Mapping[str | None, Task]) -> None:
        where = task._where()
        runs = [(role, p) for role, ids in self.parties.items() if role in task.definition.roles for p in ids]
        if not runs:
            supported = ", ".join(sorted(task.definition.roles))
            raise InvalidInput(f"{where} runs at roles {supported}, none of which the pipeline has")
        for key in task.role_params:
            at_role, _, at_party = key.partition(":")
            if at_party and int(at_party) not in self.parties.get(at_role, []):
                raise InvalidInput(
                    f"{where}: parameters at {key}, but party {at_party} is not a {at_role} of the pipeline"
                )
        for role, party in runs:
            merged = task.merged(role, party)
            try:
                task.definition.params.model_validate(merged)
            except ValidationError as exc:
                raise InvalidInput(f"{where} at {role} party {party}: {_problems(exc)}") from None
            for name in task.definition.table_params:
                if name in merged and not _TABLE.match(str(merged[name])):
                    raise InvalidInput(
                        f"{where} at {role} party {party}: parameter {name!r}: {merged[name]!r} is not "
                        "a table name of the form <namespace>.<name>"
                    )
        for key, ref in task.inputs.items():
            if isinstance(ref, Output):
                if not any(t is ref.task for t in self.tasks):
                    raise InvalidInput(
                        f"{where}: input {key!r} comes from {ref.task._where()}, which is not in the pipeline"
                    )
            elif not ref.startswith(TABLE_PREFIX):
                upstream, _, output = ref.partition(".")
                if upstream not in by_name:
                    raise InvalidInput(f"{where}: input {key!r}: unknown task {upstream!r}")
                by_name[upstream].output(output)
        for need in task.needs:
            needed = need if isinstance(need, str) else need.name
            if needed not in by_name or (not isinstance(need, str) and by_name[needed] is not need):
                raise InvalidInput(f"{where}: needs {needed!r}, which is not in the pipeline")

    # ----- YAML ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The job document (validated), in the layout of the CLI's job YAML."""
        self.validate()
        out: dict[str, Any] = {}
        if self.job_id is not None:
            out["job_id"] = self.job_id
        if self.initiator is not None:
            out["initiator"] = {"role": self.role_of(self.initiator), "party_id": self.initiator}
        out["parties"] = {role: list(ids) for role, ids in self.parties.items()}
        if self.timeout_s is not None:
            out["timeout_s"] = self.timeout_s
        out["components"] = [t.to_dict() for t in self.tasks]
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Pipeline:
        """A job document (as ``silobridge job submit`` takes it) as a pipeline, validated."""
        if not isinstance(doc, Mapping):
            raise InvalidInput(f"job: expected a mapping, got {type(doc).__name__}")
        _check_keys(doc, JOB_KEYS, "job")
        parties = doc.get("parties")
        if not isinstance(parties, Mapping):
            raise InvalidInput("parties: expected a mapping of role to party ids")
        for role in parties:
            if role not in ("guest", "host", "arbiter"):
                raise InvalidInput(f"parties.{role}: unknown role (roles: {', '.join(ROLES)})")
        initiator = doc.get("initiator")
        if initiator is not None:
            if not isinstance(initiator, Mapping):
                raise InvalidInput("initiator: expected {role: ..., party_id: ...}")
            _check_keys(initiator, ("role", "party_id"), "initiator")
        pipe = cls(
            **{role: parties[role] for role in parties},
            initiator=None if initiator is None else initiator.get("party_id"),
            timeout_s=doc.get("timeout_s"),
            job_id=doc.get("job_id"),
        )
        components = doc.get("components")
        if not isinstance(components, list):
            raise InvalidInput("components: expected a list of tasks")
        for i, item in enumerate(components):
            pipe.add(_task_from_dict(item, f"components[{i}]"))
        pipe.validate()
        return pipe

    @classmethod
    def from_yaml(cls, text: str | bytes) -> Pipeline:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"job YAML is not valid YAML: {exc}") from None
        return cls.from_dict(doc)

    # ----- running ------------------------------------------------------------------------

    def submit(
        self,
        flow: str | None = None,
        *,
        token: str | None = None,
        token_file: Path | None = None,
        timeout_s: float = 60.0,
    ) -> Job:
        """Submit at a party's flow; the URL and token are found as the CLI finds them."""
        client = FlowClient(flow, token=token, token_file=token_file, timeout_s=timeout_s)
        return Job(client, client.submit_job(self.to_yaml()))


def _check_keys(obj: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in obj:
        if key not in allowed:
            raise InvalidInput(f"{where}: unknown key {key!r} (allowed: {', '.join(allowed)})")


def _task_from_dict(item: object, where: str) -> Task:
    if not isinstance(item, Mapping):
        raise InvalidInput(f"{where}: expected a mapping")
    _check_keys(item, TASK_KEYS, where)
    for key in ("name", "component"):
        if not isinstance(item.get(key), str):
            raise InvalidInput(f"{where}.{key}: missing (a string)")
    task = Task(
        item["component"],
        item["name"],
        inputs=item.get("inputs") or {},
        needs=list(item.get("needs") or []),
        params=item.get("params") or {},
    )
    for key, params in (item.get("role_params") or {}).items():
        role, _, party = str(key).partition(":")
        if party and not party.isdigit():
            raise InvalidInput(f"{where}.role_params.{key}: expected <role> or <role>:<party_id>")
        task.at(role, int(party) if party else None, **(params or {}))
    return task

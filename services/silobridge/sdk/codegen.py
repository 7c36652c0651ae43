"""Writes :mod:`silobridge.sdk.components`: one typed function per registered component.

The keyword arguments and their types come from each component's pydantic parameter model, so
an IDE completes and type-checks them. A unit test fails when the committed module differs from
what this writes; regenerate with ``python -m silobridge.sdk.codegen``.
"""

from __future__ import annotations

import inspect
import json
import sys
import textwrap
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from silobridge.components import registry
from silobridge.components.registry import ComponentDef

TARGET = Path(__file__).with_name("components.py")

HEADER = '''"""One function per component, with its parameters as typed keyword arguments.

Generated from the component registry by ``python -m silobridge.sdk.codegen``: do not edit.
Each function returns a :class:`~silobridge.sdk.pipeline.Task`; a parameter left out keeps the
component's default, and one given for a single role goes through ``Task.at(role, ...)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

{imports}
from silobridge.sdk.pipeline import Input, Task

__all__ = [{names}]


def component(
    component: str,
    name: str | None = None,
    *,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
    **params: Any,
) -> Task:
    """Any registered component by name (one added by a plugin, say), parameters untyped."""
    return Task(component, name, inputs=inputs, needs=needs, params=params)


def _given(**params: Any) -> dict[str, Any]:
    return {{k: v for k, v in params.items() if v is not _UNSET}}


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


_UNSET: Any = _Unset()
'''


def _render(annotation: Any, imports: set[tuple[str, str]]) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is type(None):
        return "None"
    if annotation is Any:
        return "Any"
    if origin is typing.Literal:
        return f"Literal[{', '.join(json.dumps(a) for a in args)}]"
    if origin is typing.Annotated:
        return _render(args[0], imports)
    if origin in (typing.Union, types.UnionType):
        rendered: list[str] = []
        for a in args:
            text = _render(a, imports)
            if text not in rendered:
                rendered.append(text)
        return " | ".join(rendered)
    if origin in (list, tuple, set, dict):
        inner = ", ".join("..." if a is Ellipsis else _render(a, imports) for a in args)
        return f"{origin.__name__}[{inner}]" if args else origin.__name__
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        imports.add((annotation.__module__, annotation.__name__))
        return annotation.__name__
    if annotation in (int, float, bool, str, bytes):
        return str(annotation.__name__)
    return "Any"


def _function(defn: ComponentDef, imports: set[tuple[str, str]]) -> str:
    fields = defn.params.model_fields
    args = ["    name: str | None = None,", "    *,", "    data: Input | None = None,"]
    args += ["    inputs: Mapping[str, Input] | None = None,", "    needs: Sequence[Task | str] = (),"]
    doc_params: list[str] = []
    for field, info in fields.items():
        before = len(imports)
        typed = _render(info.annotation, imports)
        if len(imports) > before or any(n in typed.split(" | ") for _, n in imports):
            typed += " | Mapping[str, Any]"  # a nested model may be given as a plain mapping
        args.append(f"    {field}: {typed} = _UNSET,")
        default = (
            "required" if info.is_required() else f"default {info.get_default(call_default_factory=True)!r}"
        )
        text = f"{field}: {info.description or ''} ({default})"
        doc_params.append(
            textwrap.fill(text, 96, initial_indent="        ", subsequent_indent="            ")
        )
    roles = ", ".join(sorted(defn.roles))
    outputs = ", ".join(defn.outputs) or "none"
    summary = textwrap.fill(defn.description or f"The {defn.name} component.", 96, subsequent_indent="    ")
    doc = [f'    """{summary}', "", f"    Runs at: {roles}. Outputs: {outputs}."]
    if doc_params:
        doc += ["", "    Args:", *doc_params]
    doc.append('    """')
    given = [f"            {f}={f}," for f in fields]
    body = [
        "    return Task(",
        f'        "{defn.name}",',
        "        name,",
        '        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},',
        "        needs=needs,",
        *(["        params=_given(", *given, "        ),"] if given else ["        params={},"]),
        "    )",
    ]
    return "\n".join([f"def {defn.name}(", *args, ") -> Task:", *doc, *body])


def shipped() -> list[ComponentDef]:
    """The components silobridge ships, by name: every role runs code of the silobridge package.
    Not those a process registered at run time (a plug-in, a test's), which the generated module
    must not depend on."""
    defs = registry.all_components().values()
    ours = [
        d
        for d in defs
        if all(getattr(fn, "__module__", "").startswith("silobridge.") for fn in d.roles.values())
    ]
    return sorted(ours, key=lambda d: d.name)


def render() -> str:
    defs = shipped()
    imports: set[tuple[str, str]] = set()
    functions = [_function(d, imports) for d in defs]
    names = "".join(f'\n    "{n}",' for n in sorted(["component", *(d.name for d in defs)])) + "\n"
    modules: dict[str, list[str]] = {}
    for module, name in sorted(imports):
        modules.setdefault(module, []).append(name)
    lines = "\n".join(f"from {m} import {', '.join(names_)}" for m, names_ in sorted(modules.items()))
    head = HEADER.format(imports=lines, names=names)
    return head + "\n\n" + "\n\n\n".join(functions) + "\n"


def main() -> int:
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET.name} ({len(shipped())} components)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Job YAML -> validated ``JobSpec``, and the questions the scheduler asks of a spec.

Every error names the problem and where it is (``components[2].inputs.train_data: unknown task
'psi_1'``). The same :func:`validate_spec` runs at the initiator on submit and at every other
party on a proposal, so a party never runs a job it would not have accepted itself.
"""

from __future__ import annotations

import math
import re
import secrets
import time
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from typing import Any

import yaml
from google.protobuf import json_format, struct_pb2

from silobridge.components import registry
from silobridge.components.registry import ComponentDef
from silobridge.errors import InvalidInput, NotFound, PayloadTooLarge
from silobridge.federation.context import ROLES
from silobridge.flow.v1 import flow_pb2
from silobridge.node.v1 import node_pb2

_WORD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TABLE = re.compile(r"^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$")
TABLE_INPUT_PREFIX = "table:"
MODEL_OUTPUT = "model"

JOB_KEYS = ("job_id", "initiator", "parties", "timeout_s", "components")
INITIATOR_KEYS = ("role", "party_id")
COMPONENT_KEYS = ("name", "component", "inputs", "needs", "params", "role_params")


@dataclass(frozen=True)
class SpecRules:
    """What a party checks a job against: itself, the parties it knows, its limits."""

    self_party: int
    #: A live set where flow follows the route table (FlowSettings.live_parties).
    known_parties: Set[int]
    default_timeout_s: float = 3600.0
    max_timeout_s: float = 7 * 24 * 3600.0
    max_yaml_bytes: int = 256 * 1024
    max_yaml_depth: int = 32
    max_yaml_nodes: int = 20_000
    max_components: int = 256


def new_job_id(now: float | None = None) -> str:
    """``<yyyymmddHHMMSS>_<6 hex>``: sortable by time, unique enough for one party."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now if now is not None else time.time()))
    return f"{stamp}_{secrets.token_hex(3)}"


def parse_table_name(value: object, where: str) -> tuple[str, str]:
    """``"namespace.name"`` -> (namespace, name), or an error naming ``where``."""
    m = _TABLE.match(value) if isinstance(value, str) else None
    if m is None:
        raise InvalidInput(f"{where}: {value!r} is not a table name of the form <namespace>.<name>")
    return m.group(1), m.group(2)


# ----- YAML -> JobSpec (structure) ----------------------------------------------------------


def parse_job_yaml(text: bytes | str, rules: SpecRules) -> flow_pb2.JobSpec:
    """Parse and fully validate a job YAML (or JSON) document."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    if len(raw) > rules.max_yaml_bytes:
        raise PayloadTooLarge(
            f"job YAML of {len(raw)} bytes exceeds the limit of {rules.max_yaml_bytes} bytes"
        )
    try:
        text = raw.decode("utf-8")
        _check_events(text, rules)
        doc = yaml.load(text, Loader=_JobLoader)  # a SafeLoader: see _JobLoader
    except UnicodeDecodeError:
        raise InvalidInput("job YAML is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise InvalidInput(f"job YAML is not valid YAML{at}: {problem}") from None
    spec = spec_from_document(doc, rules)
    validate_spec(spec, rules)
    return spec


_SafeBase: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _JobLoader(_SafeBase):  # type: ignore[misc]
    """``safe_load`` (libyaml when present) that refuses numbers no job needs: non-finite, huge."""

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        value = float(super().construct_yaml_float(node))
        if not math.isfinite(value):
            raise InvalidInput(
                f"job YAML{_at(node.start_mark)}: non-finite number {node.value!r} is not allowed"
            )
        return value

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        if len(node.value) > 24:
            raise InvalidInput(
                f"job YAML{_at(node.start_mark)}: integer of {len(node.value)} digits is too long"
            )
        return int(super().construct_yaml_int(node))


_JobLoader.add_constructor("tag:yaml.org,2002:float", _JobLoader.construct_yaml_float)
_JobLoader.add_constructor("tag:yaml.org,2002:int", _JobLoader.construct_yaml_int)


def _at(mark: Any) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _check_events(text: str, rules: SpecRules) -> None:
    """Refuse aliases, anchors, deep nesting and too many nodes before anything is built.

    One streaming pass over the parser's events, so a "billion laughs" document is refused at
    its first alias and a deeply nested one at the first level too deep, in bounded memory.
    """
    depth = nodes = 0
    for event in yaml.parse(text, Loader=_JobLoader):
        where = _at(event.start_mark)
        if isinstance(event, yaml.AliasEvent):
            raise InvalidInput(f"job YAML{where}: aliases (*{event.anchor}) are not allowed in a job")
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            raise InvalidInput(f"job YAML{where}: anchors (&{event.anchor}) are not allowed in a job")
        if isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent):
            nodes += 1
            if nodes > rules.max_yaml_nodes:
                raise InvalidInput(f"job YAML{where}: more than {rules.max_yaml_nodes} values")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > rules.max_yaml_depth:
                raise InvalidInput(f"job YAML{where}: nested deeper than {rules.max_yaml_depth} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_keys(obj: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    allowed = tuple(allowed)
    for key in obj:
        if key not in allowed:
            raise InvalidInput(f"{where}: unknown key {key!r} (allowed: {', '.join(allowed)})")


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: expected a mapping, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInput(f"{where}: expected a positive integer party id, got {value!r}")
    return value


def _struct(value: object, where: str) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    try:
        out.update(_mapping(value, where))
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{where}: unsupported value ({exc})") from None
    return out


def spec_from_document(doc: object, rules: SpecRules) -> flow_pb2.JobSpec:
    """The structural half of validation: shapes, keys and types of the YAML document."""
    if doc is None:
        raise InvalidInput("job YAML is empty")
    top = _mapping(doc, "job")
    _check_keys(top, JOB_KEYS, "job")
    spec = flow_pb2.JobSpec()

    job_id = top.get("job_id")
    if job_id is not None:
        if not isinstance(job_id, str) or not _WORD.match(job_id):
            raise InvalidInput(f"job_id: {job_id!r} must be 1-64 characters of [A-Za-z0-9_-]")
        spec.job_id = job_id
    else:
        spec.job_id = new_job_id()

    parties = _mapping(top.get("parties"), "parties") if "parties" in top else {}
    if not parties:
        raise InvalidInput(
            "parties: missing; name the party ids of each role, e.g. {guest: [9999], host: [10000]}"
        )
    for role, ids in parties.items():
        if role not in ROLES:
            raise InvalidInput(f"parties.{role}: unknown role (roles: {', '.join(ROLES)})")
        if isinstance(ids, int) and not isinstance(ids, bool):
            ids = [ids]
        if not isinstance(ids, list) or not ids:
            raise InvalidInput(f"parties.{role}: expected a non-empty list of party ids")
        spec.parties.add(role=role, party_ids=[_int(p, f"parties.{role}[{i}]") for i, p in enumerate(ids)])

    initiator = top.get("initiator")
    if initiator is None:
        spec.initiator_party_id = rules.self_party
    else:
        init = _mapping(initiator, "initiator")
        _check_keys(init, INITIATOR_KEYS, "initiator")
        if "party_id" not in init:
            raise InvalidInput("initiator.party_id: missing")
        spec.initiator_party_id = _int(init["party_id"], "initiator.party_id")
        init_role = init.get("role")
        if init_role is not None:
            ids = next((list(rp.party_ids) for rp in spec.parties if rp.role == init_role), [])
            if spec.initiator_party_id not in ids:
                raise InvalidInput(
                    f"initiator: party {spec.initiator_party_id} with role {init_role} is not among the job's parties"
                )

    timeout = top.get("timeout_s", rules.default_timeout_s)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= rules.max_timeout_s
    ):
        raise InvalidInput(
            f"timeout_s: {timeout!r} must be a number of seconds in (0, {rules.max_timeout_s:.0f}]"
        )
    spec.timeout_s = float(timeout)

    components = top.get("components")
    if not isinstance(components, list) or not components:
        raise InvalidInput("components: expected a non-empty list of tasks")
    _check_component_count(len(components), rules)
    for i, item in enumerate(components):
        spec.components.append(_component_from_document(item, f"components[{i}]"))
    return spec


def _component_from_document(item: object, where: str) -> flow_pb2.ComponentSpec:
    comp = _mapping(item, where)
    _check_keys(comp, COMPONENT_KEYS, where)
    out = flow_pb2.ComponentSpec()
    for key in ("name", "component"):
        value = comp.get(key)
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"{where}.{key}: missing (a string)")
    out.name, out.component = comp["name"], comp["component"]
    if "params" in comp and comp["params"] is not None:
        out.params.CopyFrom(_struct(comp["params"], f"{where}.params"))
    for key, params in _mapping(comp.get("role_params") or {}, f"{where}.role_params").items():
        at = f"{where}.role_params.{key}"
        role, _, party = key.partition(":")
        party_id = 0
        if party:
            if not party.isdigit() or int(party) <= 0:
                raise InvalidInput(f"{at}: expected <role> or <role>:<party_id>")
            party_id = int(party)
        out.role_params.add(role=role, party_id=party_id, params=_struct(params or {}, at))
    for name, ref in _mapping(comp.get("inputs") or {}, f"{where}.inputs").items():
        if not isinstance(ref, str):
            raise InvalidInput(
                f"{where}.inputs.{name}: expected '<task>.<output>' or 'table:<namespace>.<name>'"
            )
        out.inputs[name] = ref
    needs = comp.get("needs") or []
    if not isinstance(needs, list) or not all(isinstance(n, str) for n in needs):
        raise InvalidInput(f"{where}.needs: expected a list of task names")
    out.needs.extend(needs)
    return out


# ----- semantic validation (also run on proposals from other parties) ------------------------


def validate_spec(spec: flow_pb2.JobSpec, rules: SpecRules) -> None:
    """Raise :class:`InvalidInput` naming the first problem; a valid spec changes nothing."""
    if not _WORD.match(spec.job_id):
        raise InvalidInput(f"job_id: {spec.job_id!r} must be 1-64 characters of [A-Za-z0-9_-]")
    roles = _validate_parties(spec, rules)
    if not 0 < spec.timeout_s <= rules.max_timeout_s:
        raise InvalidInput(f"timeout_s: {spec.timeout_s!r} must be in (0, {rules.max_timeout_s:.0f}]")
    if not spec.components:
        raise InvalidInput("components: expected a non-empty list of tasks")
    _check_component_count(len(spec.components), rules)
    index: dict[str, int] = {}
    for i, comp in enumerate(spec.components):
        where = f"components[{i}]"
        if not _WORD.match(comp.name):
            raise InvalidInput(f"{where}.name: {comp.name!r} must be 1-64 characters of [A-Za-z0-9_-]")
        if comp.name in index:
            raise InvalidInput(f"{where}.name: duplicate task name {comp.name!r}")
        index[comp.name] = i
    for i, comp in enumerate(spec.components):
        _validate_component(spec, comp, f"components[{i}]", index, roles)
    topo_order(spec)


def _check_component_count(count: int, rules: SpecRules) -> None:
    # Validation costs ~0.2 ms per task and runs on flow's event loop: the bound keeps it short.
    if count > rules.max_components:
        raise InvalidInput(f"components: {count} tasks, more than the limit of {rules.max_components}")


def _validate_parties(spec: flow_pb2.JobSpec, rules: SpecRules) -> dict[int, str]:
    roles: dict[int, str] = {}
    for rp in spec.parties:
        if rp.role not in ROLES:
            raise InvalidInput(f"parties.{rp.role}: unknown role (roles: {', '.join(ROLES)})")
        for j, party in enumerate(rp.party_ids):
            if party not in rules.known_parties:
                raise InvalidInput(f"parties.{rp.role}[{j}]: unknown party {party}")
            if party in roles:
                raise InvalidInput(
                    f"parties.{rp.role}[{j}]: party {party} already has the role {roles[party]}"
                )
            roles[party] = rp.role
    if spec.initiator_party_id not in roles:
        raise InvalidInput(f"initiator: party {spec.initiator_party_id} is not among the job's parties")
    if rules.self_party not in roles:
        raise InvalidInput(f"parties: this party ({rules.self_party}) is not among the job's parties")
    return roles


def _component_def(comp: flow_pb2.ComponentSpec, where: str) -> ComponentDef:
    try:
        return registry.get(comp.component)
    except NotFound as exc:
        raise InvalidInput(f"{where}.component: {exc}") from None


def _validate_component(
    spec: flow_pb2.JobSpec,
    comp: flow_pb2.ComponentSpec,
    where: str,
    index: Mapping[str, int],
    roles: Mapping[int, str],
) -> None:
    defn = _component_def(comp, where)
    supported = ", ".join(sorted(defn.roles))
    for rp in comp.role_params:
        key = f"{rp.role}:{rp.party_id}" if rp.party_id else rp.role
        at = f"{where}.role_params.{key}"
        if rp.role not in ROLES:
            raise InvalidInput(f"{at}: unknown role (roles: {', '.join(ROLES)})")
        if rp.role not in defn.roles:
            raise InvalidInput(
                f"{at}: component {defn.name!r} does not support role {rp.role!r} (roles: {supported})"
            )
        if rp.party_id and roles.get(rp.party_id) != rp.role:
            raise InvalidInput(f"{at}: party {rp.party_id} is not a {rp.role} of this job")
    runs = [(party, role) for party, role in sorted(roles.items()) if role in defn.roles]
    if not runs:
        raise InvalidInput(
            f"{where}.component: {defn.name!r} runs at roles {supported}, none of which this job has"
        )
    for party, role in runs:
        params = merged_params(comp, role, party)
        defn.validate(params, where=f"{where} ({comp.name}) at {role} party {party}")
        for name in defn.table_params:
            if name in params:
                parse_table_name(params[name], f"{where}.{_param_origin(comp, name, role, party)}.{name}")
    for name in comp.needs:
        if name not in index:
            raise InvalidInput(f"{where}.needs: unknown task {name!r}")
    for name, ref in comp.inputs.items():
        at = f"{where}.inputs.{name}"
        if ref.startswith(TABLE_INPUT_PREFIX):
            parse_table_name(ref.removeprefix(TABLE_INPUT_PREFIX), at)
            continue
        task, _, output = ref.partition(".")
        if not task or not output:
            raise InvalidInput(f"{at}: {ref!r} is not '<task>.<output>' or 'table:<namespace>.<name>'")
        if task not in index:
            raise InvalidInput(f"{at}: unknown task {task!r}")
        upstream = _component_def(spec.components[index[task]], f"components[{index[task]}]")
        if upstream.outputs and output not in upstream.outputs:
            outputs = ", ".join(upstream.outputs)
            raise InvalidInput(
                f"{at}: task {task!r} ({upstream.name}) has no output {output!r} (outputs: {outputs})"
            )


def _param_origin(comp: flow_pb2.ComponentSpec, name: str, role: str, party: int) -> str:
    for rp in comp.role_params:
        if rp.role == role and rp.party_id == party and name in rp.params.fields:
            return f"role_params.{role}:{party}"
    for rp in comp.role_params:
        if rp.role == role and rp.party_id == 0 and name in rp.params.fields:
            return f"role_params.{role}"
    return "params"


# ----- questions the scheduler asks ---------------------------------------------------------


def party_roles(spec: flow_pb2.JobSpec) -> dict[int, str]:
    return {party: rp.role for rp in spec.parties for party in rp.party_ids}


def parties_by_role(spec: flow_pb2.JobSpec) -> dict[str, list[int]]:
    return {rp.role: list(rp.party_ids) for rp in spec.parties}


def merged_params(comp: flow_pb2.ComponentSpec, role: str, party: int) -> dict[str, Any]:
    """``params`` < ``role_params[role]`` < ``role_params["role:party"]``."""
    out: dict[str, Any] = json_format.MessageToDict(comp.params)
    for rp in comp.role_params:
        if rp.role == role and rp.party_id == 0:
            out.update(json_format.MessageToDict(rp.params))
    for rp in comp.role_params:
        if rp.role == role and rp.party_id == party:
            out.update(json_format.MessageToDict(rp.params))
    return out


def runs_at(comp: flow_pb2.ComponentSpec, role: str) -> bool:
    """A task runs at every party whose role the component supports."""
    return role in registry.get(comp.component).roles


def tasks_at(spec: flow_pb2.JobSpec, party: int) -> list[flow_pb2.ComponentSpec]:
    role = party_roles(spec).get(party)
    return [c for c in spec.components if role is not None and runs_at(c, role)]


def upstreams(comp: flow_pb2.ComponentSpec) -> list[str]:
    """Explicit ``needs`` plus the tasks named by ``inputs``."""
    out = list(comp.needs)
    for ref in sorted(comp.inputs.values()):
        if not ref.startswith(TABLE_INPUT_PREFIX):
            task = ref.partition(".")[0]
            if task not in out:
                out.append(task)
    return out


def topo_order(spec: flow_pb2.JobSpec) -> list[str]:
    """Task names in dependency order; a cycle is an error that shows the cycle."""
    deps = {c.name: upstreams(c) for c in spec.components}
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*path[path.index(name) :], name]
            raise InvalidInput(f"components: cycle in the DAG: {' -> '.join(cycle)}")
        state[name] = 1
        for up in deps.get(name, []):
            if up in deps:
                visit(up, [*path, name])
        state[name] = 2
        order.append(name)

    for comp in spec.components:
        visit(comp.name, [])
    return order


def table_inputs(comp: flow_pb2.ComponentSpec, role: str, party: int) -> dict[str, node_pb2.TableRef]:
    """Party-local tables a task reads: its ``table_params`` and ``table:`` inputs."""
    defn = registry.get(comp.component)
    params = merged_params(comp, role, party)
    out: dict[str, node_pb2.TableRef] = {}
    for name in defn.table_params:
        if name in params:
            ns, table = parse_table_name(params[name], name)
            out[name] = node_pb2.TableRef(namespace=ns, name=table)
    for name, ref in comp.inputs.items():
        if ref.startswith(TABLE_INPUT_PREFIX):
            ns, table = parse_table_name(ref.removeprefix(TABLE_INPUT_PREFIX), name)
            out[name] = node_pb2.TableRef(namespace=ns, name=table)
    return out


def task_inputs(comp: flow_pb2.ComponentSpec) -> dict[str, tuple[str, str]]:
    """Input name -> (upstream task, output) for the inputs produced by other tasks."""
    return {
        name: (ref.partition(".")[0], ref.partition(".")[2])
        for name, ref in comp.inputs.items()
        if not ref.startswith(TABLE_INPUT_PREFIX)
    }

"""This party's policy: which peer proposals may run here, decided before anything runs.

A YAML (or JSON) document, kept in flow's database (``PUT /v1/policy``, ``silobridge policy set``)
or, when ``policy_file`` is set, read from that file at start (the API then refuses changes)::

    default: deny            # deny | hold: a proposal from a peer without a rule
    peers:
      9999:                  # the proposing party (the job's initiator); "*" for any peer
        action: allow        # allow | hold: a proposal that passes every check runs / waits
        components:          # component -> the roles this party may play in it ("*": any)
          reader: [host]
          psi: [host]
          hetero_lr: [host, arbiter]
          evaluation: [host]
        tables: [demo.host]  # local tables the peer may name (shell patterns: demo.*)
        max_epochs: 50       # optional: no task here may ask for more epochs
        min_intersection: 100  # optional: a PSI here must intersect at least this many rows

A refusal names the rule that failed and never depends on what exists here: a table the peer
may not use is refused with the same words whether or not it exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flow import jobspec
from silobridge.components import registry
from silobridge.errors import InvalidInput
from silobridge.flow.v1 import flow_pb2

ANY: Literal["*"] = "*"
MAX_POLICY_BYTES = 256 * 1024
ACCEPT, REFUSE, HOLD = "accept", "refuse", "hold"


class PeerRule(BaseModel):
    """What one peer may run here."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["allow", "hold"] = Field(
        "allow", description="allow: run a proposal that passes every check; hold: wait for approval"
    )
    components: dict[str, list[str]] | Literal["*"] = Field(
        default_factory=dict, description="component -> roles this party may play in it; '*' for any"
    )
    tables: list[str] = Field(default_factory=list, description="local tables (patterns) the peer may use")
    max_epochs: int | None = Field(None, ge=1, description="largest 'epochs' a task here may ask for")
    min_intersection: int | None = Field(
        None, ge=1, description="fewest rows a PSI at this party must intersect"
    )

    def allows(self, component: str, role: str) -> bool:
        if isinstance(self.components, str):  # "*"
            return True
        roles = self.components.get(component, self.components.get(ANY, []))
        return ANY in roles or role in roles


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: Literal["deny", "hold"] = Field("deny", description="a proposal from a peer without a rule")
    peers: dict[int | Literal["*"], PeerRule] = Field(default_factory=dict)

    def rule(self, peer: int) -> PeerRule | None:
        return self.peers.get(peer) or self.peers.get(ANY)


DEFAULT_POLICY = Policy(default="deny")


@dataclass(frozen=True)
class Decision:
    verdict: str  # accept | refuse | hold
    reason: str  # what the peer is told; names the rule, never what exists here


def parse_policy(text: bytes | str) -> Policy:
    """A policy document (YAML or JSON); :class:`InvalidInput` naming each problem."""
    if len(text) > MAX_POLICY_BYTES:
        raise InvalidInput(f"policy of {len(text)} bytes exceeds the limit of {MAX_POLICY_BYTES} bytes")
    try:
        doc = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise InvalidInput(f"policy is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise InvalidInput("policy: expected a mapping with 'default' and 'peers'")
    try:
        return Policy.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"invalid policy: {problems}") from None


def policy_document(policy: Policy) -> dict[str, Any]:
    """JSON shape of a policy (what the API returns)."""
    return dict(json.loads(policy.model_dump_json()))


def decide(policy: Policy, spec: flow_pb2.JobSpec, party: int, peer: int) -> Decision:
    """The policy's verdict on ``peer``'s proposal ``spec`` (already validated) at ``party``."""
    rule = policy.rule(peer)
    if rule is None:
        if policy.default == "hold":
            return Decision(HOLD, f"no rule for party {peer} in the policy of party {party}")
        return Decision(REFUSE, f"the policy of party {party} does not accept jobs from party {peer}")
    role = jobspec.party_roles(spec)[party]
    for comp in jobspec.tasks_at(spec, party):
        where = f"the policy of party {party}: task {comp.name}"
        if not rule.allows(comp.component, role):
            return Decision(
                REFUSE, f"{where}: component {comp.component} in role {role} is not allowed for party {peer}"
            )
        for ref in jobspec.table_inputs(comp, role, party).values():
            full = f"{ref.namespace}.{ref.name}"
            if not any(fnmatchcase(full, pattern) for pattern in rule.tables):
                return Decision(REFUSE, f"{where}: table {full} is not available to party {peer}")
        if rule.max_epochs is not None:
            epochs = _param(comp, role, party, "epochs")
            if isinstance(epochs, int | float) and epochs > rule.max_epochs:
                return Decision(REFUSE, f"{where}: epochs {epochs:g} exceeds the maximum {rule.max_epochs}")
    if rule.action == "hold":
        return Decision(HOLD, f"the policy of party {party} holds jobs of party {peer} for approval")
    return Decision(ACCEPT, "")


def _param(comp: flow_pb2.ComponentSpec, role: str, party: int, name: str) -> Any:
    """A parameter as the task will see it (the component's default when the job names none)."""
    merged = jobspec.merged_params(comp, role, party)
    try:
        return registry.get(comp.component).validate(merged).get(name)
    except InvalidInput:
        return merged.get(name)


def intersection_floor(policy: Policy, peer: int) -> int | None:
    rule = policy.rule(peer)
    return None if rule is None else rule.min_intersection

"""The task context a component receives: its party, the job's parties by role, inputs,
parameters, a compute backend, a metrics logger, and ``send`` / ``recv`` of typed values.

Components are plain (synchronous) functions; the transport behind :class:`Federation`
decides whether a value goes through the bus and the routers, or through an in-process twin.
"""

from __future__ import annotations

import abc
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from silobridge.compute.base import ComputeBackend
from silobridge.disclosure import DisclosureLimits
from silobridge.errors import InvalidInput
from silobridge.federation import codec
from silobridge.table import Table

ROLES = ("guest", "host", "arbiter")
DEFAULT_RECV_TIMEOUT_S = 600.0


class Federation(abc.ABC):
    """Moves opaque payloads of one federation session between parties."""

    @abc.abstractmethod
    def send(self, dst_party: int, dst_role: str, name: str, tag: str, payload: bytes) -> None: ...

    @abc.abstractmethod
    def recv(self, src_party: int, name: str, tag: str, timeout: float) -> bytes: ...


MetricSink = Callable[[str, float, int], None]
ProgressSink = Callable[[float], None]


@dataclass
class TaskContext:
    job_id: str
    task_name: str
    party_id: int
    role: str
    parties: dict[str, list[int]]
    federation: Federation
    compute: ComputeBackend
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Table] = field(default_factory=dict)
    input_models: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1
    recv_timeout_s: float = DEFAULT_RECV_TIMEOUT_S
    metric_sink: MetricSink | None = None
    progress_sink: ProgressSink | None = None
    keys: codec.KeyRing = field(default_factory=codec.KeyRing)
    # This party's disclosure limits (from its settings, never from the job's parameters).
    limits: DisclosureLimits = field(default_factory=DisclosureLimits)
    _counters: defaultdict[tuple[str, int, str], int] = field(default_factory=lambda: defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ----- parties -------------------------------------------------------------------------
    def parties_of(self, role: str) -> list[int]:
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
        return list(self.parties.get(role, []))

    def role_of(self, party_id: int) -> str:
        for role, ids in self.parties.items():
            if party_id in ids:
                return role
        raise InvalidInput(f"party {party_id} takes no part in job {self.job_id}")

    def _targets(self, who: str | int) -> list[int]:
        if isinstance(who, int):
            self.role_of(who)
            return [who]
        targets = self.parties_of(who)
        if not targets:
            raise InvalidInput(f"job {self.job_id} has no {who} party")
        return targets

    def _tag(self, direction: str, party: int, name: str, tag: str | None) -> str:
        if tag is not None:
            return tag
        with self._lock:
            key = (direction, party, name)
            self._counters[key] += 1
            return f"n{self._counters[key]}"

    # ----- federation ----------------------------------------------------------------------
    def send(self, to: str | int, name: str, value: Any, *, tag: str | None = None) -> None:
        """Send ``value`` to a party id, or to every party of a role."""
        payload = codec.to_bytes(value)
        for party in self._targets(to):
            if party == self.party_id:
                raise InvalidInput("a party does not send to itself")
            self.federation.send(
                party, self.role_of(party), name, self._tag("out", party, name, tag), payload
            )

    def recv(self, frm: str | int, name: str, *, tag: str | None = None, timeout: float | None = None) -> Any:
        """Receive ``name`` from one party (a party id, or a role that has exactly one party)."""
        targets = self._targets(frm)
        if len(targets) != 1:
            raise InvalidInput(f"role {frm!r} has {len(targets)} parties: use recv_all")
        return self._recv_one(targets[0], name, tag, timeout)

    def recv_all(
        self, role: str, name: str, *, tag: str | None = None, timeout: float | None = None
    ) -> list[Any]:
        """Receive ``name`` from every party of ``role``, in the order of ``parties_of(role)``."""
        return [self._recv_one(p, name, tag, timeout) for p in self._targets(role)]

    def _recv_one(self, party: int, name: str, tag: str | None, timeout: float | None) -> Any:
        payload = self.federation.recv(
            party, name, self._tag("in", party, name, tag), timeout or self.recv_timeout_s
        )
        return codec.from_bytes(payload, self.keys)

    def trust_key(self, public_key: Any) -> None:
        """Accept ciphertexts under this public key from now on."""
        self.keys.trust(public_key)

    # ----- reporting -----------------------------------------------------------------------
    def log_metric(self, name: str, value: float, step: int = 0) -> None:
        if self.metric_sink is not None:
            self.metric_sink(name, float(value), int(step))

    def progress(self, fraction: float) -> None:
        if self.progress_sink is not None:
            self.progress_sink(max(0.0, min(1.0, float(fraction))))

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def input(self, name: str) -> Table:
        try:
            return self.inputs[name]
        except KeyError:
            raise InvalidInput(f"task {self.task_name} needs an input table {name!r}") from None


def parties_from(mapping: Mapping[str, list[int]]) -> dict[str, list[int]]:
    return {role: sorted(int(p) for p in ids) for role, ids in mapping.items() if ids}

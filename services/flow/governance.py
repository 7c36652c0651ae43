"""This party's policy (from a file or the database) and its audit trail.

Every decision on a peer's proposal and every change of credentials or policy is one ``audit`` row
in flow's database and one JSON log line on the ``silobridge.audit`` logger (who, peer, job id,
decision, reason).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from flow.policy import DEFAULT_POLICY, Decision, Policy, decide, parse_policy
from flow.store import AuditRecord, JobStore
from silobridge.errors import Conflict, InvalidInput
from silobridge.flow.v1 import flow_pb2

audit_log = logging.getLogger("silobridge.audit")


class Governance:
    def __init__(self, store: JobStore, party: int, policy_file: Path | None = None) -> None:
        self.store = store
        self.party = party
        self.policy_file = policy_file
        self._policy: Policy | None = None
        self._text = ""

    @property
    def policy(self) -> Policy:
        if self._policy is None:
            self.load()
        assert self._policy is not None
        return self._policy

    @property
    def policy_text(self) -> str:
        self.policy  # noqa: B018 - loads it
        return self._text

    def load(self) -> None:
        """Read the policy: the file when one is configured (a bad file stops flow), else the DB."""
        if self.policy_file is not None:
            try:
                text = self.policy_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise InvalidInput(
                    f"SILOBRIDGE_POLICY_FILE: cannot read {self.policy_file.name}: {exc.strerror}"
                ) from None
            self._policy, self._text = parse_policy(text), text
            return
        stored = self.store.get_policy()
        self._policy = DEFAULT_POLICY if stored is None else parse_policy(stored)
        self._text = stored or ""

    def set_policy(self, text: str, actor: str) -> Policy:
        if self.policy_file is not None:
            raise Conflict(
                f"the policy of party {self.party} is read from its policy file "
                f"({self.policy_file.name}); change the file and restart flow"
            )
        policy = parse_policy(text)
        self.store.put_policy(text)
        self._policy, self._text = policy, text
        self.audit(actor, "policy_set", reason=f"{len(policy.peers)} peer rule(s), default {policy.default}")
        return policy

    def decide(self, spec: flow_pb2.JobSpec, peer: int) -> Decision:
        return decide(self.policy, spec, self.party, peer)

    def audit(self, actor: str, action: str, *, job_id: str = "", peer: int = 0, reason: str = "") -> None:
        self.store.add_audit(AuditRecord(time.time(), actor, action, job_id, peer, reason))
        audit_log.info(
            "audit: %s by %s%s%s%s",
            action,
            actor,
            f" job {job_id}" if job_id else "",
            f" peer {peer}" if peer else "",
            f": {reason}" if reason else "",
            extra={
                "event": "audit",
                "actor": actor,
                "decision": action,
                "job_id": job_id or None,
                "peer": str(peer) if peer else None,
                "reason": reason,
            },
        )

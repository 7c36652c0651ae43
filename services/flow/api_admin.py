"""REST routes of trust: approvals of held proposals, API tokens, the policy and the audit log.

No ``from __future__ import annotations`` here: FastAPI reads the route signatures' annotations,
which name dependency types local to :func:`admin_router`.
"""

import json
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from flow import auth, views
from flow.api_errors import errors
from flow.auth import Permission, Principal, requirement
from flow.bodies import read_body
from flow.policy import MAX_POLICY_BYTES, policy_document
from flow.store import TokenRecord
from silobridge.errors import InvalidInput

if TYPE_CHECKING:
    from flow.api import ApiBackend

POLICY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
        },
        "description": "This party's policy (see docs/jobs.md)",
    }
}


class NewToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=64, description="who or what uses the token")
    role: str = Field(..., description="admin, operator, data-owner or viewer")


class Refusal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=500, description="told to the initiator")


def token_view(t: TokenRecord) -> dict[str, Any]:
    return {
        "token_id": t.token_id,
        "name": t.name,
        "role": t.role,
        "created": t.created,
        "revoked": t.revoked,
    }


def admin_router(deps: "ApiBackend") -> APIRouter:
    router = APIRouter()

    def need(permission: Permission) -> Any:
        return Depends(requirement(lambda: deps.store, permission))

    Reader = Annotated[Principal, need(Permission.READ)]
    Operator = Annotated[Principal, need(Permission.JOBS)]
    Admin = Annotated[Principal, need(Permission.ADMIN)]

    # ----- approvals ----------------------------------------------------------------------------
    @router.get("/v1/approvals", tags=["approvals"])
    async def pending(_: Reader) -> dict[str, Any]:
        """Proposals of other parties held here for an operator's decision."""
        party = deps.settings.party_id
        out = []
        for job in deps.coordinator.pending():
            held = next((a for a in deps.store.list_audit(job_id=job.job_id) if a.action == "hold"), None)
            out.append(views.job_summary(job, party) | {"reason": held.reason if held else ""})
        return {"pending": out}

    @router.post(
        "/v1/jobs/{job_id}/approve",
        tags=["approvals"],
        responses=errors(
            400, 404, 409, 503, 504, notes={400: "A table the job names is missing here (the job is refused)"}
        ),
    )
    async def approve(job_id: str, who: Operator) -> dict[str, Any]:
        """Accept a held proposal: the initiator starts the job once every party accepted."""
        job = await deps.coordinator.approve(job_id, who.name)
        return {"job_id": job.job_id, "state": job.state}

    @router.post("/v1/jobs/{job_id}/refuse", tags=["approvals"], responses=errors(400, 404, 409))
    async def refuse(job_id: str, who: Operator, body: Refusal | None = None) -> dict[str, Any]:
        """Refuse a held proposal: the job ends REFUSED at every party."""
        job = await deps.coordinator.refuse(job_id, who.name, body.reason if body else "")
        return {"job_id": job.job_id, "state": job.state, "message": job.message}

    # ----- tokens -------------------------------------------------------------------------------
    @router.get("/v1/tokens", tags=["tokens"])
    async def list_tokens(_: Admin) -> dict[str, Any]:
        """Every token (never the secret), revoked ones included."""
        return {"tokens": [token_view(t) for t in deps.store.list_tokens()]}

    @router.post(
        "/v1/tokens",
        status_code=201,
        tags=["tokens"],
        responses=errors(400, 409, notes={409: "A token of this name exists"}),
    )
    async def create_token(body: NewToken, who: Admin) -> dict[str, Any]:
        """A new token; the secret is in this answer only."""
        secret, record = auth.issue(deps.store, body.name, body.role)
        deps.coordinator.governance.audit(
            who.name, "token_create", reason=f"{record.name} ({record.role}) {record.token_id}"
        )
        return token_view(record) | {"token": secret}

    @router.delete("/v1/tokens/{token}", tags=["tokens"], responses=errors(404, 409))
    async def revoke_token(token: str, who: Admin) -> dict[str, Any]:
        """Revoke a token by id or name; it stops working at once."""
        record = deps.store.revoke_token(token)
        deps.coordinator.governance.audit(
            who.name, "token_revoke", reason=f"{record.name} ({record.role}) {record.token_id}"
        )
        return token_view(record)

    # ----- policy and audit ---------------------------------------------------------------------
    @router.get("/v1/policy", tags=["policy"])
    async def get_policy(_: Reader) -> dict[str, Any]:
        """This party's policy for peer proposals, and where it comes from."""
        governance = deps.coordinator.governance
        policy = governance.policy
        source = "file" if governance.policy_file else ("database" if governance.policy_text else "default")
        return {"source": source, "policy": policy_document(policy), "text": governance.policy_text}

    @router.put(
        "/v1/policy",
        tags=["policy"],
        openapi_extra=POLICY_BODY,
        responses=errors(400, 409, 413, notes={409: "The policy is read from a file here"}),
    )
    async def put_policy(request: Request, who: Admin) -> dict[str, Any]:
        """Replace the policy (YAML or JSON); it decides every proposal from now on."""
        body = await read_body(request, MAX_POLICY_BYTES, "policy")
        if not body.strip():  # never reset the policy by accident: an empty body is no policy
            raise InvalidInput("policy is empty: send the policy document (YAML or JSON)")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("policy: not UTF-8 text") from None
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                json.loads(text)
            except ValueError as exc:
                raise InvalidInput(f"policy is not valid JSON: {exc}") from None
        policy = deps.coordinator.governance.set_policy(text, who.name)
        return {"source": "database", "policy": policy_document(policy), "text": text}

    @router.get("/v1/audit", tags=["policy"], responses=errors(400))
    async def audit(
        _: Admin, limit: int = Query(100, ge=1, le=10_000), job_id: str = Query("")
    ) -> dict[str, Any]:
        """Decisions on peers' proposals and changes of tokens and policy, newest first."""
        return {
            "audit": [
                {
                    "time": a.time,
                    "actor": a.actor,
                    "action": a.action,
                    "job_id": a.job_id,
                    "peer": a.peer,
                    "reason": a.reason,
                }
                for a in deps.store.list_audit(limit=limit, job_id=job_id)
            ]
        }

    return router

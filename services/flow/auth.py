"""Who may act on flow's REST API: bearer tokens with a role, stored only as SHA-256 digests.

A token is ``sbt_`` + 43 URL-safe characters (256 random bits), shown once when created. flow
stores its digest; a request's token is hashed and looked up, and the digests are compared in
constant time. Roles grant permissions:

    viewer       read                      (jobs, tasks, metrics, models, tables, policy, pending)
    operator     read, jobs                (+ submit, stop, approve and refuse proposals)
    data-owner   read, data                (+ upload and bind tables)
    admin        read, jobs, data, admin   (+ tokens, policy, audit log)

Bootstrap: with ``admin_token_file`` set, the token in that file (e.g. a mounted Kubernetes
Secret) is an admin token; otherwise, when the database holds no active admin token, flow creates
one and writes it to ``<data_dir>/admin.token`` with mode 0600 (never to the log).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from flow.api_errors import refuse_unknown_query
from flow.governance import Governance
from flow.store import JobStore, TokenRecord
from silobridge.errors import InvalidInput, PermissionDenied, Unauthenticated

log = logging.getLogger(__name__)

TOKEN_PREFIX = "sbt_"
BOOTSTRAP_FILE = "admin.token"
BOOTSTRAP_NAME = "bootstrap-admin"


class Permission(enum.Enum):
    READ = "read"
    JOBS = "jobs"
    DATA = "data"
    ADMIN = "admin"


ROLES: dict[str, frozenset[Permission]] = {
    "viewer": frozenset({Permission.READ}),
    "operator": frozenset({Permission.READ, Permission.JOBS}),
    "data-owner": frozenset({Permission.READ, Permission.DATA}),
    "admin": frozenset(Permission),
}


@dataclass(frozen=True)
class Principal:
    """The caller of one request."""

    token_id: str
    name: str
    role: str

    def may(self, permission: Permission) -> bool:
        return permission in ROLES.get(self.role, frozenset())


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    return role


def issue(store: JobStore, name: str, role: str, *, token: str | None = None) -> tuple[str, TokenRecord]:
    """Create a token (or register ``token``); returns the secret once, with its record."""
    check_role(role)
    if not name or len(name) > 64:
        raise InvalidInput("token name: 1 to 64 characters")
    secret = token if token is not None else TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = TokenRecord(f"tok_{secrets.token_hex(6)}", name, role, digest(secret), time.time())
    store.add_token(record)
    return secret, record


def authenticate(store: JobStore, token: str) -> Principal:
    """The principal of a presented token; :class:`Unauthenticated` if unknown or revoked."""
    wanted = digest(token)
    record = store.token_by_digest(wanted)
    if record is None or not hmac.compare_digest(record.digest, wanted):
        raise Unauthenticated("unknown bearer token")
    if record.revoked:
        raise Unauthenticated(f"bearer token {record.token_id} ({record.name}) was revoked")
    return Principal(record.token_id, record.name, record.role)


_bearer = HTTPBearer(auto_error=False, description="An API token: `silobridge token create`")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]

# What each permission lets a role do, as the 403 message says it.
ACTIONS = {
    Permission.READ: "read jobs and data",
    Permission.JOBS: "submit, stop or approve jobs",
    Permission.DATA: "upload or bind tables",
    Permission.ADMIN: "manage tokens, policy or the audit log",
}


def requirement(
    store: Callable[[], JobStore], permission: Permission
) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Principal]]:
    """A FastAPI dependency: the request's principal, which must hold ``permission``."""

    async def dependency(request: Request, credentials: BearerCredentials) -> Principal:
        principal = _admit(store(), credentials.credentials if credentials else None, permission)
        request.state.principal = principal
        refuse_unknown_query(request)  # after the credential: a 401/403 comes first
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]  # read by check_credential_first
    return dependency


def _admit(store: JobStore, token: str | None, permission: Permission) -> Principal:
    if not token:
        raise Unauthenticated("missing bearer token (Authorization: Bearer <token>)")
    principal = authenticate(store, token)
    if not principal.may(permission):
        raise PermissionDenied(f"role {principal.role} may not {ACTIONS[permission]}")
    return principal


def check_credential_first(request: Request, store: JobStore) -> None:
    """For a request FastAPI refused before the route's dependencies ran (a body that is not
    JSON): raise the 401/403 the route's requirement would have, so that a caller without the
    right credential learns nothing about the route's input rules."""
    route = request.scope.get("route")
    permissions = _permissions(route.dependant) if isinstance(route, APIRoute) else []
    if not permissions:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    presented = token.strip() if scheme.lower() == "bearer" else None
    for permission in permissions:
        _admit(store, presented, permission)


def _permissions(dependant: Dependant) -> list[Permission]:
    out: list[Permission] = []
    for sub in dependant.dependencies:
        wanted = getattr(sub.call, "permission", None)
        if isinstance(wanted, Permission):
            out.append(wanted)
        out += _permissions(sub)
    return out


def ensure_bootstrap(governance: Governance, data_dir: Path, token_file: Path | None) -> Path | None:
    """Make sure an admin can log in; returns the file a new bootstrap token was written to."""
    store = governance.store
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InvalidInput(
                f"SILOBRIDGE_ADMIN_TOKEN_FILE: cannot read {token_file.name}: {exc.strerror}"
            ) from None
        if len(token) < 32:
            raise InvalidInput("SILOBRIDGE_ADMIN_TOKEN_FILE: the token must have at least 32 characters")
        if store.token_by_digest(digest(token)) is None:
            _, record = issue(store, _free_name(store, BOOTSTRAP_NAME), "admin", token=token)
            governance.audit("flow", "token_create", reason=f"{record.name} (admin) from {token_file.name}")
        return None
    if any(t.role == "admin" and not t.revoked for t in store.list_tokens()):
        return None
    path = data_dir / BOOTSTRAP_FILE
    secret, record = issue(store, _free_name(store, BOOTSTRAP_NAME), "admin")
    governance.audit("flow", "token_create", reason=f"{record.name} (admin) written to {BOOTSTRAP_FILE}")
    data_dir.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secret + "\n")
    log.warning("no admin token existed: created %s, written to %s (mode 0600)", record.token_id, path)
    return path


def _free_name(store: JobStore, base: str) -> str:
    taken = {t.name for t in store.list_tokens() if not t.revoked}
    n, name = 1, base
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name

"""The error answers of flow's REST API, as documented per route in its OpenAPI spec.

Every error is ``{"error": {"code", "message"}}`` with the HTTP status of the silobridge error
type (``silobridge.errors``). A route lists the statuses it can return with ``errors(...)``; the
schemathesis run (``tests/unit/flow/test_flow_openapi_fuzz.py``) fails on any status a route
returns that its entry does not list. Request validation answers 400 (not FastAPI's 422), so
:func:`install_openapi` replaces FastAPI's generated 422 entries; a query parameter the route
does not declare is refused with 400 too (a typo such as ``?limt=5`` is not silently ignored).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from silobridge.errors import InvalidInput

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}

DESCRIPTIONS: dict[int, str] = {
    400: "Invalid input: a parameter, the body or what it names (the message says which)",
    401: "No, an unknown or a revoked bearer token",
    403: "The token's role lacks the permission",
    404: "No such job, task, model, token or table at this party",
    409: "The request conflicts with the current state (the message says how)",
    413: "The body exceeds its size limit",
    422: "The cluster-manager or a node-manager refused the request",
    503: "A service of this party (cluster-manager, node-managers, bus) is unavailable; retry later",
    504: "A service of this party did not answer in time; retry later",
}

#: Every route behind a bearer token (added where the routers are included).
AUTH = (401, 403)
#: What a route that asks this party's cluster-manager or node-managers can also answer.
CLUSTER = (422, 503, 504)


def errors(*codes: int, notes: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route: the error statuses it returns, each with the error schema.

    ``notes`` replaces the generic description of a status: ``errors(409, notes={409: "..."})``.
    """
    out: dict[int | str, dict[str, Any]] = {}
    for code in sorted(set(codes)):
        out[code] = {
            "description": (notes or {}).get(code, DESCRIPTIONS[code]),
            "content": {"application/json": {"schema": ERROR_SCHEMA}},
        }
    return out


def install_openapi(app: FastAPI) -> None:
    """Serve the spec without FastAPI's 422 validation entries (flow answers those with 400)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = generate()
        for ops in spec.get("paths", {}).values():
            for op in ops.values():
                responses = op.get("responses", {})
                generated = responses.get("422", {}).get("content", {}).get("application/json", {})
                if generated.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                    del responses["422"]
                    responses.setdefault("400", errors(400)[400])
        schemas = spec.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def refuse_unknown_query(request: Request) -> None:
    """400 for a query parameter the matched route does not declare."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    known = getattr(route, "_silobridge_query", None)
    if known is None:
        known = frozenset(_query_names(route.dependant))
        route._silobridge_query = known  # type: ignore[attr-defined]
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        names = ", ".join(repr(n[:64]) for n in unknown[:5])
        accepted = ", ".join(sorted(known)) or "none"
        raise InvalidInput(f"unknown query parameter {names} (this route accepts: {accepted})")


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def allowed_methods(app: FastAPI, path: str) -> str | None:
    """The ``Allow`` header of a 405: every method the spec documents for ``path`` (Starlette
    names only those of the one route it tried); None for a path outside the spec."""
    table: list[tuple[re.Pattern[str], str]] | None = getattr(app.state, "allowed_methods", None)
    if table is None:
        table = [
            (_template(p), ", ".join(sorted(m.upper() for m in ops)))
            for p, ops in app.openapi().get("paths", {}).items()
        ]
        app.state.allowed_methods = table
    return next((methods for pattern, methods in table if pattern.match(path)), None)


def _template(path: str) -> re.Pattern[str]:
    """``/v1/jobs/{job_id}`` -> a pattern matching one segment per parameter."""
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")

"""The serving HTTP API: scoring (open on the service's port) and model admin (admin token).

| route | |
|---|---|
| `POST /v1/score/{name}` | `{"id", "features"}` -> `{"id", "score", "model": {name, version, job_id, task}}` |
| `GET /v1/models` | every deployed version, `active` marked |
| `POST /v1/models` | deploy (the CLI's `silobridge model deploy`): a new version, active unless `activate: false` |
| `POST /v1/models/{name}/activate` | `{"version": N}`: swap to that version |
| `POST /v1/models/{name}/rollback` | `{"version"?: N}`: back to N, default the one before the active one |
| `DELETE /v1/models/{name}/versions/{version}` | forget a version that is not active |

Errors are `{"error": {"code", "message"}}` with the status of the silobridge error.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from silobridge.errors import InvalidInput, SilobridgeError, Unauthenticated

if TYPE_CHECKING:
    from serving.service import ServingService

MAX_BODY = 64 << 20


def _error(exc: SilobridgeError) -> JSONResponse:
    return JSONResponse({"error": {"code": exc.code, "message": str(exc)}}, status_code=exc.http_status)


async def _json(request: Request, limit: int = MAX_BODY) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > limit:
        raise InvalidInput(f"body over {limit} bytes")
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise InvalidInput("body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("body must be a JSON object")
    return body


def routes(svc: ServingService) -> list[BaseRoute]:
    def admin(fn: Callable[[Request], Awaitable[Any]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
                if not given or not hmac.compare_digest(given.encode(), svc.admin_token.encode()):
                    raise Unauthenticated("missing or unknown bearer token (Authorization: Bearer <token>)")
                return JSONResponse(await fn(request))
            except SilobridgeError as exc:
                return _error(exc)

        return endpoint

    async def score(request: Request) -> Response:
        try:
            body = await _json(request, 1 << 20)
            return JSONResponse(await svc.score(request.path_params["name"], body))
        except SilobridgeError as exc:
            return _error(exc)

    async def models(_: Request) -> Any:
        return {"models": svc.registry.listing()}

    async def deploy(request: Request) -> Any:
        return await svc.deploy(await _json(request))

    async def activate(request: Request) -> Any:
        body = await _json(request, 4096)
        if not isinstance(body.get("version"), int):
            raise InvalidInput("version: an integer")
        return svc.activate(request.path_params["name"], body["version"])

    async def rollback(request: Request) -> Any:
        body = await _json(request, 4096)
        version = body.get("version")
        if version is not None and not isinstance(version, int):
            raise InvalidInput("version: an integer")
        return svc.rollback(request.path_params["name"], version)

    async def remove(request: Request) -> Any:
        svc.registry.remove(request.path_params["name"], int(request.path_params["version"]))
        svc.count_versions()
        return {"removed": True}

    return [
        Route("/v1/score/{name}", score, methods=["POST"]),
        Route("/v1/models", admin(models), methods=["GET"]),
        Route("/v1/models", admin(deploy), methods=["POST"]),
        Route("/v1/models/{name}/activate", admin(activate), methods=["POST"]),
        Route("/v1/models/{name}/rollback", admin(rollback), methods=["POST"]),
        Route("/v1/models/{name}/versions/{version:int}", admin(remove), methods=["DELETE"]),
    ]

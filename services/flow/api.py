"""The REST API (FastAPI: OpenAPI at /openapi.json, docs at /docs) and the board at /board.

Errors are ``{"error": {"code", "message"}}`` with the status of the silobridge error type; a
rejected request changes nothing. Every ``/v1`` route needs a bearer token whose role grants the
route's permission (``flow.auth``): 401 names the missing or unknown credential, 403 the role and
what it may not do, before the body is read.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flow import views
from flow.api_admin import admin_router
from flow.api_board import board_router
from flow.api_errors import AUTH, CLUSTER, allowed_methods, errors, install_openapi
from flow.api_tables import choose_node, tables_router
from flow.auth import Permission, check_credential_first, requirement
from flow.bodies import read_body
from flow.cluster_client import ClusterClient
from flow.coordinator import Coordinator
from flow.metrics import FlowMetrics
from flow.settings import FlowSettings
from flow.store import JobStore
from flow.uploads import stream_upload
from silobridge.bus.base import check_word
from silobridge.errors import NotFound, SilobridgeError, Unauthenticated
from silobridge.node.v1 import node_pb2

JOB_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
        },
        "description": "The job YAML (or the same document as JSON); see docs/jobs.md",
    }
}
CSV_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}}
AUTH_RESPONSES = errors(*AUTH)


class ApiBackend(Protocol):
    """What the API needs from the service; looked up per request (the store opens in start)."""

    @property
    def settings(self) -> FlowSettings: ...

    @property
    def store(self) -> JobStore: ...

    @property
    def coordinator(self) -> Coordinator: ...

    @property
    def cluster(self) -> ClusterClient: ...

    @property
    def flow_metrics(self) -> FlowMetrics: ...


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class LatencyMiddleware:
    """Times every API request by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: FlowMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.api_seconds.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - start
            )


def build_api(deps: ApiBackend) -> FastAPI:
    app = FastAPI(title="silobridge flow", version="1", summary="Jobs and data of one silobridge party")
    party = deps.settings.party_id
    read, jobs, data = (
        [Depends(requirement(lambda: deps.store, p))]
        for p in (Permission.READ, Permission.JOBS, Permission.DATA)
    )

    @app.exception_handler(SilobridgeError)
    async def _silobridge_error(_: Request, exc: SilobridgeError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
        return JSONResponse(error_body(exc.code, str(exc)), status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        try:
            check_credential_first(request, deps.store)
        except SilobridgeError as denied:
            return await _silobridge_error(request, denied)
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return JSONResponse(error_body("invalid_input", problems), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not parse the body: the credential first
            try:
                check_credential_first(request, deps.store)
            except SilobridgeError as denied:
                return await _silobridge_error(request, denied)
        code = {400: "invalid_input", 404: "not_found"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        allow = allowed_methods(app, request.url.path) if exc.status_code == 405 else None
        if allow:  # every method of the path, not only those of the one route Starlette tried
            headers["Allow"] = allow
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers)

    @app.post(
        "/v1/jobs",
        status_code=201,
        openapi_extra=JOB_BODY,
        tags=["jobs"],
        dependencies=jobs,
        responses=errors(*AUTH, 400, 409, 413, *CLUSTER, notes={409: "A job with this id exists"}),
    )
    async def submit_job(request: Request) -> dict[str, Any]:
        """Submit a job: validated here, proposed to the other parties, then run everywhere."""
        body = await read_body(request, deps.settings.max_job_yaml_bytes, "job YAML")
        job = await deps.coordinator.submit(body)
        return {"job_id": job.job_id, "state": job.state}

    @app.get("/v1/jobs", tags=["jobs"], dependencies=read, responses=errors(*AUTH, 400))
    async def list_jobs(limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        """Jobs at this party, newest first."""
        return {"jobs": [views.job_summary(j, party) for j in deps.store.list_jobs(limit=limit)]}

    @app.get("/v1/jobs/{job_id}", tags=["jobs"], dependencies=read, responses=errors(*AUTH, 404))
    async def get_job(job_id: str) -> dict[str, Any]:
        """State, every party's task states, summaries and messages."""
        job = deps.store.get_job(job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        return views.job_detail(deps.store, job, party)

    @app.post(
        "/v1/jobs/{job_id}/stop",
        tags=["jobs"],
        dependencies=jobs,
        responses=errors(*AUTH, 404, 409, notes={409: "The job already ended"}),
    )
    async def stop_job(job_id: str) -> dict[str, Any]:
        """Stop a job (everywhere when this party initiated it)."""
        job = await deps.coordinator.stop(job_id)
        return {"job_id": job.job_id, "state": job.state, "message": job.message}

    @app.get(
        "/v1/jobs/{job_id}/tasks/{task}/metrics",
        tags=["jobs"],
        dependencies=read,
        responses=errors(*AUTH, 404),
    )
    async def task_metrics(job_id: str, task: str) -> dict[str, Any]:
        """Metric points this party's run of the task logged (loss, auc, ...)."""
        if deps.store.get_task(job_id, party, task) is None:
            raise NotFound(f"no task {task} of job {job_id} at party {party}")
        series: dict[str, list[dict[str, float]]] = {}
        for m in deps.store.list_metrics(job_id, party, task):
            series.setdefault(m.name, []).append(
                {"step": m.step, "value": m.value, "attempt": m.attempt, "time": m.time}
            )
        return {"job_id": job_id, "task": task, "party_id": party, "metrics": series}

    @app.get("/v1/jobs/{job_id}/models", tags=["models"], dependencies=read, responses=errors(*AUTH, 404))
    async def list_models(job_id: str) -> dict[str, Any]:
        """This party's models of the job (download each as protobuf ``Value`` bytes)."""
        if deps.store.get_job(job_id) is None:
            raise NotFound(f"no job {job_id}")
        return {
            "job_id": job_id,
            "models": [
                {
                    "task": m.task_name,
                    "party_id": m.party_id,
                    "size": m.size,
                    "created": m.created,
                    "download": f"/v1/jobs/{job_id}/models/{m.task_name}",
                }
                for m in deps.store.list_models(job_id)
            ],
        }

    @app.get(
        "/v1/jobs/{job_id}/models/{task}",
        tags=["models"],
        response_class=Response,
        dependencies=read,
        responses={
            200: {"content": {"application/x-protobuf": {"schema": {"type": "string", "format": "binary"}}}},
            **errors(*AUTH, 404),
        },
    )
    async def download_model(job_id: str, task: str) -> Response:
        """The model as serialized ``silobridge.federation.v1.Value``."""
        data = deps.store.get_model(job_id, task, party)
        if data is None:
            raise NotFound(f"no model of task {task} in job {job_id} at party {party}")
        return Response(
            data,
            media_type="application/x-protobuf",
            headers={"Content-Disposition": f'attachment; filename="{job_id}-{task}.pb"'},
        )

    @app.post(
        "/v1/data/upload",
        status_code=201,
        openapi_extra=CSV_BODY,
        tags=["data"],
        dependencies=data,
        responses=errors(*AUTH, 400, 409, 413, *CLUSTER),
    )
    async def upload(
        request: Request,
        namespace: str = Query(..., min_length=1, max_length=64),
        name: str = Query(..., min_length=1, max_length=64),
        id_column: str = Query(..., min_length=1),
        label_column: str = Query(""),
        partitions: int = Query(4, ge=1, le=1024),
    ) -> dict[str, Any]:
        """Store a CSV as a table of this party (on a node-manager chosen by load)."""
        check_word(namespace, "namespace")
        check_word(name, "table name")
        node = await choose_node(deps)
        store = node_pb2.StoreTable(
            table=node_pb2.TableRef(namespace=namespace, name=name),
            id_column=id_column,
            label_column=label_column,
            partitions=partitions,
        )
        meta = await stream_upload(deps, request, node.node_id, store)
        return {"table": views.table_meta(meta), "node_id": node.node_id}

    @app.get("/v1/tables", tags=["data"], dependencies=read, responses=errors(*AUTH, 400, *CLUSTER))
    async def list_tables(namespace: str = "") -> dict[str, Any]:
        """Tables of this party (metadata only)."""
        return {"tables": [views.table_meta(t) for t in await deps.cluster.list_tables(namespace)]}

    app.include_router(admin_router(deps), responses=AUTH_RESPONSES)
    app.include_router(tables_router(deps), responses=AUTH_RESPONSES)
    app.include_router(board_router(deps), responses=AUTH_RESPONSES)
    app.add_middleware(LatencyMiddleware, metrics=deps.flow_metrics)
    install_openapi(app)
    return app

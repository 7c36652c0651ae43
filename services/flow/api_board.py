"""The board (``/board``, its static files) and the routes only it needed: task logs, the model list.

The page and its files carry no data and need no credential; every ``/v1`` call the board makes
sends the API token like any client. The JavaScript libraries are vendored under ``static/vendor``
(``static/vendor/README.md``: versions, licences, digests) and served from here: nothing loads
from a CDN.

No ``from __future__ import annotations`` here: FastAPI reads the route signatures' annotations.
"""

import mimetypes
from importlib import resources
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from flow.api_errors import errors
from flow.auth import Permission, requirement
from silobridge.errors import NotFound

if TYPE_CHECKING:
    from flow.api import ApiBackend

STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".txt": "text/plain", ".md": "text/markdown"}
MAX_TAIL = 1000


def static_files() -> dict[str, Traversable]:
    """Every file the board may load, by its path under ``static/`` (nothing else is served)."""
    root = resources.files("flow").joinpath("static")
    out: dict[str, Traversable] = {}
    for entry in root.iterdir():
        for f in entry.iterdir() if entry.is_dir() else [entry]:
            name = f.name if f is entry else f"{entry.name}/{f.name}"
            if f.is_file() and "." + name.rsplit(".", 1)[-1] in STATIC_TYPES:
                out[name] = f
    return out


def board_router(deps: "ApiBackend") -> APIRouter:
    router = APIRouter()
    read = [Depends(requirement(lambda: deps.store, Permission.READ))]
    files = static_files()

    @router.get("/board", response_class=HTMLResponse, include_in_schema=False)
    async def board() -> HTMLResponse:
        page = resources.files("flow").joinpath("board.html").read_text(encoding="utf-8")
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    @router.get("/board/static/{name:path}", include_in_schema=False)
    async def static(name: str) -> Response:
        f = files.get(name)
        if f is None:
            raise NotFound(f"no board file {name}")
        kind = STATIC_TYPES.get("." + name.rsplit(".", 1)[-1]) or mimetypes.guess_type(name)[0]
        return Response(f.read_bytes(), media_type=kind, headers={"Cache-Control": "no-cache"})

    @router.get(
        "/v1/jobs/{job_id}/tasks/{task}/log",
        tags=["jobs"],
        dependencies=read,
        responses=errors(400, 404),
    )
    async def task_log(
        job_id: str,
        task: str,
        tail: int = Query(200, ge=0, le=MAX_TAIL, description="the last N lines (0: read after `after`)"),
        after: int = Query(0, ge=0, description="with tail=0: the lines numbered after this one"),
        limit: int = Query(MAX_TAIL, ge=1, le=MAX_TAIL),
    ) -> dict[str, Any]:
        """This party's log of its run of the task: starts, progress, metric points, outcome.

        The lines flow wrote about the run (``flow.task_log``), numbered from 1; follow a running
        task by asking again with ``tail=0&after=<next>``. Only this party's own lines: there is no
        way to ask for another party's.
        """
        party = deps.settings.party_id
        record = deps.store.get_task(job_id, party, task)
        if record is None:
            raise NotFound(f"no task {task} of job {job_id} at party {party}")
        lines = deps.store.task_log(job_id, party, task, after=after, tail=tail, limit=limit)
        return {
            "job_id": job_id,
            "task": task,
            "party_id": party,
            "state": record.state,
            "lines": [{"seq": x.seq, "time": x.time, "attempt": x.attempt, "line": x.line} for x in lines],
            "next": lines[-1].seq if lines else after,
        }

    @router.get("/v1/models", tags=["models"], dependencies=read, responses=errors(400))
    async def all_models(
        jobs: int = Query(50, ge=1, le=500, description="how many recent jobs"),
    ) -> dict[str, Any]:
        """This party's models of its most recent jobs, each with its task's component and summary."""
        party = deps.settings.party_id
        out = []
        for job in deps.store.list_jobs(limit=jobs):
            for m in deps.store.list_models(job.job_id):
                t = deps.store.get_task(job.job_id, party, m.task_name)
                out.append(
                    {
                        "job_id": m.job_id,
                        "task": m.task_name,
                        "party_id": m.party_id,
                        "component": t.component if t else "",
                        "role": t.role if t else "",
                        "summary": t.summary if t else {},
                        "size": m.size,
                        "created": m.created,
                        "download": f"/v1/jobs/{m.job_id}/models/{m.task_name}",
                    }
                )
        return {"models": out}

    return router

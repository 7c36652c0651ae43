"""``silobridge model deploy|list|activate|rollback``: models on this party's serving service.

``deploy JOB TASK`` takes this party's model of a finished job's task from its flow and publishes
it to its serving service as a new version of ``--name`` (active at once unless
``--no-activate``). Every party of the job deploys its own half; a host names its online feature
table (``--feature-table ns.name``, its own uploaded or bound table). A host answers only for
models its operator deployed this way. When the task's training rows went through the party's
``feature_scale`` / ``feature_selection``, their models go along and serving applies them as the
batch predicts do; any other transforming step upstream is refused.

The serving URL is ``--serving``, else ``SILOBRIDGE_SERVING_URL``, else http://127.0.0.1:9390;
its admin token ``--serving-token-file``, else ``SILOBRIDGE_SERVING_TOKEN``, else the token of a
serving started by this process (the demo, the single-process party in tests).
"""

from __future__ import annotations

import argparse
import base64
import os
from pathlib import Path
from typing import Any

import httpx

from silobridge.errors import SilobridgeError
from silobridge_cli import credentials
from silobridge_cli.job import CliError, add_flow_option, client, emit, run_cli

SERVING_URL_ENV = "SILOBRIDGE_SERVING_URL"
SERVING_TOKEN_ENV = "SILOBRIDGE_SERVING_TOKEN"
DEFAULT_SERVING_URL = "http://127.0.0.1:9390"


def serving_url(args: argparse.Namespace) -> str:
    return str(args.serving or os.environ.get(SERVING_URL_ENV) or DEFAULT_SERVING_URL).rstrip("/")


def _serving_call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    url = serving_url(args)
    if args.serving_token_file is not None:
        token: str | None = credentials.read_token_file(args.serving_token_file)
    else:
        token = os.environ.get(SERVING_TOKEN_ENV) or credentials.resolve(url, environ={})
    if not token:
        raise CliError(
            f"no admin token for the serving at {url}: --serving-token-file or {SERVING_TOKEN_ENV}"
        )
    try:
        resp = httpx.request(
            method, url + path, headers={"authorization": f"Bearer {token}"}, timeout=args.timeout, **kwargs
        )
    except httpx.HTTPError as exc:
        raise CliError(f"serving at {url} unreachable: {exc}") from None
    if resp.status_code >= 400:
        try:
            message = resp.json()["error"]["message"]
        except Exception:
            message = resp.text[:300]
        raise CliError(f"serving at {url}: {resp.status_code} {message}")
    return resp.json()


# Components a trained model's ``data`` may have passed through on its way from the reader:
# rows only (no column changes), or the fitted pipeline that serving applies as the batch
# predicts do (deploy-body field of each).
ROWS_ONLY = {"reader", "psi", "data_split"}
PIPELINE_STEPS = {"feature_scale": "scale", "feature_selection": "selection"}


def pipeline_tasks(job: dict[str, Any], task: str) -> dict[str, str]:
    """{"scale"/"selection": task} of the fitted pipeline the task's training rows went through.

    Refused when a step serving cannot apply online transformed them, or when the steps are not
    in the order the batch predicts apply them (scale, then selection), at most one of each."""
    dag = {str(c["name"]): c for c in job.get("dag", [])}
    found: dict[str, str] = {}
    ref = dag.get(task, {}).get("inputs", {}).get("data")
    while ref:
        up = str(ref).split(".")[0]
        node = dag.get(up)
        if node is None:
            break
        component = str(node["component"])
        step = PIPELINE_STEPS.get(component)
        if step is None and component not in ROWS_ONLY:
            raise CliError(
                f"the training rows of {task} passed through {up} ({component}), which serving cannot "
                f"apply online (it applies feature_scale then feature_selection, as the batch predicts do)"
            )
        if step is not None:
            if step in found or (step == "selection" and "scale" in found):
                raise CliError(
                    f"the training rows of {task} went through {component} out of the order serving "
                    "applies (one feature_scale, then one feature_selection)"
                )
            found[step] = up
        ref = node.get("inputs", {}).get("data")
    return found


def deploy_body(
    flow: Any, job_id: str, task: str, *, name: str, feature_table: str, activate: bool
) -> dict[str, Any]:
    """What the serving's ``POST /v1/models`` takes, from this party's flow."""
    job = flow.job(job_id)
    me = int(job["party_id"])
    mine = [t for t in job["tasks"] if t["name"] == task and int(t["party_id"]) == me]
    if not mine:
        raise CliError(f"job {job_id} has no task {task!r} at party {me}")
    t = mine[0]
    parties: dict[str, list[int]] = {}
    for p in job["parties"]:
        parties.setdefault(str(p["role"]), []).append(int(p["party_id"]))
    if t["state"] != "SUCCEEDED":
        raise CliError(f"task {task} of job {job_id} is {t['state']} at party {me}: deploy a SUCCEEDED task")
    body = {
        "name": name,
        "job_id": job_id,
        "task": task,
        "component": t["component"],
        "role": t["role"],
        "parties": parties,
        "model": base64.b64encode(flow.model_bytes(job_id, task)).decode(),
        "feature_table": feature_table,
        "activate": activate,
    }
    for step, up in pipeline_tasks(job, task).items():
        body[step] = base64.b64encode(flow.model_bytes(job_id, up)).decode()
    return body


def _deploy(args: argparse.Namespace) -> int:
    try:
        body = deploy_body(
            client(args), args.job_id, args.task, name=args.name, feature_table=args.feature_table,
            activate=not args.no_activate,
        )  # fmt: skip
    except SilobridgeError as exc:
        raise CliError(str(exc)) from None
    out = _serving_call(args, "POST", "/v1/models", json=body)
    state = "active" if out.get("active") else "deployed (not active)"
    emit(
        args,
        out,
        lambda: print(
            f"{out['name']} version {out['version']} ({out['job_id']}/{out['task']}, {out['role']}): {state}"
        ),
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    out = _serving_call(args, "GET", "/v1/models")

    def text() -> None:
        for m in out["models"]:
            mark = "*" if m["active"] else " "
            print(
                f"{mark} {m['name']:<16} v{m['version']:<4} {m['job_id']}/{m['task']:<16} {m['component']:<12} {m['role']}"
            )

    emit(args, out, text)
    return 0


def _activate(args: argparse.Namespace) -> int:
    out = _serving_call(args, "POST", f"/v1/models/{args.name}/activate", json={"version": args.version})
    emit(args, out, lambda: print(f"{out['name']} version {out['version']} active"))
    return 0


def _rollback(args: argparse.Namespace) -> int:
    body = {} if args.version is None else {"version": args.version}
    out = _serving_call(args, "POST", f"/v1/models/{args.name}/rollback", json=body)
    emit(args, out, lambda: print(f"{out['name']} rolled back to version {out['version']}"))
    return 0


def _serving_options(p: argparse.ArgumentParser) -> None:
    add_flow_option(p)
    p.add_argument(
        "--serving", default=None, help=f"serving URL (env {SERVING_URL_ENV}, default {DEFAULT_SERVING_URL})"
    )
    p.add_argument(
        "--serving-token-file",
        type=Path,
        default=None,
        help=f"serving admin token file (env {SERVING_TOKEN_ENV})",
    )
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("model", help="deploy trained models to this party's serving service, swap, roll back")
    msub = p.add_subparsers(dest="model_command", required=True)
    d = msub.add_parser("deploy", help="publish this party's model of JOB's TASK as a new version")
    d.add_argument("job_id")
    d.add_argument("task")
    d.add_argument("--name", default="default", help="the serving name (default: default)")
    d.add_argument("--feature-table", default="", help="a host's online feature table, namespace.name")
    d.add_argument("--no-activate", action="store_true", help="keep the active version; activate later")
    _serving_options(d)
    d.set_defaults(func=run_cli(_deploy))
    ls = msub.add_parser("list", help="deployed versions (* = active)")
    _serving_options(ls)
    ls.set_defaults(func=run_cli(_list))
    a = msub.add_parser("activate", help="swap NAME to VERSION")
    a.add_argument("name")
    a.add_argument("version", type=int)
    _serving_options(a)
    a.set_defaults(func=run_cli(_activate))
    r = msub.add_parser("rollback", help="make the version before the active one (or --version) active again")
    r.add_argument("name")
    r.add_argument("--version", type=int, default=None)
    _serving_options(r)
    r.set_defaults(func=run_cli(_rollback))

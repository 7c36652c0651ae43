"""``silobridge job submit|wait|status|stop|list|pending|approve|refuse``: the flow REST API from the command line.

The flow URL comes from ``--flow``, else ``SILOBRIDGE_FLOW_URL``, else http://127.0.0.1:9380; the
API token from ``--token``/``--token-file``, else ``SILOBRIDGE_TOKEN``/``SILOBRIDGE_TOKEN_FILE``
(see :mod:`silobridge.client.credentials`). Every API command prints JSON under ``--output json``.
Errors print the API's message and exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from silobridge.client import flow_api
from silobridge.client.progress import JobProgress
from silobridge.errors import SilobridgeError

FINAL_STATES = flow_api.FINAL_STATES
OUTPUTS = ("text", "json")


class CliError(Exception):
    """A problem to print as ``error: ...`` with exit status 1."""


def flow_url(args: argparse.Namespace) -> str:
    return flow_api.flow_url(args.flow)


def add_flow_option(parser: argparse.ArgumentParser) -> None:
    """``--flow``, the credential options and ``--output`` that every API command takes."""
    parser.add_argument(
        "--flow",
        default=None,
        help=f"flow URL (env {flow_api.URL_ENV}, default {flow_api.DEFAULT_FLOW_URL})",
    )
    parser.add_argument("--token", default=None, help="API token (env SILOBRIDGE_TOKEN)")
    parser.add_argument(
        "--token-file", type=Path, default=None, help="file holding the API token (env SILOBRIDGE_TOKEN_FILE)"
    )
    parser.add_argument(
        "-o", "--output", choices=OUTPUTS, default="text", help="text for people (default) or json"
    )


def client(args: argparse.Namespace) -> flow_api.FlowClient:
    return flow_api.FlowClient(
        args.flow,
        token=getattr(args, "token", None),
        token_file=getattr(args, "token_file", None),
        timeout_s=getattr(args, "timeout", 60.0),
    )


def call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    """One API request; the API's error message becomes a :class:`CliError`."""
    try:
        return client(args).request(method, path, **kwargs)
    except SilobridgeError as exc:
        raise CliError(str(exc)) from None


def json_output(args: argparse.Namespace) -> bool:
    return getattr(args, "output", "text") == "json" or bool(getattr(args, "json", False))


def emit(args: argparse.Namespace, data: Any, text: Callable[[], None]) -> None:
    """Print ``data`` as JSON under ``--output json``, else run ``text`` (the human form)."""
    if json_output(args):
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        text()


def run_cli(func: Any) -> Any:
    """Wrap a sub-command so that a :class:`CliError` prints and returns 1."""

    def wrapper(args: argparse.Namespace) -> int:
        try:
            return int(func(args) or 0)
        except CliError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    return wrapper


def _submit(args: argparse.Namespace) -> int:
    try:
        text = Path(args.file).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    job = call(args, "POST", "/v1/jobs", content=text, headers={"content-type": "application/yaml"})
    if not args.wait:
        emit(args, job, lambda: print(job["job_id"]))
        return 0
    if not json_output(args):
        print(job["job_id"], flush=True)
    return _wait_for(args, job["job_id"])


def _wait(args: argparse.Namespace) -> int:
    return _wait_for(args, args.job_id)


def _wait_for(args: argparse.Namespace, job_id: str) -> int:
    """Follow a job to its end with a progress bar on a terminal's stderr; 0 when it SUCCEEDED."""
    progress = JobProgress(enabled=False if args.quiet else None)
    try:
        detail = client(args).wait_job(
            job_id, timeout_s=args.wait_timeout, poll_s=args.poll, on_update=progress
        )
    except SilobridgeError as exc:
        raise CliError(str(exc)) from None
    finally:
        progress.close()
    emit(args, detail, lambda: _print_detail(detail))
    return 0 if detail["state"] == "SUCCEEDED" else 1


def _print_detail(job: dict[str, Any]) -> None:
    print(f"job {job['job_id']}: {job['state']}" + (f" - {job['message']}" if job.get("message") else ""))
    for t in job.get("tasks", []):
        summary = " ".join(f"{k}={v:g}" for k, v in sorted(t.get("summary", {}).items()))
        line = f"  {t['name']:<20} {t['role']:<8} {t['party_id']:<8} {t['state']:<10} {summary}"
        if t.get("message") and t["state"] != "SUCCEEDED":
            line += f"  ({t['message']})"
        print(line.rstrip())


def _status(args: argparse.Namespace) -> int:
    job = call(args, "GET", f"/v1/jobs/{args.job_id}")
    emit(args, job, lambda: _print_detail(job))
    return 0


def _print_state(job: dict[str, Any]) -> None:
    print(f"job {job['job_id']}: {job['state']}" + (f" - {job['message']}" if job.get("message") else ""))


def _stop(args: argparse.Namespace) -> int:
    job = call(args, "POST", f"/v1/jobs/{args.job_id}/stop")
    emit(args, job, lambda: _print_state(job))
    return 0


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _list(args: argparse.Namespace) -> int:
    jobs = call(args, "GET", "/v1/jobs", params={"limit": args.limit})["jobs"]

    def text() -> None:
        for j in jobs:
            print(
                f"{j['job_id']:<28} {j['state']:<10} {j['role']:<8} {_when(j['created'])}  {j['message']}".rstrip()
            )

    emit(args, jobs, text)
    return 0


def _pending(args: argparse.Namespace) -> int:
    pending = call(args, "GET", "/v1/approvals")["pending"]

    def text() -> None:
        for j in pending:
            print(
                f"{j['job_id']:<28} from party {j['initiator']:<8} {j['role']:<8} {_when(j['created'])}  {j['reason']}".rstrip()
            )

    emit(args, pending, text)
    return 0


def _approve(args: argparse.Namespace) -> int:
    job = call(args, "POST", f"/v1/jobs/{args.job_id}/approve")
    emit(args, job, lambda: _print_state(job))
    return 0


def _refuse(args: argparse.Namespace) -> int:
    job = call(args, "POST", f"/v1/jobs/{args.job_id}/refuse", json={"reason": args.reason})
    emit(args, job, lambda: _print_state(job))
    return 0


def _add_wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--wait-timeout", type=float, default=7 * 24 * 3600.0, help="seconds to wait before giving up"
    )
    parser.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)


def register(subparsers: Any) -> None:
    job = subparsers.add_parser("job", help="submit and follow federated jobs")
    sub = job.add_subparsers(dest="job_command", required=True)

    submit = sub.add_parser("submit", help="submit a job YAML; prints the job id")
    submit.add_argument("-f", "--file", required=True, help="job YAML (see docs/jobs.md)")
    submit.add_argument(
        "--wait", action="store_true", help="follow the job (progress bar) and print task summaries"
    )
    _add_wait_options(submit)
    add_flow_option(submit)
    submit.set_defaults(func=run_cli(_submit))

    wait = sub.add_parser("wait", help="follow a job to its end (progress bar); exit 0 if it SUCCEEDED")
    wait.add_argument("job_id")
    _add_wait_options(wait)
    add_flow_option(wait)
    wait.set_defaults(func=run_cli(_wait))

    status = sub.add_parser("status", help="state of a job and of every party's tasks")
    status.add_argument("job_id")
    status.add_argument("--json", action="store_true", help="same as --output json")
    add_flow_option(status)
    status.set_defaults(func=run_cli(_status))

    stop = sub.add_parser("stop", help="stop a job (everywhere, at the initiator)")
    stop.add_argument("job_id")
    add_flow_option(stop)
    stop.set_defaults(func=run_cli(_stop))

    lst = sub.add_parser("list", help="jobs at this party, newest first")
    lst.add_argument("--limit", type=int, default=50)
    add_flow_option(lst)
    lst.set_defaults(func=run_cli(_list))

    pending = sub.add_parser("pending", help="other parties' proposals held here for approval")
    add_flow_option(pending)
    pending.set_defaults(func=run_cli(_pending))

    approve = sub.add_parser("approve", help="accept a held proposal")
    approve.add_argument("job_id")
    add_flow_option(approve)
    approve.set_defaults(func=run_cli(_approve))

    refuse = sub.add_parser("refuse", help="refuse a held proposal (the job ends REFUSED everywhere)")
    refuse.add_argument("job_id")
    refuse.add_argument("--reason", default="", help="told to the initiator")
    add_flow_option(refuse)
    refuse.set_defaults(func=run_cli(_refuse))

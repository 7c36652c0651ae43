"""``silobridge job submit|status|stop|list|pending|approve|refuse``: the flow REST API from the command line.

The flow URL comes from ``--flow``, else ``SILOBRIDGE_FLOW_URL``, else http://127.0.0.1:9380; the
API token from ``--token``/``--token-file``, else ``SILOBRIDGE_TOKEN``/``SILOBRIDGE_TOKEN_FILE``
(see :mod:`silobridge_cli.credentials`). Errors print the API's message and exit 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from silobridge.errors import SilobridgeError
from silobridge_cli import credentials

DEFAULT_FLOW_URL = "http://127.0.0.1:9380"
FINAL_STATES = ("SUCCEEDED", "FAILED", "STOPPED", "REFUSED")


class CliError(Exception):
    """A problem to print as ``error: ...`` with exit status 1."""


def flow_url(args: argparse.Namespace) -> str:
    return str(args.flow or os.environ.get("SILOBRIDGE_FLOW_URL") or DEFAULT_FLOW_URL).rstrip("/")


def add_flow_option(parser: argparse.ArgumentParser) -> None:
    """``--flow`` and the credential options every API command takes."""
    parser.add_argument(
        "--flow", default=None, help=f"flow URL (env SILOBRIDGE_FLOW_URL, default {DEFAULT_FLOW_URL})"
    )
    parser.add_argument("--token", default=None, help="API token (env SILOBRIDGE_TOKEN)")
    parser.add_argument(
        "--token-file", type=Path, default=None, help="file holding the API token (env SILOBRIDGE_TOKEN_FILE)"
    )


def token_headers(args: argparse.Namespace) -> dict[str, str]:
    try:
        secret = credentials.resolve(
            flow_url(args), token=getattr(args, "token", None), token_file=getattr(args, "token_file", None)
        )
    except SilobridgeError as exc:
        raise CliError(str(exc)) from None
    return {"Authorization": f"Bearer {secret}"} if secret else {}


def call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    """One API request; the API's error message becomes a :class:`CliError`."""
    url = flow_url(args)
    kwargs["headers"] = {**token_headers(args), **kwargs.get("headers", {})}
    try:
        with httpx.Client(base_url=url, timeout=getattr(args, "timeout", 60.0)) as client:
            response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach flow at {url}: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            raise CliError(str(body["error"].get("message", response.reason_phrase)))
        raise CliError(f"flow answered {response.status_code} {response.reason_phrase}")
    return body


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
    print(job["job_id"])
    if not args.wait:
        return 0
    while True:
        detail = call(args, "GET", f"/v1/jobs/{job['job_id']}")
        if detail["state"] in FINAL_STATES:
            break
        time.sleep(args.poll)
    _print_detail(detail)
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
    if args.json:
        print(json.dumps(job, indent=2))
    else:
        _print_detail(job)
    return 0


def _stop(args: argparse.Namespace) -> int:
    job = call(args, "POST", f"/v1/jobs/{args.job_id}/stop")
    print(f"job {job['job_id']}: {job['state']}")
    return 0


def _list(args: argparse.Namespace) -> int:
    for j in call(args, "GET", "/v1/jobs", params={"limit": args.limit})["jobs"]:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(j["created"]))
        print(f"{j['job_id']:<28} {j['state']:<10} {j['role']:<8} {created}  {j['message']}".rstrip())
    return 0


def _pending(args: argparse.Namespace) -> int:
    for j in call(args, "GET", "/v1/approvals")["pending"]:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(j["created"]))
        print(
            f"{j['job_id']:<28} from party {j['initiator']:<8} {j['role']:<8} {created}  {j['reason']}".rstrip()
        )
    return 0


def _approve(args: argparse.Namespace) -> int:
    job = call(args, "POST", f"/v1/jobs/{args.job_id}/approve")
    print(f"job {job['job_id']}: {job['state']}")
    return 0


def _refuse(args: argparse.Namespace) -> int:
    job = call(args, "POST", f"/v1/jobs/{args.job_id}/refuse", json={"reason": args.reason})
    print(f"job {job['job_id']}: {job['state']} - {job['message']}")
    return 0


def register(subparsers: Any) -> None:
    job = subparsers.add_parser("job", help="submit and follow federated jobs")
    sub = job.add_subparsers(dest="job_command", required=True)

    submit = sub.add_parser("submit", help="submit a job YAML; prints the job id")
    submit.add_argument("-f", "--file", required=True, help="job YAML (see docs/jobs.md)")
    submit.add_argument(
        "--wait", action="store_true", help="poll until the job ends and print task summaries"
    )
    submit.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)
    add_flow_option(submit)
    submit.set_defaults(func=run_cli(_submit))

    status = sub.add_parser("status", help="state of a job and of every party's tasks")
    status.add_argument("job_id")
    status.add_argument("--json", action="store_true", help="print the API's JSON")
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

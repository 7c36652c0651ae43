"""``silobridge token create|list|revoke`` and ``silobridge policy show|set|audit`` (admin token)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from silobridge_cli.job import CliError, add_flow_option, call, emit, run_cli

ROLES = ("admin", "operator", "data-owner", "viewer")


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


def _token_create(args: argparse.Namespace) -> int:
    out = call(args, "POST", "/v1/tokens", json={"name": args.name, "role": args.role})
    emit(
        args, out, lambda: print(out["token"])
    )  # the only time the secret is shown: stdout alone, for `> file` or a secret store
    return 0


def _token_list(args: argparse.Namespace) -> int:
    tokens = call(args, "GET", "/v1/tokens")["tokens"]

    def text() -> None:
        for t in tokens:
            state = f"revoked {_when(t['revoked'])}" if t["revoked"] else "active"
            print(f"{t['token_id']:<18} {t['name']:<24} {t['role']:<11} {_when(t['created'])}  {state}")

    emit(args, tokens, text)
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    t = call(args, "DELETE", f"/v1/tokens/{args.token}")
    emit(args, t, lambda: print(f"revoked {t['token_id']} ({t['name']}, {t['role']})"))
    return 0


def _policy_show(args: argparse.Namespace) -> int:
    out = call(args, "GET", "/v1/policy")
    if args.output == "json":
        emit(args, out, lambda: None)
        return 0
    if args.json or not out["text"]:
        print(json.dumps(out["policy"], indent=2))
    else:
        print(out["text"].rstrip())
    print(f"# source: {out['source']}")
    return 0


def _policy_set(args: argparse.Namespace) -> int:
    try:
        text = Path(args.file).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    out = call(args, "PUT", "/v1/policy", content=text, headers={"content-type": "application/yaml"})
    emit(
        args,
        out,
        lambda: print(
            f"policy set: default {out['policy']['default']}, {len(out['policy']['peers'])} peer rule(s)"
        ),
    )
    return 0


def _policy_audit(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"limit": args.limit}
    if args.job_id:
        params["job_id"] = args.job_id
    audit = call(args, "GET", "/v1/audit", params=params)["audit"]

    def text() -> None:
        for a in audit:
            peer = f"peer {a['peer']}" if a["peer"] else ""
            print(
                f"{_when(a['time'])}  {a['action']:<13} {a['actor']:<18} {a['job_id']:<24} {peer:<11} {a['reason']}".rstrip()
            )

    emit(args, audit, text)
    return 0


def register(subparsers: Any) -> None:
    token = subparsers.add_parser("token", help="API tokens of this party's flow (admin)")
    tsub = token.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create", help="create a token; prints the secret once")
    create.add_argument("--name", required=True, help="who or what uses it")
    create.add_argument("--role", required=True, choices=ROLES)
    add_flow_option(create)
    create.set_defaults(func=run_cli(_token_create))
    lst = tsub.add_parser("list", help="tokens (never their secrets)")
    add_flow_option(lst)
    lst.set_defaults(func=run_cli(_token_list))
    revoke = tsub.add_parser("revoke", help="revoke a token by id or name")
    revoke.add_argument("token", help="token id (tok_...) or name")
    add_flow_option(revoke)
    revoke.set_defaults(func=run_cli(_token_revoke))

    policy = subparsers.add_parser("policy", help="which peer proposals may run here")
    psub = policy.add_subparsers(dest="policy_command", required=True)
    show = psub.add_parser("show", help="the current policy")
    show.add_argument("--json", action="store_true", help="the parsed policy as JSON")
    add_flow_option(show)
    show.set_defaults(func=run_cli(_policy_show))
    put = psub.add_parser("set", help="replace the policy (admin)")
    put.add_argument("-f", "--file", required=True, help="policy YAML (see docs/jobs.md)")
    add_flow_option(put)
    put.set_defaults(func=run_cli(_policy_set))
    audit = psub.add_parser("audit", help="decisions on proposals, token and policy changes (admin)")
    audit.add_argument("--job-id", default="")
    audit.add_argument("--limit", type=int, default=50)
    add_flow_option(audit)
    audit.set_defaults(func=run_cli(_policy_audit))

"""``silobridge pki``: the CA and the router certificates of each party (mutual TLS between routers)."""

from __future__ import annotations

import argparse
from pathlib import Path

from silobridge import pki


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("pki", help="certificates for the routers' mutual TLS")
    sub = parser.add_subparsers(dest="pki_command", required=True)

    init = sub.add_parser("init", help="create the CA (ca.crt, ca.key)")
    init.add_argument("--dir", type=Path, required=True, help="directory of the CA and certificates")
    init.add_argument("--force", action="store_true", help="replace an existing CA")
    init.set_defaults(func=_init)

    issue = sub.add_parser("issue", help="issue a party router certificate signed by the CA")
    issue.add_argument("--dir", type=Path, required=True)
    issue.add_argument("--party", type=int, required=True, help="party id, e.g. 9999")
    issue.add_argument(
        "--host",
        action="append",
        default=None,
        help="DNS name or IP the router is reached at (repeatable; default localhost, 127.0.0.1)",
    )
    issue.set_defaults(func=_issue)

    demo = sub.add_parser("demo", help="CA plus one certificate per party, for a local demo")
    demo.add_argument("--dir", type=Path, required=True)
    demo.add_argument("--parties", type=int, nargs="+", required=True)
    demo.add_argument("--host", action="append", default=None)
    demo.add_argument("--force", action="store_true", help="replace an existing CA")
    demo.set_defaults(func=_demo)


def _hosts(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(args.host) if args.host else pki.DEFAULT_HOSTS


def _init(args: argparse.Namespace) -> int:
    files = pki.create_ca(args.dir, force=args.force)
    print(f"CA written: {files.cert} (key {files.key}, mode 0600)")
    return 0


def _issue(args: argparse.Namespace) -> int:
    files = pki.issue_party_cert(args.dir, args.party, _hosts(args))
    print(f"party {args.party}: {files.cert} (key {files.key}, mode 0600)")
    return 0


def _demo(args: argparse.Namespace) -> int:
    ca = pki.create_ca(args.dir, force=args.force)
    print(f"CA written: {ca.cert}")
    for party in args.parties:
        files = pki.issue_party_cert(args.dir, party, _hosts(args))
        print(f"party {party}: {files.cert}")
    return 0

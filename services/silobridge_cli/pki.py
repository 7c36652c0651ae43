"""``silobridge pki``: the CA, the router certificates of each party (mutual TLS between routers)
and the CA's revocation list."""

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

    revoke = sub.add_parser(
        "revoke", help="revoke a party's certificate: add it to the CA's revocation list (ca.crl)"
    )
    revoke.add_argument("--dir", type=Path, required=True, help="directory of the CA")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--party", type=int, help="revoke this party's current certificate")
    which.add_argument("--cert", type=Path, help="revoke this certificate file")
    revoke.set_defaults(func=_revoke)

    crl = sub.add_parser("crl", help="re-sign the revocation list (ca.crl) with a fresh next-update time")
    crl.add_argument("--dir", type=Path, required=True, help="directory of the CA")
    crl.add_argument("--days", type=int, default=pki.CRL_DAYS, help="days until the next update")
    crl.set_defaults(func=_crl)

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


def _revoke(args: argparse.Namespace) -> int:
    path = pki.revoke(args.dir, party_id=args.party, cert_file=args.cert)
    what = f"party {args.party}'s certificate" if args.party is not None else str(args.cert)
    print(f"revoked {what}: {path} (copy it to every router's certificate directory; they reload it)")
    return 0


def _crl(args: argparse.Namespace) -> int:
    path = pki.issue_crl(args.dir, days=args.days)
    print(f"revocation list re-signed: {path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    ca = pki.create_ca(args.dir, force=args.force)
    print(f"CA written: {ca.cert}")
    for party in args.parties:
        files = pki.issue_party_cert(args.dir, party, _hosts(args))
        print(f"party {party}: {files.cert}")
    return 0

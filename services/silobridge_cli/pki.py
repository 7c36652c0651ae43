"""``silobridge pki``: the CA, the router certificates of each party (mutual TLS between routers)
and the CA's revocation list. ``csr`` runs at a party and ``sign`` at the CA: the party's key
never leaves the party."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from silobridge import pki
from silobridge.errors import NotFound


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
    _host_option(issue)
    issue.set_defaults(func=_issue)

    csr = sub.add_parser(
        "csr", help="at a party: make its own private key and a certificate request for the CA"
    )
    csr.add_argument("--dir", type=Path, required=True, help="the party's certificate directory")
    csr.add_argument("--party", type=int, required=True, help="this party's id, e.g. 9999")
    _host_option(csr)
    csr.add_argument("--force", action="store_true", help="replace an existing key in --dir")
    csr.set_defaults(func=_csr)

    sign = sub.add_parser("sign", help="at the CA: check a party's certificate request and sign it")
    sign.add_argument("--ca-dir", type=Path, required=True, help="directory of the CA")
    sign.add_argument("--csr", type=Path, required=True, help="the party's request (party-<id>.csr)")
    sign.add_argument("--party", type=int, required=True, help="the party id the request must name")
    sign.add_argument("--out", type=Path, required=True, help="where to write the signed certificate")
    _host_option(sign, "a DNS name or IP the certificate may name; a request for any other host is refused")
    sign.set_defaults(func=_sign)

    revoke = sub.add_parser(
        "revoke", help="revoke a party's certificate: add it to the CA's revocation list (ca.crl)"
    )
    revoke.add_argument("--dir", type=Path, required=True, help="directory of the CA")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--party", type=int, help="revoke the newest certificate the CA issued to this party")
    which.add_argument("--cert", type=Path, help="revoke this certificate file")
    which.add_argument("--serial", type=_hex_serial, help="revoke the certificate with this serial (hex)")
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


def _host_option(
    parser: argparse.ArgumentParser, what: str = "DNS name or IP the router is reached at"
) -> None:
    parser.add_argument(
        "--host", action="append", default=None, help=f"{what} (repeatable; default localhost, 127.0.0.1)"
    )


def _hex_serial(value: str) -> int:
    try:
        return int(value.removeprefix("0x"), 16)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a hexadecimal serial: {value!r}") from None


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


def _csr(args: argparse.Namespace) -> int:
    files = pki.make_csr(args.dir, args.party, _hosts(args), force=args.force)
    print(f"party {args.party}: key {files.key} (mode 0600, stays here), request {files.csr}")
    cert = files.key.with_suffix(".crt")
    print(f"send {files.csr} to the CA operator; put the certificate they return at {cert}")
    return 0


def _sign(args: argparse.Namespace) -> int:
    try:
        data = args.csr.read_bytes()
    except OSError as exc:
        raise NotFound(f"certificate request {args.csr}: cannot read ({exc.strerror})") from None
    pem = pki.sign_csr(args.ca_dir, data, party_id=args.party, hosts=_hosts(args))
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_bytes(pem)
    os.replace(tmp, args.out)
    serial = pki.peer_certificate(pem).serial
    print(f"party {args.party}: {args.out} (serial {serial:x})")
    print(f"send {args.out} and {pki.ca_files(args.ca_dir).cert} back to party {args.party}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    path = pki.revoke(args.dir, party_id=args.party, cert_file=args.cert, serial=args.serial)
    if args.party is not None:
        what = f"party {args.party}'s newest certificate"
    else:
        what = str(args.cert) if args.cert is not None else f"serial {args.serial:x}"
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

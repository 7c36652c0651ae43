"""``silobridge data upload|list``: put a CSV into this party's tables, list them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from silobridge_cli.job import CliError, add_flow_option, call, run_cli

CHUNK_BYTES = 1 << 20


def _chunks(path: Path, size: int, show: bool) -> Iterator[bytes]:
    """The file in 1 MiB chunks (never whole in memory), drawing a progress bar on stderr."""
    sent = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            sent += len(chunk)
            if show:
                done = sent / size if size else 1.0
                bar = "#" * int(30 * done)
                sys.stderr.write(f"\r  [{bar:<30}] {done:6.1%} {sent / 1e6:,.1f} of {size / 1e6:,.1f} MB")
                sys.stderr.flush()
            yield chunk
    if show:
        sys.stderr.write("\n")


def _upload(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        size = path.stat().st_size
        path.open("rb").close()
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    data = _chunks(path, size, show=not args.quiet)
    params = {
        "namespace": args.namespace,
        "name": args.name,
        "id_column": args.id_column,
        "label_column": args.label_column,
        "partitions": args.partitions,
    }
    headers = {"content-type": "text/csv", "content-length": str(size)}
    out = call(args, "POST", "/v1/data/upload", params=params, content=data, headers=headers)
    table = out["table"]
    print(f"stored {table['namespace']}.{table['name']}: {table['rows']} rows on node {out['node_id']}")
    return 0


def _list(args: argparse.Namespace) -> int:
    for t in call(args, "GET", "/v1/tables", params={"namespace": args.namespace})["tables"]:
        print(
            f"{t['namespace']}.{t['name']:<30} rows={t['rows']} id={t['id_column']} label={t['label_column'] or '-'}"
        )
    return 0


def register(subparsers: Any) -> None:
    data = subparsers.add_parser("data", help="upload and list this party's tables")
    sub = data.add_subparsers(dest="data_command", required=True)

    upload = sub.add_parser("upload", help="upload a CSV as a table of this party")
    upload.add_argument("--file", required=True, help="CSV with a header row")
    upload.add_argument("--namespace", required=True)
    upload.add_argument("--name", required=True)
    upload.add_argument("--id-column", required=True)
    upload.add_argument("--label-column", default="")
    upload.add_argument("--partitions", type=int, default=4)
    upload.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the upload")
    upload.add_argument("--quiet", action="store_true", help="no progress bar")
    add_flow_option(upload)
    upload.set_defaults(func=run_cli(_upload))

    lst = sub.add_parser("list", help="tables of this party")
    lst.add_argument("--namespace", default="")
    add_flow_option(lst)
    lst.set_defaults(func=run_cli(_list))

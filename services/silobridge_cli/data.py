"""``silobridge data upload|list``: put a CSV into this party's tables, list them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from silobridge_cli.job import CliError, add_flow_option, call, run_cli


def _upload(args: argparse.Namespace) -> int:
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    params = {
        "namespace": args.namespace,
        "name": args.name,
        "id_column": args.id_column,
        "label_column": args.label_column,
        "partitions": args.partitions,
    }
    out = call(
        args, "POST", "/v1/data/upload", params=params, content=data, headers={"content-type": "text/csv"}
    )
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
    add_flow_option(upload)
    upload.set_defaults(func=run_cli(_upload))

    lst = sub.add_parser("list", help="tables of this party")
    lst.add_argument("--namespace", default="")
    add_flow_option(lst)
    lst.set_defaults(func=run_cli(_list))

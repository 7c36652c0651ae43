"""``silobridge data upload|list|example``: put a CSV into this party's tables, list them, or
write the demo's two CSVs to try it with."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from silobridge.errors import Conflict
from silobridge_cli import demo_data
from silobridge_cli.demo import load_config
from silobridge_cli.job import CliError, add_flow_option, call, emit, run_cli

CHUNK_BYTES = 1 << 20
EXAMPLE_DATASETS = ("breast_cancer", "synthetic")
# The tables deploy/examples/jobs/hetero_lr.yaml reads: (file, table, label column, the party of
# deploy/examples/local-3-party that holds it, its flow's port).
EXAMPLE_FILES = (
    ("guest.csv", "breast_guest", "y", 9999, 19380),
    ("host.csv", "breast_host", "", 10000, 19480),
)
LOCAL_EXAMPLE = "deploy/examples/local-3-party"


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
    emit(
        args,
        out,
        lambda: print(
            f"stored {table['namespace']}.{table['name']}: {table['rows']} rows on node {out['node_id']}"
        ),
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    tables = call(args, "GET", "/v1/tables", params={"namespace": args.namespace})["tables"]

    def text() -> None:
        for t in tables:
            print(
                f"{t['namespace']}.{t['name']:<30} rows={t['rows']} id={t['id_column']} label={t['label_column'] or '-'}"
            )

    emit(args, tables, text)
    return 0


def example_split(dataset: str) -> demo_data.VerticalSplit:
    """The split ``make demo`` (``silobridge demo --config <dataset>``) uploads, row for row."""
    config = load_config(dataset)
    x, y = demo_data.load(
        config["dataset"], rows=int(config.get("rows", 20000)), features=int(config.get("features", 40))
    )
    return demo_data.split(
        x, y, int(config["guest_features"]), private_fraction=float(config.get("private_fraction", 0.1))
    )


def _example(args: argparse.Namespace) -> int:
    out = Path(args.out)
    paths = [out / name for name, *_ in EXAMPLE_FILES]
    existing = [str(p) for p in paths if p.exists()]
    if existing and not args.force:
        verb = "exists" if len(existing) == 1 else "exist"
        raise Conflict(f"{' and '.join(existing)} already {verb}: pass --force to overwrite")
    split = example_split(args.dataset)
    out.mkdir(parents=True, exist_ok=True)
    for path, content in zip(paths, (split.guest_csv, split.host_csv), strict=True):
        path.write_bytes(content)
    print(
        f"wrote {paths[0]}: {len(split.x_guest)} rows: id, label y, {split.guest_features} features (guest)"
    )
    print(f"wrote {paths[1]}: {len(split.x_host)} rows: id, {split.host_features} features (host)")
    print(
        f"{len(split.common_ids)} ids are in both. The tables deploy/examples/jobs/hetero_lr.yaml reads, "
        "at the guest and the host of deploy/examples/local-3-party:"
    )
    for path, (_, table, label, party, port) in zip(paths, EXAMPLE_FILES, strict=True):
        label_opt = f" --label-column {label}" if label else ""
        token = f"{LOCAL_EXAMPLE}/.silobridge/party-{party}/flow/admin.token"
        print(
            f"  silobridge data upload --flow http://127.0.0.1:{port} --token-file {token} \\\n"
            f"      --file {path} --namespace demo --name {table} --id-column id{label_opt}"
        )
    return 0


def register(subparsers: Any) -> None:
    data = subparsers.add_parser("data", help="upload and list this party's tables, or write example CSVs")
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

    example = sub.add_parser(
        "example", help="write the demo's guest and host CSVs (as make demo splits them) to upload by hand"
    )
    example.add_argument("--out", required=True, help="directory for guest.csv and host.csv")
    example.add_argument("--dataset", choices=EXAMPLE_DATASETS, default="breast_cancer")
    example.add_argument("--force", action="store_true", help="overwrite existing files")
    example.set_defaults(func=run_cli(_example))

    lst = sub.add_parser("list", help="tables of this party")
    lst.add_argument("--namespace", default="")
    add_flow_option(lst)
    lst.set_defaults(func=run_cli(_list))

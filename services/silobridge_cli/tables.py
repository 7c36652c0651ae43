"""``silobridge table bind|list|describe``: tables that stay where they live, and the catalog.

A bound table is read from its source at run time; only its metadata (schema, rows, partitions,
source and fingerprint) is kept by the party. A password is given as a reference the
node-manager resolves (``--secret env:NAME`` or ``--secret file:/path``), never on the command line.
"""

from __future__ import annotations

import argparse
from typing import Any

from silobridge_cli.job import CliError, add_flow_option, call, emit, run_cli

KINDS = ("parquet", "csv", "postgresql", "mysql")


def _bind(args: argparse.Namespace) -> int:
    if args.secret and not args.secret.startswith(("env:", "file:")):
        raise CliError("--secret takes a reference (env:NAME or file:/path), never the password itself")
    body = {
        "namespace": args.namespace,
        "name": args.name,
        "kind": args.kind,
        "location": args.location,
        "query": args.query,
        "secret_ref": args.secret,
        "id_column": args.id_column,
        "label_column": args.label_column,
        "replace": args.replace,
    }
    out = call(args, "POST", "/v1/tables/bind", json=body)
    t = out["table"]
    emit(
        args,
        t,
        lambda: print(
            f"bound {t['namespace']}.{t['name']} to {t['source']['kind']} {t['source']['location']}: "
            f"{t['rows']} rows, {len(t['columns'])} columns, version {t['source_version']}"
        ),
    )
    return 0


def _source(t: dict[str, Any]) -> str:
    src = t.get("source") or {}
    if not src.get("kind"):
        return "stored"  # uploaded, or a job's output
    query = f" ({src['query']})" if src.get("query") else ""
    return f"{src['kind']} {src['location']}{query}"


def _list(args: argparse.Namespace) -> int:
    tables = call(args, "GET", "/v1/tables", params={"namespace": args.namespace})["tables"]
    emit(args, tables, lambda: _print_tables(tables))
    return 0


def _print_tables(tables: list[dict[str, Any]]) -> None:
    print(f"{'TABLE':<32} {'ROWS':>10} {'COLS':>5}  {'ID':<12} {'LABEL':<10} SOURCE")
    for t in tables:
        name = f"{t['namespace']}.{t['name']}"
        print(
            f"{name:<32} {t['rows']:>10} {len(t['columns']):>5}  {t['id_column']:<12} "
            f"{t['label_column'] or '-':<10} {_source(t)}"
        )


def _describe(args: argparse.Namespace) -> int:
    namespace, _, name = args.table.partition(".")
    if not name:
        raise CliError(f"table {args.table!r}: expected namespace.name")
    t = call(args, "GET", f"/v1/tables/{namespace}/{name}")["table"]
    emit(args, t, lambda: _print_table(t))
    return 0


def _print_table(t: dict[str, Any]) -> None:
    print(f"table    {t['namespace']}.{t['name']}")
    print(f"source   {_source(t)}")
    if t.get("source_version"):
        print(f"version  {t['source_version']}")
    if (t.get("source") or {}).get("secret_ref"):
        print(f"secret   {t['source']['secret_ref']} (resolved by the node-manager)")
    print(f"rows     {t['rows']} in {len(t['partitions'])} partitions")
    print("columns")
    for c in t["columns"]:
        role = (
            " (id)" if c["name"] == t["id_column"] else " (label)" if c["name"] == t["label_column"] else ""
        )
        print(f"  {c['name']:<30} {c['dtype']}{role}")


def register(subparsers: Any) -> None:
    table = subparsers.add_parser("table", help="bind tables where they live; list and describe tables")
    sub = table.add_subparsers(dest="table_command", required=True)

    bind = sub.add_parser("bind", help="register a table in a database or in files without copying it")
    bind.add_argument("--namespace", required=True)
    bind.add_argument("--name", required=True)
    bind.add_argument("--kind", required=True, choices=KINDS)
    bind.add_argument(
        "--location", required=True, help="a file or directory path, or a database URL without password"
    )
    bind.add_argument("--query", default="", help="SQL sources: a table name or one SELECT query")
    bind.add_argument("--secret", default="", help="the database password as env:NAME or file:/path")
    bind.add_argument("--id-column", required=True)
    bind.add_argument("--label-column", default="")
    bind.add_argument("--replace", action="store_true", help="rebind an existing bound table")
    bind.add_argument("--timeout", type=float, default=600.0, help="seconds to wait (the source is probed)")
    add_flow_option(bind)
    bind.set_defaults(func=run_cli(_bind))

    lst = sub.add_parser("list", help="tables of this party: rows, columns, source")
    lst.add_argument("--namespace", default="")
    add_flow_option(lst)
    lst.set_defaults(func=run_cli(_list))

    describe = sub.add_parser("describe", help="one table's schema, rows, partitions, source and version")
    describe.add_argument("table", help="namespace.name")
    add_flow_option(describe)
    describe.set_defaults(func=run_cli(_describe))

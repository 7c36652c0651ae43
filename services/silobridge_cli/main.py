"""Entry point of ``silobridge``. Each sub-command lives in its own module with ``register``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from silobridge.errors import SilobridgeError

# module -> registers one or more sub-commands; a module not yet present is skipped
SUBCOMMAND_MODULES = (
    "silobridge_cli.pki",
    "silobridge_cli.job",
    "silobridge_cli.data",
    "silobridge_cli.tables",
    "silobridge_cli.access",
    "silobridge_cli.party",
    "silobridge_cli.demo",
    "silobridge_cli.cluster",
    "silobridge_cli.peer",
    "silobridge_cli.model",
    "silobridge_cli.completion",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="silobridge", description="silobridge federated learning")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SilobridgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

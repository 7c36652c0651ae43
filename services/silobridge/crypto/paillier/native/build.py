"""``python -m silobridge.crypto.paillier.native.build`` (``make native``): compile the kernel.

Optional by design: without a C compiler, GMP's headers or a working link, this prints one line
saying so and exits 0, and the engine runs in pure Python with the same results.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "montgomery.c"
TARGET = HERE / "_montgomery.so"
FLAGS = ["-O2", "-shared", "-fPIC", "-std=c11", "-Wall", "-Wextra", "-Werror"]


def compiler() -> list[str]:
    cc = sysconfig.get_config_var("CC") or "cc"
    return shlex.split(str(cc))


def build(cc: list[str] | None = None, target: Path = TARGET) -> str | None:
    """Compile ``montgomery.c`` into ``target``; returns why not, or None when built."""
    cmd = cc if cc is not None else compiler()
    if not cmd or shutil.which(cmd[0]) is None:
        return f"no C compiler ({cmd[0] if cmd else 'none'})"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / target.name
        try:
            proc = subprocess.run(
                [*cmd, *FLAGS, "-o", str(out), str(SOURCE), "-lgmp"],
                capture_output=True,
                text=True,
                timeout=300,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"compiler failed to run: {exc}"
        if proc.returncode != 0:
            first = (proc.stderr.strip().splitlines() or ["no message"])[0]
            return f"compilation failed: {first}"
        out.replace(target)  # atomic: a running process keeps the file it loaded
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m silobridge.crypto.paillier.native.build")
    parser.add_argument(
        "--cc", default="", help="C compiler command (default: the one Python was built with)"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even when the library is up to date")
    args = parser.parse_args(argv)
    if (
        not args.force
        and not args.cc
        and TARGET.exists()
        and TARGET.stat().st_mtime >= SOURCE.stat().st_mtime
    ):
        print(f"native Paillier kernel up to date: {TARGET.name}")
        return 0
    why = build(shlex.split(args.cc) if args.cc else None)
    if why is None:
        print(f"native Paillier kernel built: {TARGET.name}")
    else:
        print(f"native Paillier kernel not built ({why}); the pure-Python engine is used", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

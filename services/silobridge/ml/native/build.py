"""``python -m silobridge.ml.native.build`` (``make native``): compile the X25519 kernel.

Optional by design: without a C compiler (or one that knows AVX-512 IFMA intrinsics), this prints
one line saying so and exits 0, and PSI blinds with ``cryptography``'s X25519, with the same bytes.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "x25519.c"
TARGET = HERE / "_x25519.so"
# -funroll-loops keeps a product's twenty partial sums in registers: 3x faster than -O2 here.
FLAGS = ["-O3", "-funroll-loops", "-shared", "-fPIC", "-std=c11", "-Wall", "-Wextra", "-Werror"]


def build(cc: list[str] | None = None, target: Path = TARGET) -> str | None:
    """Compile ``x25519.c`` into ``target``; returns why not, or None when built. The library is
    written beside ``target`` and renamed onto it, so a running process keeps the file it loaded."""
    cmd = cc or shlex.split(str(sysconfig.get_config_var("CC") or "cc"))
    if shutil.which(cmd[0]) is None:
        return f"no C compiler ({cmd[0]})"
    fd, partial = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    why = None
    try:
        subprocess.run(
            [*cmd, *FLAGS, "-o", partial, str(SOURCE)],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        os.replace(partial, target)
    except subprocess.CalledProcessError as exc:
        why = f"compilation failed: {(exc.stderr.strip().splitlines() or ['no message'])[0]}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        why = f"compiler failed to run: {exc}"
    Path(partial).unlink(missing_ok=True)
    return why


def main(argv: list[str] | None = None) -> int:
    """Exit 0 whatever happens: a missing kernel is a slower PSI, not a failed install."""
    parser = argparse.ArgumentParser(prog="python -m silobridge.ml.native.build")
    parser.add_argument("--cc", default="", help="C compiler command (default: Python's)")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    stale = not TARGET.exists() or TARGET.stat().st_mtime < SOURCE.stat().st_mtime
    why = build(shlex.split(args.cc) if args.cc else None) if stale or args.force or args.cc else None
    if why:
        print(
            f"native X25519 kernel not built ({why}); PSI blinds with cryptography's X25519", file=sys.stderr
        )
    else:
        print(
            f"native X25519 kernel {'built' if stale or args.force or args.cc else 'up to date'}: {TARGET.name}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

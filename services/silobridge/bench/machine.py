"""What the numbers were measured on."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from typing import Any


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> dict[str, Any]:
    import gmpy2
    import numpy as np
    import phe

    info: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "gmpy2": gmpy2.version(),
        "gmp": gmpy2.mp_version(),
        "phe": phe.__version__,
        "numpy": np.__version__,
    }
    try:  # by metadata: only the Ray backend may import ray
        info["ray"] = importlib.metadata.version("ray")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - ray is a dependency
        info["ray"] = None
    return info


def loadavg() -> list[float] | None:
    """1, 5 and 15-minute load averages (the machine is shared: every figure notes its load)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None

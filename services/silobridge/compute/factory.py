"""Choose a compute backend by name; Ray is imported only when asked for."""

from __future__ import annotations

from typing import Any

from silobridge.compute.base import ComputeBackend
from silobridge.errors import InvalidInput


def create_compute(name: str = "local", **options: Any) -> ComputeBackend:
    if name in ("local", "threads"):
        from silobridge.compute.local import LocalBackend

        return LocalBackend(options.get("workers"), processes=False)
    if name == "processes":
        from silobridge.compute.local import LocalBackend

        return LocalBackend(options.get("workers"), processes=True)
    if name == "ray":
        from silobridge.compute.ray_backend import RayBackend

        return RayBackend(**options)
    raise InvalidInput(f"unknown compute backend {name!r}: use local, processes or ray")

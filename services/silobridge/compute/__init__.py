"""Compute backends: run a function over chunks in parallel (local threads/processes, or Ray)."""

from silobridge.compute.base import ComputeBackend

__all__ = ["ComputeBackend"]

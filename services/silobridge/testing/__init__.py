"""Helpers for tests and benchmarks of components (no broker, no Ray)."""

from silobridge.testing.runner import FederatedRun, run_component

__all__ = ["FederatedRun", "run_component"]

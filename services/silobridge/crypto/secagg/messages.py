"""Checked readers of the values that secure aggregation exchanges (codec kinds only: int64
tensors, byte lists, maps), shared by the client and the server."""

from __future__ import annotations

from typing import Any

import numpy as np

from silobridge.errors import IntegrityError


def parties(value: Any, what: str) -> list[int]:
    if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype.kind not in "iu":
        raise IntegrityError(f"{what}: expected a vector of party ids")
    ids = [int(p) for p in value]
    if len(set(ids)) != len(ids):
        raise IntegrityError(f"{what}: repeated party ids")
    return ids


def byte_list(value: Any, count: int, what: str, width: int | None = None) -> list[bytes]:
    if not isinstance(value, list) or len(value) != count or not all(isinstance(b, bytes) for b in value):
        raise IntegrityError(f"{what}: expected {count} byte strings")
    if width is not None and any(len(b) != width for b in value):
        raise IntegrityError(f"{what}: expected byte strings of {width} bytes")
    return value


def fields(value: Any, names: set[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != names:
        raise IntegrityError(f"{what}: malformed message")
    return value


def ids_array(ids: list[int]) -> np.ndarray:
    return np.asarray(ids, dtype=np.int64)


def masked_vector(value: Any, size: int, what: str) -> np.ndarray:
    """A masked input as it crosses (int64 tensor) -> its uint64 view."""
    if not isinstance(value, np.ndarray) or value.dtype != np.int64 or value.shape != (size,):
        raise IntegrityError(f"{what}: expected {size} masked 64-bit integers")
    return value.view(np.uint64)

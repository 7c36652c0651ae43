"""What crossed a party boundary, decoded for privacy tests: every ``Value`` and every ciphertext."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from silobridge.federation.v1 import values_pb2 as pb
from silobridge.ml.fixed_point import FixedPoint
from silobridge.table import Table


def walk(value: pb.Value) -> Iterator[pb.Value]:
    """``value`` and every value nested in its maps and lists."""
    yield value
    kind = value.WhichOneof("kind")
    if kind == "map":
        for item in value.map.items.values():
            yield from walk(item)
    elif kind == "list":
        for item in value.list.items:
            yield from walk(item)


def values(payload: bytes) -> list[pb.Value]:
    root = pb.Value()
    root.ParseFromString(payload)
    return list(walk(root))


def ciphertexts(found: Iterable[pb.Value]) -> list[int]:
    """Every Paillier ciphertext among ``found``, as an integer."""
    out: list[int] = []
    for v in found:
        if v.WhichOneof("kind") == "paillier_vector":
            pv = v.paillier_vector
            out += [
                int.from_bytes(pv.data[i * pv.width : (i + 1) * pv.width], "big") for i in range(pv.count)
            ]
    return out


def row_needles(tables: Sequence[Table], id_prefix: bytes, column: int) -> list[bytes]:
    """Bytes that would show a row crossing: the id prefix and every id, each value of the
    sentinel ``column`` (as float64, float32 and text), and runs of 8 labels (as numbers and text)."""
    needles: list[bytes] = [id_prefix, *(str(i).encode() for t in tables for i in t.ids)]
    for t in tables:
        for v in t.features[:, column]:
            needles += [
                np.array([v]).tobytes(),
                np.array([v], dtype="<f4").tobytes(),
                repr(float(v)).encode(),
            ]
        assert t.label is not None
        for start in range(0, t.rows - 8, 8):
            run = t.label[start : start + 8]
            needles += [run.astype(dt).tobytes() for dt in ("<f8", "<f4", "<i8", "<i4")]
            needles.append(",".join(str(int(v)) for v in run).encode())
    return needles


def update_needles(updates: Iterable[np.ndarray], fp: FixedPoint) -> list[bytes]:
    """Runs of 4 entries of each plaintext update, as floats and in ``fp``'s fixed point."""
    needles: list[bytes] = []
    for update in updates:
        for chunk in range(0, len(update) - 4, 4):
            needles += [update[chunk : chunk + 4].tobytes(), fp.encode(update[chunk : chunk + 4]).tobytes()]
    return needles

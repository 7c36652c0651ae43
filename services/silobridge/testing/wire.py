"""What crossed a party boundary, decoded for privacy tests: every ``Value`` and every ciphertext."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from silobridge.federation.v1 import values_pb2 as pb


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

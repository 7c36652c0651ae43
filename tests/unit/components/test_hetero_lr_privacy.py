"""What crosses a party boundary in hetero-LR: no raw values, only fresh ciphertexts, masked gradients."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from silobridge.components.hetero_lr.common import batches
from silobridge.federation.v1 import values_pb2 as pb
from silobridge.table import Table
from silobridge.testing import FederatedRun, run_component
from silobridge.testing.datasets import vertical_split

ROWS = 80
BATCH = 40
SENTINEL_COLUMN = 4


def _walk(v: pb.Value) -> Iterator[pb.Value]:
    yield v
    kind = v.WhichOneof("kind")
    if kind == "map":
        for item in v.map.items.values():
            yield from _walk(item)
    elif kind == "list":
        for item in v.list.items:
            yield from _walk(item)


def _values(run: FederatedRun) -> list[tuple[int, int, str, str, pb.Value]]:
    out = []
    for s in run.hub.sent:
        msg = pb.Value()
        msg.ParseFromString(s.payload)
        out.extend((s.src, s.dst, s.name, s.tag, v) for v in _walk(msg))
    return out


def _encodings(values: np.ndarray) -> list[bytes]:
    return [values.astype(dt).tobytes() for dt in ("<f8", "<f4", "<i8", "<i4")]


@pytest.fixture(scope="module")
def planted(cancer: tuple[np.ndarray, np.ndarray]) -> tuple[FederatedRun, Table, Table]:
    X, y = cancer[0][:ROWS].copy(), cancer[1][:ROWS].copy()
    guest, host = vertical_split(X, y, 10, id_prefix="SENTINEL-ID-")
    host.features[:, SENTINEL_COLUMN] = 73_421.0 + 0.5 * np.arange(ROWS)  # distinctive values
    run = run_component(
        "hetero_lr",
        {"guest": [1], "host": [2], "arbiter": [9]},
        inputs={1: {"data": guest}, 2: {"data": host}},
        params={"key_bits": 1024, "epochs": 2, "batch_size": BATCH, "seed": 5, "alpha": 0.0},
        workers=2,
    )
    run.raise_any()
    return run, guest, host


def test_no_sentinel_crosses_in_any_encoding(planted: tuple[FederatedRun, Table, Table]) -> None:
    run, guest, host = planted
    wire = [s.payload for s in run.hub.sent]
    column = host.features[:, SENTINEL_COLUMN]
    needles: list[bytes] = []
    for v in column:
        needles += _encodings(np.array([v]))
        needles.append(repr(float(v)).encode())
    for start in range(0, ROWS - 8, 8):  # runs of 8 labels in every numeric encoding, and as text
        needles += _encodings(guest.label[start : start + 8])  # type: ignore[index]
        needles.append(",".join(str(int(v)) for v in guest.label[start : start + 8]).encode())  # type: ignore[index]
    needles += [b"SENTINEL-ID-"] + [i.encode() for i in guest.ids]
    hits = [n for n in needles for payload in wire if n in payload]
    assert hits == []
    assert len(wire) > 20  # the run did exchange messages


def test_every_ciphertext_is_fresh(planted: tuple[FederatedRun, Table, Table]) -> None:
    run, _, _ = planted
    values = _values(run)
    keys = [v.paillier_public_key for *_, v in values if v.WhichOneof("kind") == "paillier_public_key"]
    assert keys
    n = int.from_bytes(keys[0].n, "big")
    cts: list[int] = []
    for *_, v in values:
        if v.WhichOneof("kind") == "paillier_vector":
            pv = v.paillier_vector
            cts += [
                int.from_bytes(pv.data[i * pv.width : (i + 1) * pv.width], "big") for i in range(pv.count)
            ]
    assert len(cts) > 4 * ROWS
    assert len(set(cts)) == len(cts)  # no ciphertext is ever sent twice
    # 1 + m*n mod n^2 is the unrandomised encryption of m: none of them has that form, for any m.
    assert not any((c - 1) % n == 0 for c in cts)


def test_the_arbiter_only_sees_masked_gradients(planted: tuple[FederatedRun, Table, Table]) -> None:
    run, guest, host = planted
    idx = batches(ROWS, BATCH, 5, 0)[0]
    y_pm = 2 * guest.label[idx] - 1  # type: ignore[index]
    # Weights start at zero, so the first residual is -0.5 y and the true first gradients are known.
    true = {
        2: host.features[idx].T @ (-0.5 * y_pm) / len(idx),
        1: np.r_[guest.features[idx].T @ (-0.5 * y_pm), np.sum(-0.5 * y_pm)] / len(idx),
    }
    returned = {
        dst: v.tensor
        for src, dst, name, tag, v in _values(run)
        if src == 9 and name == "gradient" and tag == "e0b0" and v.WhichOneof("kind") == "tensor"
    }
    assert set(returned) == {1, 2}
    for party, tensor in returned.items():
        decrypted = np.frombuffer(tensor.data, dtype="<f8")
        assert decrypted.shape == true[party].shape
        assert np.all(np.abs(decrypted - true[party]) > 1e-3), party


def test_masks_are_removed_before_the_update(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    guest, host = vertical_split(cancer[0][:40], cancer[1][:40], 10)
    run = run_component(
        "hetero_lr",
        {"guest": [1], "host": [2], "arbiter": [9]},
        inputs={1: {"data": guest}, 2: {"data": host}},
        params={"key_bits": 1024, "epochs": 1, "alpha": 0.0, "learning_rate": 0.3},
    )
    run.raise_any()
    y_pm = 2 * guest.label - 1  # type: ignore[operator]
    true_host_gradient = host.features.T @ (-0.5 * y_pm) / 40
    assert np.allclose(run.result(2).model["weights"], -0.3 * true_host_gradient, atol=1e-7)  # type: ignore[index]

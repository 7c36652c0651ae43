"""What crosses a party boundary in Hetero SecureBoost: no host value, edge or threshold, no label
or plaintext gradient, and every ciphertext fresh or re-randomised."""

from __future__ import annotations

import numpy as np
import pytest

from silobridge.federation.v1 import values_pb2 as pb
from silobridge.ml.metrics import sigmoid
from silobridge.ml.quantile import fit_bins
from silobridge.table import Table
from silobridge.testing import FederatedRun, run_component, wire
from silobridge.testing.datasets import vertical_split

pytestmark = [pytest.mark.slow]

ROWS = 200
SENTINEL_COLUMN = 4
GUEST, HOST = 1, 2

# Every plaintext value that crosses, by variable name and sender: the rest must be ciphertexts
# or the public key. Shapes and what they mean are in docs/threat-model.md.
ALLOWED_PLAIN: dict[tuple[int, str], set[str]] = {
    (GUEST, "plan"): {"int_value"},  # rows, trees per round, validation rows
    (GUEST, "gh"): {"bool_value", "int_value", "tensor"},  # stop flag, trees kept, bits of the sampled rows
    (GUEST, "nodes"): {"tensor"},  # node of every row, the layer, the nodes to histogram
    (GUEST, "split"): {"tensor"},  # (node, anonymous slot, bin, default side) per host split
    (GUEST, "tree"): {"tensor"},  # topology: child indices
    (HOST, "features"): {"int_value", "tensor"},  # rows, bins per anonymous slot, its k
    (HOST, "hist"): {"tensor"},  # which anonymous slots the histograms cover
    (HOST, "split_result"): {"tensor"},  # opaque ids, packed bits of the rows that go left
    (HOST, "leaves"): {"tensor"},  # packed bits: the leaves each row can reach
}


def _values(run: FederatedRun) -> list[tuple[int, str, pb.Value]]:
    return [(s.src, s.name, v) for s in run.hub.sent for v in wire.values(s.payload)]


def _ciphertexts(run: FederatedRun) -> list[int]:
    return wire.ciphertexts(v for *_, v in _values(run))


def _encodings(values: np.ndarray) -> list[bytes]:
    """Every float encoding of a run; single values only as 8-byte doubles (4 random bytes match too often)."""
    kinds = ("<f8", ">f8", "<f4") if values.size > 1 else ("<f8", ">f8")
    return [values.astype(dt).tobytes() for dt in kinds]


@pytest.fixture(scope="module")
def planted(cancer: tuple[np.ndarray, np.ndarray]) -> tuple[FederatedRun, Table, Table]:
    X, y = cancer[0][:ROWS].copy(), cancer[1][:ROWS].copy()
    guest, host = vertical_split(X, y, 10, id_prefix="SENTINEL-ID-")
    host.features[:, SENTINEL_COLUMN] = 0.5 + 1.1e-4 * np.arange(ROWS) + 3.3e-9  # distinctive values
    run = run_component(
        "hetero_secureboost",
        {"guest": [GUEST], "host": [HOST]},
        inputs={GUEST: {"data": guest}, HOST: {"data": host}},
        params={"key_bits": 1024, "num_trees": 3, "max_depth": 3, "max_bins": 16, "seed": 5},
        workers=2,
    )
    run.raise_any()
    return run, guest, host


def test_no_host_value_edge_or_threshold_leaves_the_host(planted: tuple[FederatedRun, Table, Table]) -> None:
    run, _, host = planted
    wire = [s.payload for s in run.hub.sent]
    edges, _ = fit_bins(host.features, 16)
    model = run.result(HOST).model
    assert model is not None
    thresholds = model["threshold"][np.isfinite(model["threshold"])]
    assert thresholds.size  # the host did split
    secrets_of_host = np.concatenate([host.features[:, SENTINEL_COLUMN], *edges, thresholds])
    needles = [n for v in secrets_of_host for n in _encodings(np.array([v]))]
    needles += [repr(float(v)).encode() for v in host.features[:, SENTINEL_COLUMN]]
    hits = [n for n in needles for payload in wire if n in payload]
    assert hits == []
    assert len(wire) > 30


def test_no_label_id_or_plaintext_gradient_leaves_the_guest(
    planted: tuple[FederatedRun, Table, Table],
) -> None:
    run, guest, _ = planted
    wire = [s.payload for s in run.hub.sent]
    y = guest.label
    assert y is not None
    p0 = float(np.mean(y))
    g = sigmoid(np.full(ROWS, np.log(p0 / (1 - p0)))) - y  # the first tree's gradients and hessians
    h = p0 * (1 - p0) * np.ones(ROWS)
    needles: list[bytes] = [b"SENTINEL-ID-"] + [i.encode() for i in guest.ids]
    for start in range(0, ROWS - 8, 8):  # runs of 8 labels / gradients in every numeric encoding
        if y[start : start + 8].min() == y[start : start + 8].max():
            continue  # a constant run is all zero bytes (or one repeated value): it says nothing
        needles += [*_encodings(y[start : start + 8]), y[start : start + 8].astype("<i8").tobytes()]
        needles += _encodings(g[start : start + 8])
        needles.append(",".join(str(int(v)) for v in y[start : start + 8]).encode())
    needles += _encodings(np.array([h[0]]))
    hits = [n for n in needles for payload in wire if n in payload]
    assert hits == []
    assert len(needles) > 40


def test_plain_values_only_where_the_protocol_allows_them(planted: tuple[FederatedRun, Table, Table]) -> None:
    run, _, _ = planted
    for src, name, v in _values(run):
        kind = v.WhichOneof("kind")
        if kind in ("map", "list", "paillier_vector", "paillier_public_key"):
            continue
        what = v.scalar.WhichOneof("value") if kind == "scalar" else kind
        assert what in ALLOWED_PLAIN.get((src, name), set()), f"{name!r} from {src} crossed as plain {what}"
    crossed = {name for src, name, v in _values(run) if v.WhichOneof("kind") == "paillier_vector"}
    assert crossed == {"gh", "hist"}


def test_every_ciphertext_is_fresh_or_rerandomised(planted: tuple[FederatedRun, Table, Table]) -> None:
    run, _, _ = planted
    values = _values(run)
    keys = [v.paillier_public_key for *_, v in values if v.WhichOneof("kind") == "paillier_public_key"]
    assert len(keys) == 1
    n = int.from_bytes(keys[0].n, "big")
    cts = _ciphertexts(run)
    assert len(cts) > 3 * ROWS
    assert len(set(cts)) == len(cts)  # no ciphertext is sent twice
    # 1 + m*n mod n^2 is the unrandomised encryption of m (an empty bin is E(0) = 1): none crosses.
    assert not any(c % n == 1 for c in cts)


def test_each_host_gets_its_own_ciphertexts(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    guest, rest = vertical_split(cancer[0][:ROWS], cancer[1][:ROWS], 10)
    hosts = [
        Table(ids=rest.ids, features=rest.features[:, :10], feature_names=rest.feature_names[:10]),
        Table(ids=rest.ids, features=rest.features[:, 10:], feature_names=rest.feature_names[10:]),
    ]
    run = run_component(
        "hetero_secureboost",
        {"guest": [GUEST], "host": [HOST, 3]},
        inputs={GUEST: {"data": guest}, HOST: {"data": hosts[0]}, 3: {"data": hosts[1]}},
        params={"key_bits": 1024, "num_trees": 1, "max_depth": 2},
        workers=2,
    )
    run.raise_any()
    assert {s.dst for s in run.hub.sent if s.name == "gh"} == {HOST, 3}
    cts = _ciphertexts(run)
    assert len(set(cts)) == len(cts)  # the second host's [[g, h]] are re-randomised, not the same

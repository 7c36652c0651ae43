"""hetero_binning: host IVs equal the central computation, k holds per bin, no label crosses in plaintext."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from silobridge.components.hetero_binning.common import groups_of
from silobridge.disclosure import DisclosureLimits
from silobridge.federation.v1 import values_pb2 as pb
from silobridge.table import Table
from silobridge.testing import FederatedRun, run_component
from silobridge.testing.datasets import vertical_split

PARTIES = {"guest": [1], "host": [2]}
FAST = {"key_bits": 1024, "bins": 8}
# What may cross in plaintext: the guest's k, and the host's per-bin row counts and bins per column
# (its own rows), the WOE/IV the guest returns. Everything else is a key or a ciphertext.
ALLOWED_PLAIN = {"min_rows": ("int_value",), "bin_sums": ("tensor",), "woe_iv": ("tensor",)}


def _bin(guest: Table, host: Table, **params: object) -> FederatedRun:
    return run_component(
        "hetero_binning",
        PARTIES,
        inputs={1: {"data": guest}, 2: {"data": host}},
        params={**FAST, **params},
        workers=2,
    )


def _central_iv(groups: np.ndarray, y: np.ndarray, adjustment: float = 0.5) -> list[float]:
    """IV of every column computed from the bins and labels in one place (written out, not ml.binning)."""
    out = []
    for j in range(groups.shape[1]):
        total_e, total_ne = y.sum(), (1 - y).sum()
        iv = 0.0
        for g in np.unique(groups[:, j]):
            e = y[groups[:, j] == g].sum()
            ne = (groups[:, j] == g).sum() - e
            if e == 0 or ne == 0:
                e, ne = e + adjustment, ne + adjustment
            pe, pn = e / total_e, ne / total_ne
            iv += (pe - pn) * np.log(pe / pn)
        out.append(iv)
    return out


@pytest.fixture(scope="module")
def binned(cancer: tuple[np.ndarray, np.ndarray]) -> tuple[FederatedRun, Table, Table]:
    guest, host = vertical_split(*cancer, 10)
    host.features[::7, 3] = np.nan  # a missing bin at the host
    run = _bin(guest, host, transform="woe")
    run.raise_any()
    return run, guest, host


def test_host_ivs_equal_the_central_computation(binned: tuple[FederatedRun, Table, Table]) -> None:
    run, guest, host = binned
    model = run.result(2).model
    assert model is not None
    groups = groups_of(model, host)
    central = _central_iv(groups, guest.label)  # type: ignore[arg-type]
    assert np.allclose(model["iv"], central, rtol=0, atol=1e-9)
    assert max(central) > 0.5  # breast-cancer columns are predictive: the test is not trivially 0 = 0
    guest_model = run.result(1).model
    assert guest_model is not None
    assert np.allclose(guest_model["iv"], _central_iv(groups_of(guest_model, guest), guest.label), atol=1e-9)  # type: ignore[arg-type]


def test_woe_transform_uses_the_returned_woe(binned: tuple[FederatedRun, Table, Table]) -> None:
    run, guest, host = binned
    out = run.result(2).tables["data"]
    y = guest.label
    assert y is not None
    g = groups_of(run.result(2).model, host)[:, 0]  # type: ignore[arg-type]
    for b in np.unique(g):
        e, n = y[g == b].sum(), (g == b).sum()
        expected = np.log((e / y.sum()) / ((n - e) / (1 - y).sum())) if 0 < e < n else None
        if expected is not None:
            assert np.allclose(out.features[g == b, 0], expected)


def test_every_bin_holds_at_least_k_rows(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    guest, host = vertical_split(cancer[0][:120], cancer[1][:120], 10)
    run = run_component(
        "hetero_binning",
        PARTIES,
        inputs={1: {"data": guest}, 2: {"data": host}},
        params={**FAST, "bins": 32},
        limits={1: DisclosureLimits(min_rows=25), 2: DisclosureLimits(min_rows=5)},
    )
    run.raise_any()
    groups = groups_of(run.result(2).model, host)  # type: ignore[arg-type]
    for j in range(groups.shape[1]):
        assert np.bincount(groups[:, j]).min() >= 25  # the guest's k, larger than the host's, holds


def _walk(v: pb.Value) -> Iterator[pb.Value]:
    yield v
    kind = v.WhichOneof("kind")
    if kind == "map":
        for item in v.map.items.values():
            yield from _walk(item)
    elif kind == "list":
        for item in v.list.items:
            yield from _walk(item)


def test_no_label_or_edge_crosses_in_plaintext(binned: tuple[FederatedRun, Table, Table]) -> None:
    run, guest, _ = binned
    wire = [s.payload for s in run.hub.sent]
    assert len(wire) >= 5
    y = guest.label
    assert y is not None
    needles = [
        y[s : s + 16].astype(dt).tobytes() for s in range(0, 64, 8) for dt in ("<f8", "<f4", "<i8", "u1")
    ]
    edges = run.result(2).model["edges"]  # type: ignore[index]
    needles += [np.asarray(e, dtype="<f8").tobytes() for e in edges]
    assert [n for n in needles for p in wire if n in p] == []
    cts, n_mod = [], 0
    for s in run.hub.sent:
        msg = pb.Value()
        msg.ParseFromString(s.payload)
        for v in _walk(msg):
            kind = v.WhichOneof("kind")
            if kind == "paillier_public_key":
                n_mod = int.from_bytes(v.paillier_public_key.n, "big")
            elif kind == "paillier_vector":
                pv = v.paillier_vector
                cts += [
                    int.from_bytes(pv.data[i : i + pv.width], "big") for i in range(0, len(pv.data), pv.width)
                ]
            elif kind not in ("map", "list"):
                what = v.scalar.WhichOneof("value") if kind == "scalar" else kind
                assert what in ALLOWED_PLAIN.get(s.name, ()), (s.name, what)
    assert len(cts) > guest.rows
    assert len(set(cts)) == len(cts) and not any(c % n_mod == 1 for c in cts)


def test_guest_refuses_a_host_bin_below_its_k(
    cancer: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host whose k merging is skipped (forged small bins) gets no decryption: the guest refuses."""
    from silobridge.components.hetero_binning import host as host_mod

    guest, host = vertical_split(cancer[0][:100], cancer[1][:100], 10)
    original = host_mod.fit_bins
    monkeypatch.setattr(host_mod, "fit_bins", lambda ctx, X, k: original(ctx, X, 1))
    run = _bin(guest, host, bins=64)
    assert set(run.errors) == {1, 2}
    assert "fewer than the minimum aggregation size k=10" in str(run.errors[1])
    assert not any(s.name == "woe_iv" for s in run.hub.sent)


def test_bucket_binning_has_equal_width_edges(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    guest, host = vertical_split(*cancer, 10)
    run = _bin(guest, host, method="bucket", bins=4, host_iv=False)
    run.raise_any()
    model = run.result(2).model
    assert model is not None and "iv" not in model
    col = host.features[:, 0]
    expected = np.linspace(col.min(), col.max(), 5)[1:-1]
    assert np.allclose(model["edges"][: model["edge_counts"][0]], expected)
    assert not [s for s in run.hub.sent if s.name != "abort"]  # without host IVs nothing crosses

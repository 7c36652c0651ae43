"""Encrypted histograms decrypt to the plaintext per-bin sums, on every local compute backend."""

from __future__ import annotations

import numpy as np
import pytest

from silobridge.components.hetero_secureboost import histogram as H
from silobridge.compute.local import LocalBackend
from silobridge.crypto import PackedEncoder, generate_keypair
from silobridge.ml.boosting import SplitRules, best_split
from silobridge.ml.quantile import assign_bins, bin_edges, fit_bins


@pytest.fixture(scope="module")
def keys() -> tuple:
    return generate_keypair(1024)


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_encrypted_histograms_equal_plain_sums(keys: tuple, processes: bool) -> None:
    _, sk = keys
    rng = np.random.default_rng(0)
    n = 300
    X = rng.normal(size=(n, 3))
    X[rng.random(n) < 0.1, 1] = np.nan
    edges, binned = fit_bins(X, 8)
    sizes = [len(e) + 2 for e in edges]
    g, h = rng.uniform(-1, 1, n), rng.uniform(0, 0.25, n)
    encoder = PackedEncoder([(-1.0, 1.0), (0.0, 0.25)], max_rows=n)
    gh = encoder.encrypt(sk, np.column_stack([g, h]))
    nodes = [np.arange(n), np.flatnonzero(X[:, 0] > 0.3)]
    with LocalBackend(2, processes=processes) as compute:
        (hist,) = H.encrypted_histograms([gh], binned, sizes, nodes, compute)
        count, grad, hess = H.decrypt_histograms(sk, [encoder], [hist.obfuscate()], compute)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    total = sum(sizes)
    for i, rows in enumerate(nodes):
        want = H.plain_histograms(binned, offsets, total, rows, g, h)
        got = (
            count[i * total : (i + 1) * total],
            grad[i * total : (i + 1) * total],
            hess[i * total : (i + 1) * total],
        )
        for w, v in zip(want, got, strict=True):
            assert np.allclose(w, v, atol=1e-9)
    assert count[total - 1] == np.isnan(X[:, 2]).sum()  # the missing bin of the last feature


def test_quantile_bins_put_missing_values_last_and_respect_the_edges() -> None:
    column = np.array([3.0, 1.0, np.nan, 2.0, 2.0, 5.0])
    edges = bin_edges(column, 32)
    assert np.allclose(edges, [1.5, 2.5, 4.0])  # few distinct values: midpoints
    assert assign_bins(column, edges).tolist() == [2, 0, 4, 1, 1, 3]
    wide = bin_edges(np.arange(1000.0), 32)
    assert len(wide) == 31 and np.all(np.diff(wide) > 0)


def test_best_split_learns_the_missing_side_and_obeys_min_rows() -> None:
    # One feature, 3 value bins + missing; missing rows have the gradients of bin 2.
    count = np.array([[30.0, 30.0, 30.0, 30.0]])
    grad = np.array([[-15.0, -15.0, 15.0, 15.0]])
    hess = np.array([[7.5, 7.5, 7.5, 7.5]])
    split = best_split((count, grad, hess), np.array([3]), SplitRules(min_rows=20))
    assert split is not None and split.bin == 1 and split.missing_left is False
    assert (split.left_rows, split.right_rows) == (60, 60)
    assert best_split((count, grad, hess), np.array([3]), SplitRules(min_rows=61)) is None


def test_the_example_job_is_valid() -> None:
    from pathlib import Path

    from flow import jobspec
    from flow.jobspec import SpecRules, parse_job_yaml

    path = Path(__file__).parents[3] / "deploy" / "examples" / "jobs" / "hetero_secureboost.yaml"
    spec = parse_job_yaml(
        path.read_bytes(), SpecRules(self_party=9999, known_parties=frozenset({9999, 10000}))
    )
    jobspec.validate_spec(spec, SpecRules(self_party=9999, known_parties=frozenset({9999, 10000})))
    assert [c.component for c in spec.components][2:4] == ["hetero_secureboost", "hetero_secureboost_predict"]


def test_l1_and_l2_shrink_the_leaf_value() -> None:
    from silobridge.ml.boosting import leaf_weight

    assert leaf_weight(-10.0, 5.0, SplitRules()) == pytest.approx(2.0)
    assert leaf_weight(-10.0, 5.0, SplitRules(lam=5.0)) == pytest.approx(1.0)
    assert leaf_weight(-10.0, 5.0, SplitRules(alpha=2.0)) == pytest.approx(8.0 / 5.0)
    assert leaf_weight(1.5, 5.0, SplitRules(alpha=2.0)) == 0.0  # |G| below alpha: no step

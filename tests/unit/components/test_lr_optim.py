"""LR quality parity: optimisers, schedules, initialisation, early stopping.

The update rules are checked against element-by-element reference implementations written from
the textbook formulas, and the federated ``hetero_lr`` run against a centralised numpy
implementation of the same Taylor-approximated training: the weights must agree.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from silobridge.errors import InvalidInput
from silobridge.ml.optim import Optimizer, converged, initial_weights, scheduled_lr
from silobridge.testing import run_component
from silobridge.testing.datasets import vertical_split


def _reference(kind: str, w0: list[float], grads: list[list[float]], lr: float) -> list[float]:
    """One scalar at a time, straight from the definitions."""
    out = []
    for i, w in enumerate(w0):
        m = v = 0.0
        for t, g_all in enumerate(grads, start=1):
            g = g_all[i]
            if kind == "sgd":
                w -= lr * g
            elif kind == "nesterov":
                m = 0.9 * m + g
                w -= lr * (g + 0.9 * m)
            elif kind == "adagrad":
                v += g * g
                w -= lr * g / (math.sqrt(v) + 1e-6)
            elif kind == "rmsprop":
                v = 0.99 * v + 0.01 * g * g
                w -= lr * g / (math.sqrt(v) + 1e-6)
            elif kind == "adam":
                m = 0.9 * m + 0.1 * g
                v = 0.999 * v + 0.001 * g * g
                w -= lr * (m / (1 - 0.9**t)) / (math.sqrt(v / (1 - 0.999**t)) + 1e-8)
        out.append(w)
    return out


@pytest.mark.parametrize("kind", ["sgd", "nesterov", "adagrad", "rmsprop", "adam"])
def test_update_rules_match_the_reference(kind: str) -> None:
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=5)
    grads = rng.normal(size=(7, 5))
    opt = Optimizer(kind, 0.05)
    w = w0.copy()
    for g in grads:
        w = opt.step(w, g)
    assert np.allclose(w, _reference(kind, w0.tolist(), grads.tolist(), 0.05), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["sgd", "nesterov", "adagrad", "rmsprop", "adam"])
def test_every_optimiser_minimises_a_quadratic(kind: str) -> None:
    target = np.array([1.5, -2.0, 0.25])
    decay = 0.01 if kind == "rmsprop" else 0.0  # rmsprop steps about +-10 lr: it needs a decaying rate
    opt, w = Optimizer(kind, 0.05, decay), np.zeros(3)
    for t in range(3000):
        opt.set_epoch(t)
        w = opt.step(w, 2 * (w - target))
    assert np.allclose(w, target, atol=0.02), (kind, w)


def test_rmsprop_bias_correction_divides_by_one_minus_rho_power() -> None:
    opt, w = Optimizer("rmsprop", 0.1, bias_correction=True), np.zeros(2)
    w = opt.step(w, np.array([0.5, -2.0]))
    assert np.allclose(w, [-0.1, 0.1], atol=1e-5)  # first step: sqrt(v_hat) = |g|
    g2 = np.array([1.0, 1.0])
    v = 0.99 * 0.01 * np.array([0.25, 4.0]) + 0.01 * g2**2
    assert np.allclose(opt.step(w, g2), w - 0.1 * g2 / (np.sqrt(v / (1 - 0.99**2)) + 1e-6))


def test_schedules() -> None:
    assert [scheduled_lr(0.1, "constant", e) for e in (0, 5)] == [0.1, 0.1]
    assert scheduled_lr(0.1, "inverse_time", 4, decay=0.5) == pytest.approx(0.1 / 3)
    assert scheduled_lr(0.1, "inverse_sqrt", 3, decay=1.0) == pytest.approx(0.05)
    assert [scheduled_lr(0.1, "step", e, decay=0.5, step_size=3) for e in (0, 2, 3, 7)] == pytest.approx(
        [0.1, 0.1, 0.05, 0.025]
    )
    opt = Optimizer("sgd", 1.0, 0.5, schedule="step", step_size=2)
    opt.set_epoch(4)
    assert opt.step(np.zeros(1), np.ones(1))[0] == pytest.approx(-0.25)
    with pytest.raises(InvalidInput, match="schedule"):
        Optimizer("sgd", 0.1, schedule="cosine")


def test_initialisation_is_seeded_and_in_range() -> None:
    a = initial_weights(1000, "random_uniform", 0.3, seed=5)
    assert np.array_equal(a, initial_weights(1000, "random_uniform", 0.3, seed=5))
    assert a.min() >= -0.3 and a.max() <= 0.3 and a.std() > 0.15
    n = initial_weights(20000, "random_normal", 0.2, seed=5)
    assert abs(n.std() - 0.2) < 0.01 and abs(n.mean()) < 0.01
    assert not np.array_equal(
        initial_weights(5, "random_normal", seed=1), initial_weights(5, "random_normal", seed=2)
    )
    assert not initial_weights(4, "zeros").any()


def test_convergence_tests() -> None:
    assert converged("diff", 1e-3, 0.5, 0.5005, None) and not converged("diff", 1e-3, 0.5, None, None)
    assert converged("abs", 0.3, 0.29, None, None) and not converged("abs", 0.3, 0.31, 0.2, None)
    assert converged("weight_diff", 1e-2, 9.0, 1.0, 1e-3) and not converged(
        "weight_diff", 1e-2, 0.0, 0.0, 0.1
    )


def _centralised(
    X: np.ndarray, y: np.ndarray, split: int, params: dict, parties: tuple[int, int]
) -> np.ndarray:
    """The same training as hetero_lr, in the clear: Taylor residual, L2 off the intercept."""
    Xg = np.hstack([X[:, :split], np.ones((len(X), 1))])
    Xh = X[:, split:]
    seed, scale = params["init_seed"], params["init_scale"]
    wg = initial_weights(Xg.shape[1], params["init"], scale, seed * 1_000_003 + parties[0])
    wh = initial_weights(Xh.shape[1], params["init"], scale, seed * 1_000_003 + parties[1])
    og, oh = (
        Optimizer(params["optimizer"], params["learning_rate"]),
        Optimizer(params["optimizer"], params["learning_rate"]),
    )
    y_pm, alpha = 2 * y - 1, params["alpha"]
    for epoch in range(params["epochs"]):
        og.set_epoch(epoch)
        oh.set_epoch(epoch)
        d = 0.25 * (Xg @ wg + Xh @ wh) - 0.5 * y_pm
        gg, gh = Xg.T @ d / len(X), Xh.T @ d / len(X)
        gg[:-1] += alpha * wg[:-1]
        wg, wh = og.step(wg, gg), oh.step(wh, gh + alpha * wh)
    return np.concatenate([wg, wh])


@pytest.mark.parametrize("kind", ["rmsprop", "nesterov"])
def test_federated_training_matches_centralised_numpy(
    cancer: tuple[np.ndarray, np.ndarray], kind: str
) -> None:
    X, y = cancer
    guest, host = vertical_split(X, y, 10)
    params = {
        "key_bits": 1024,
        "epochs": 4,
        "batch_size": -1,
        "optimizer": kind,
        "learning_rate": 0.15,
        "alpha": 0.01,
        "init": "random_uniform",
        "init_scale": 0.5,
        "init_seed": 11,
        "early_stop": False,
        "seed": 1,
    }
    run = run_component(
        "hetero_lr",
        {"guest": [1], "host": [2], "arbiter": [9]},
        inputs={1: {"data": guest}, 2: {"data": host}},
        params=params,
    )
    run.raise_any()
    g, h = run.result(1).model, run.result(2).model
    assert g is not None and h is not None
    federated = np.concatenate([g["weights"], g["intercept"], h["weights"]])
    expected = _centralised(X, y, 10, params, (1, 2))
    assert np.allclose(federated, expected, atol=1e-4), np.abs(federated - expected).max()


def test_weight_diff_early_stopping_stops_when_the_weights_settle(
    cancer: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = cancer
    guest, host = vertical_split(X[:200], y[:200], 10)
    common = {"key_bits": 1024, "epochs": 30, "batch_size": -1, "seed": 1, "learning_rate": 0.15}
    run = run_component(
        "hetero_lr",
        {"guest": [1], "host": [2], "arbiter": [9]},
        inputs={1: {"data": guest}, 2: {"data": host}},
        params={**common, "optimizer": "adagrad", "convergence": "weight_diff", "tol": 0.05},
    )
    run.raise_any()
    epochs = int(run.result(1).summary["epochs"])
    assert 1 < epochs < 30
    names = {s.name for s in run.hub.sent}
    assert "weight_diff" in names
    diffs = [s for s in run.hub.sent if s.name == "weight_diff"]
    assert {s.dst for s in diffs} == {9} and len(diffs) == 2 * epochs  # guest and host, every epoch

"""Differential privacy of horizontal FL: the accountant is sound against the exact Gaussian
mechanism, clipping bounds what a client can move the model, noise has the promised scale, and
the components report the epsilon they spent."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from silobridge.components import registry
from silobridge.errors import InvalidInput
from silobridge.ml import dp
from silobridge.testing import run_component
from silobridge.testing.datasets import horizontal_split


def _exact_delta(eps: float, sigma: float) -> float:
    """delta(eps) of one Gaussian mechanism of sensitivity 1 and noise sigma (Balle and Wang 2018)."""
    return float(
        norm.cdf(-eps * sigma + 1 / (2 * sigma)) - math.exp(eps) * norm.cdf(-eps * sigma - 1 / (2 * sigma))
    )


@pytest.mark.parametrize(("rounds", "sigma"), [(1, 1.0), (10, 1.1), (20, 2.0), (100, 5.0)])
def test_the_accountants_epsilon_is_sound_and_not_loose(rounds: int, sigma: float) -> None:
    delta = 1e-5
    eps = dp.gaussian_epsilon(rounds, sigma, delta)
    effective = sigma / math.sqrt(rounds)  # T Gaussian mechanisms compose to one of sigma / sqrt(T)
    assert _exact_delta(eps, effective) <= delta  # sound: the promise holds
    exact = next(e / 100 for e in range(1, 100_000) if _exact_delta(e / 100, effective) <= delta)
    assert eps <= 1.6 * exact + 0.2, (eps, exact)  # and close to the truth


def test_epsilon_grows_with_rounds_and_shrinks_with_noise() -> None:
    assert dp.gaussian_epsilon(10, 1.0, 1e-5) < dp.gaussian_epsilon(20, 1.0, 1e-5)
    assert dp.gaussian_epsilon(10, 2.0, 1e-5) < dp.gaussian_epsilon(10, 1.0, 1e-5)
    assert dp.gaussian_epsilon(10, 0.0, 1e-5) == math.inf
    with pytest.raises(InvalidInput, match="delta"):
        dp.gaussian_epsilon(1, 1.0, 0.0)


def test_clipping_bounds_the_norm_and_noise_has_the_promised_scale() -> None:
    update = np.full(100_000, 3.0)
    assert np.linalg.norm(dp.clip(update, 2.0)) == pytest.approx(2.0)
    small = np.full(4, 0.1)
    np.testing.assert_array_equal(dp.clip(small, 2.0), small)
    noised = dp.privatise(np.zeros(100_000), 2.0, 1.5)
    assert np.std(noised) == pytest.approx(3.0, rel=0.02)
    assert not np.array_equal(noised, dp.privatise(np.zeros(100_000), 2.0, 1.5))  # fresh noise each time


def test_noise_without_a_clip_is_refused() -> None:
    with pytest.raises(InvalidInput, match="dp_noise_multiplier needs dp_clip"):
        registry.get("homo_lr").validate({"dp_noise_multiplier": 1.0})


PARAMS = {"seed": 7, "rounds": 5, "early_stop": False, "batch_size": 64, "learning_rate": 0.5}


def _homo_lr(cancer: tuple[np.ndarray, np.ndarray], **params: object) -> dict[str, object]:
    tables = horizontal_split(*cancer, 3, seed=11)
    run = run_component(
        "homo_lr",
        {"guest": [1], "host": [2, 3], "arbiter": [9]},
        inputs={p: {"data": t} for p, t in zip((1, 2, 3), tables, strict=True)},
        params={**PARAMS, **params},
        recv_timeout_s=60,
    )
    run.raise_any()
    return {"model": run.result(9).model, "summary": run.result(1).summary}


def test_a_tiny_clip_keeps_every_client_from_moving_the_model(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    clipped = _homo_lr(cancer, dp_clip=1e-3, dp_noise_multiplier=0.0)
    model = clipped["model"]
    w = np.r_[model["weights"], model["intercept"]]  # type: ignore[index]
    assert np.linalg.norm(w) <= 5 * 1e-3 + 1e-6  # 5 rounds, each a weighted mean of clipped steps
    assert clipped["summary"]["dp_epsilon"] == math.inf  # type: ignore[index]  # no noise: no DP


def test_noised_training_reports_its_epsilon_and_still_learns(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    noised = _homo_lr(cancer, dp_clip=2.0, dp_noise_multiplier=0.02, dp_delta=1e-5)
    summary = noised["summary"]
    assert summary["dp_epsilon"] == pytest.approx(dp.gaussian_epsilon(5, 0.02, 1e-5))  # type: ignore[index]
    assert summary["dp_delta"] == 1e-5  # type: ignore[index]
    assert summary["train_auc"] > 0.9  # type: ignore[index]
    plain = _homo_lr(cancer)
    assert not np.allclose(noised["model"]["weights"], plain["model"]["weights"])  # type: ignore[index]

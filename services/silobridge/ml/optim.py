"""A party's own weights: optimisers, learning-rate schedules, initialisation, convergence tests.

Everything here works on plaintext that the party already holds (its weights and its unmasked
gradient), so no value computed here crosses a party boundary by itself.

Update rules, with ``g`` the gradient at step ``t`` (1-based) and ``lr`` the scheduled rate:

* ``sgd``: ``w -= lr * g``
* ``nesterov``: ``v = mu * v + g``; ``w -= lr * (g + mu * v)`` (Sutskever's form, as PyTorch's)
* ``adagrad``: ``G += g^2``; ``w -= lr * g / (sqrt(G) + eps)``
* ``rmsprop``: ``s = rho * s + (1 - rho) * g^2``; ``w -= lr * g / (sqrt(s) + eps)``; with
  ``bias_correction`` ``s / (1 - rho^t)`` replaces ``s`` (as Adam corrects its second moment: the
  first steps are then about ``lr`` rather than ``10 * lr``)
* ``adam``: bias-corrected first and second moments (Kingma & Ba)

Schedules of the learning rate at epoch ``e`` (0-based): ``constant`` ``lr0``; ``inverse_time``
``lr0 / (1 + decay * e)``; ``inverse_sqrt`` ``lr0 / sqrt(1 + decay * e)`` (FATE's default
with decay 1); ``step`` ``lr0 * decay ** floor(e / step_size)``.
"""

from __future__ import annotations

import math

import numpy as np

from silobridge.errors import InvalidInput

OPTIMIZERS = ("sgd", "nesterov", "adagrad", "rmsprop", "adam")
SCHEDULES = ("constant", "inverse_time", "inverse_sqrt", "step")
INITS = ("zeros", "random_uniform", "random_normal")
CONVERGENCE = ("diff", "abs", "weight_diff")

MOMENTUM = 0.9
RMSPROP_RHO = 0.99
ADAM_BETAS = (0.9, 0.999)
EPS = {"adagrad": 1e-6, "rmsprop": 1e-6, "adam": 1e-8}


def scheduled_lr(lr0: float, schedule: str, epoch: int, decay: float = 0.0, step_size: int = 1) -> float:
    """The learning rate of ``epoch`` under ``schedule``."""
    if schedule == "constant":
        return lr0
    if schedule == "inverse_time":
        return lr0 / (1.0 + decay * epoch)
    if schedule == "inverse_sqrt":
        return lr0 / math.sqrt(1.0 + decay * epoch)
    if schedule == "step":
        if step_size < 1:
            raise InvalidInput(f"step schedule needs step_size >= 1, got {step_size}")
        return lr0 * decay ** (epoch // step_size)
    raise InvalidInput(f"unknown learning-rate schedule {schedule!r}: use one of {', '.join(SCHEDULES)}")


class Optimizer:
    """Updates one weight vector from its (unmasked, plaintext) gradient.

    ``Optimizer(kind, lr, lr_decay)`` keeps the historical meaning: inverse-time decay, which is
    the constant schedule when ``lr_decay`` is 0.
    """

    def __init__(
        self,
        kind: str,
        learning_rate: float,
        lr_decay: float = 0.0,
        *,
        schedule: str = "inverse_time",
        step_size: int = 1,
        bias_correction: bool = False,
    ) -> None:
        if kind not in OPTIMIZERS:
            raise InvalidInput(f"unknown optimizer {kind!r}: use one of {', '.join(OPTIMIZERS)}")
        scheduled_lr(float(learning_rate), schedule, 0, float(lr_decay), step_size)  # validates
        self.kind, self.lr0, self.decay = kind, float(learning_rate), float(lr_decay)
        self.schedule, self.step_size = schedule, int(step_size)
        self.bias_correction = bool(bias_correction)
        self.epoch = 0
        self._t = 0
        self._m: np.ndarray | None = None
        self._v: np.ndarray | None = None

    @property
    def lr(self) -> float:
        return scheduled_lr(self.lr0, self.schedule, self.epoch, self.decay, self.step_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def step(self, weights: np.ndarray, grad: np.ndarray) -> np.ndarray:
        lr, kind = self.lr, self.kind
        if kind == "sgd":
            return np.asarray(weights - lr * grad)
        self._t += 1
        if self._m is None or self._v is None:
            self._m, self._v = np.zeros_like(weights), np.zeros_like(weights)
        if kind == "nesterov":
            self._m = MOMENTUM * self._m + grad
            return np.asarray(weights - lr * (grad + MOMENTUM * self._m))
        if kind == "adagrad":
            self._v = self._v + grad * grad
            return np.asarray(weights - lr * grad / (np.sqrt(self._v) + EPS[kind]))
        if kind == "rmsprop":
            self._v = RMSPROP_RHO * self._v + (1 - RMSPROP_RHO) * grad * grad
            v = self._v / (1 - RMSPROP_RHO**self._t) if self.bias_correction else self._v
            return np.asarray(weights - lr * grad / (np.sqrt(v) + EPS[kind]))
        beta1, beta2 = ADAM_BETAS
        self._m = beta1 * self._m + (1 - beta1) * grad
        self._v = beta2 * self._v + (1 - beta2) * grad * grad
        m_hat = self._m / (1 - beta1**self._t)
        v_hat = self._v / (1 - beta2**self._t)
        return np.asarray(weights - lr * m_hat / (np.sqrt(v_hat) + EPS[kind]))


def initial_weights(size: int, method: str, scale: float = 0.01, seed: int | None = None) -> np.ndarray:
    """``size`` starting weights: zeros, uniform in ``[-scale, scale]`` or normal with std ``scale``."""
    if method == "zeros":
        return np.zeros(size)
    rng = np.random.default_rng(seed)
    if method == "random_uniform":
        return rng.uniform(-scale, scale, size)
    if method == "random_normal":
        return rng.normal(0.0, scale, size)
    raise InvalidInput(f"unknown initialisation {method!r}: use one of {', '.join(INITS)}")


def converged(
    method: str, tol: float, loss: float, previous: float | None, weight_diff: float | None
) -> bool:
    """Early stopping: ``diff`` |loss change| < tol, ``abs`` loss < tol, ``weight_diff`` ||dw|| < tol."""
    if method == "diff":
        return previous is not None and abs(previous - loss) < tol
    if method == "abs":
        return loss < tol
    if method == "weight_diff":
        return weight_diff is not None and math.isfinite(weight_diff) and weight_diff < tol
    raise InvalidInput(f"unknown convergence test {method!r}: use one of {', '.join(CONVERGENCE)}")

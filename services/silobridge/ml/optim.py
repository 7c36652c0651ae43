"""Optimisers for a party's own weights (SGD, Adam) with inverse-time learning-rate decay."""

from __future__ import annotations

import numpy as np

from silobridge.errors import InvalidInput

OPTIMIZERS = ("sgd", "adam")


class Optimizer:
    """Updates one weight vector from its (unmasked, plaintext) gradient.

    The learning rate at epoch ``e`` is ``learning_rate / (1 + lr_decay * e)``.
    """

    def __init__(self, kind: str, learning_rate: float, lr_decay: float = 0.0) -> None:
        if kind not in OPTIMIZERS:
            raise InvalidInput(f"unknown optimizer {kind!r}: use one of {', '.join(OPTIMIZERS)}")
        self.kind, self.lr0, self.decay = kind, float(learning_rate), float(lr_decay)
        self.epoch = 0
        self._t = 0
        self._m: np.ndarray | None = None
        self._v: np.ndarray | None = None

    @property
    def lr(self) -> float:
        return self.lr0 / (1.0 + self.decay * self.epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def step(self, weights: np.ndarray, grad: np.ndarray) -> np.ndarray:
        if self.kind == "sgd":
            return weights - self.lr * grad
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        if self._m is None or self._v is None:
            self._m, self._v = np.zeros_like(weights), np.zeros_like(weights)
        self._t += 1
        self._m = beta1 * self._m + (1 - beta1) * grad
        self._v = beta2 * self._v + (1 - beta2) * grad * grad
        m_hat = self._m / (1 - beta1**self._t)
        v_hat = self._v / (1 - beta2**self._t)
        return np.asarray(weights - self.lr * m_hat / (np.sqrt(v_hat) + eps))

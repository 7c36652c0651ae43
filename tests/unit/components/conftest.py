"""Fixtures for component tests: small tables and the vertical split of breast cancer."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer


@pytest.fixture(scope="session")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    data = load_breast_cancer()
    X = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    return X, data.target.astype(np.float64)

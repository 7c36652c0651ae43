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


def _patch_value_proto_if_missing() -> None:
    """TEMPORARY: the codec sends objects with ``to_value_proto()``; until the Paillier engine adds
    it to ``PublicKey`` and ``EncryptedVector``, wrap their ``to_proto()`` (delete afterwards)."""
    from silobridge.crypto import EncryptedVector, PublicKey
    from silobridge.federation.v1 import values_pb2 as pb

    if not hasattr(PublicKey, "to_value_proto"):
        PublicKey.to_value_proto = lambda self: pb.Value(paillier_public_key=self.to_proto())  # type: ignore[attr-defined]
    if not hasattr(EncryptedVector, "to_value_proto"):
        EncryptedVector.to_value_proto = lambda self: pb.Value(paillier_vector=self.to_proto())  # type: ignore[attr-defined]


_patch_value_proto_if_missing()

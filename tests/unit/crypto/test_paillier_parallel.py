"""Chunked batch operations through the local compute backends give the same plaintexts."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from silobridge.compute.base import ComputeBackend
from silobridge.compute.local import LocalBackend
from silobridge.crypto import PackedEncoder, PrivateKey, PublicKey


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("threads"),
        pytest.param("processes", marks=pytest.mark.multiprocess),
    ],
)
def backend(request: pytest.FixtureRequest) -> Iterator[ComputeBackend]:
    b = LocalBackend(2, processes=request.param == "processes")
    yield b
    b.close()


def test_chunked_operations_match_serial(
    keypair: tuple[PublicKey, PrivateKey], backend: ComputeBackend
) -> None:
    pk, sk = keypair
    rng = np.random.default_rng(0)
    x = rng.integers(-(2**40), 2**40, size=600)
    X = rng.integers(-(2**20), 2**20, size=(600, 3))
    pub = PublicKey(pk.n)
    for ev in (pub.encrypt_vector(x, compute=backend), sk.encrypt_vector(x, compute=backend)):
        assert sk.decrypt_int(ev, compute=backend) == x.tolist()
        assert (
            sk.decrypt_int(ev.rmatmul(X, compute=backend)) == (X.T.astype(object) @ x.astype(object)).tolist()
        )
        k = rng.integers(-1000, 1000, size=600)
        assert sk.decrypt_int(ev.mul(k, compute=backend)) == (x * k).tolist()
        fresh = ev.obfuscate(compute=backend)
        assert fresh.randomised and sk.decrypt_int(fresh) == x.tolist()
        assert sk.decrypt_int(ev.obfuscate(compute=backend, private_key=sk)) == x.tolist()


def test_chunked_packing(keypair: tuple[PublicKey, PrivateKey], backend: ComputeBackend) -> None:
    _pk, sk = keypair
    enc = PackedEncoder([(-1.0, 1.0), (0.0, 0.25)], max_rows=1000)
    vals = np.column_stack([np.linspace(-1, 1, 64), np.linspace(0, 0.25, 64)])
    ev = enc.encrypt(sk, vals, compute=backend)
    sums = enc.decrypt(sk, ev.sum(), compute=backend)
    assert sums.counts.tolist() == [64]
    assert sums.quantized[0] == [sum(c) for c in zip(*enc.quantize(vals), strict=True)]


def test_chunks_use_independent_randomness(
    keypair: tuple[PublicKey, PrivateKey], backend: ComputeBackend
) -> None:
    pk, _ = keypair
    ev = PublicKey(pk.n).encrypt_vector(np.zeros(200, dtype=np.int64), compute=backend)
    assert len({int(c) for c in ev.ciphertexts}) == 200

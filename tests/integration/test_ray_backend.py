"""The Ray compute backend on a local Ray cluster (one session for the whole module)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest

from silobridge.compute.base import ComputeBackend
from silobridge.compute.factory import create_compute
from silobridge.compute.ray_backend import RayBackend
from silobridge.crypto import PrivateKey, PublicKey, generate_keypair
from silobridge.crypto.paillier import parallel
from silobridge.errors import CryptoError, InvalidInput

pytestmark = pytest.mark.ray

RESOURCE = "silobridge_test_node"


# Ray workers import task functions by module: test modules are not importable there, so the
# tasks are library functions.
square = abs


@pytest.fixture(scope="module")
def ray_backend() -> Iterator[RayBackend]:
    backend = RayBackend(num_cpus=2, namespace="silobridge-tests", resources={RESOURCE: 0.001})
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def keys() -> tuple[PublicKey, PrivateKey]:
    return generate_keypair(1024)


def test_map_runs_tasks_in_order(ray_backend: RayBackend) -> None:
    assert ray_backend.started_ray
    assert ray_backend.workers == 2
    assert ray_backend.map(square, list(range(-5, 5))) == [abs(i) for i in range(-5, 5)]
    assert os.getpid() not in set(ray_backend.starmap(os.getpid, [(), ()]))


def test_placement_by_custom_resource(ray_backend: RayBackend) -> None:
    assert ray_backend.map_on(square, [-2, 3], [{RESOURCE: 0.001}, {}]) == [2, 3]
    with pytest.raises(InvalidInput, match="placements"):
        ray_backend.map_on(square, [1], [])


def test_task_errors_keep_their_type(ray_backend: RayBackend) -> None:
    bad_chunk = (11, 13, b"\x01\x02\x03")  # 3 bytes: not a whole ciphertext
    with pytest.raises(CryptoError, match="not a multiple of the width"):
        ray_backend.map(parallel.decrypt_chunk, [bad_chunk])


def test_reuses_running_session(ray_backend: RayBackend) -> None:
    again = create_compute("ray", workers=1)
    assert isinstance(again, ComputeBackend) and again.workers == 1
    assert not again.started_ray  # it joined the running session, so close() leaves Ray up
    again.close()
    assert ray_backend.map(square, [-4]) == [4]


def test_paillier_batches_through_ray(ray_backend: RayBackend, keys: tuple[PublicKey, PrivateKey]) -> None:
    pk, sk = keys
    rng = np.random.default_rng(0)
    x = rng.integers(-(2**40), 2**40, size=300)
    X = rng.integers(-(2**20), 2**20, size=(300, 2))
    ev = PublicKey(pk.n).encrypt_vector(x, compute=ray_backend)
    assert sk.decrypt_int(ev, compute=ray_backend) == x.tolist()
    assert (
        sk.decrypt_int(ev.rmatmul(X, compute=ray_backend)) == (X.T.astype(object) @ x.astype(object)).tolist()
    )
    ev2 = sk.encrypt_vector(x, compute=ray_backend).obfuscate(compute=ray_backend)
    assert sk.decrypt_int(ev2) == x.tolist()

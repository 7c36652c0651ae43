"""Secure aggregation (Bonawitz et al.): only the sum decodes, dropouts are recovered, the threshold holds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from silobridge.crypto.secagg import SecAggClient, SecAggServer, shamir
from silobridge.errors import CryptoError, DisclosureRefused, IntegrityError
from silobridge.federation import codec
from silobridge.ml.fixed_point import FixedPoint

CONTEXT = b"job/task/1/r0"
SIZE = 257


def _wire(value: Any) -> Any:
    """What the other side decodes: every message goes through the codec, as on the wire."""
    return codec.from_bytes(codec.to_bytes(value))


def _inputs(ids: list[int]) -> dict[int, np.ndarray]:
    return {p: np.random.default_rng(p).normal(scale=50.0, size=SIZE) for p in ids}


def _setup(ids: list[int], t: int) -> tuple[dict[int, SecAggClient], SecAggServer, dict[int, Any]]:
    clients = {p: SecAggClient(p, t, CONTEXT) for p in ids}
    server = SecAggServer(ids, t, CONTEXT, SIZE)
    roster = _wire(server.roster({p: _wire(c.advertise()) for p, c in clients.items()}))
    routed = server.route_shares({p: _wire(c.share_keys(roster)) for p, c in clients.items()})
    return clients, server, routed


def test_only_the_sum_of_all_inputs_decodes() -> None:
    ids = [2, 5, 7]
    fp = FixedPoint(24, 1e6, len(ids))
    xs = _inputs(ids)
    clients, server, routed = _setup(ids, 2)
    masked = {
        p: _wire(clients[p].masked_input(_wire(routed[p]), fp.encode(xs[p])).view(np.int64)) for p in ids
    }
    for p in ids:  # a single masked input looks nothing like its input
        assert np.median(np.abs(fp.decode(masked[p].view(np.uint64)) - xs[p])) > 1e6
    for a, b in [(2, 5), (2, 7), (5, 7)]:  # nor does the sum of any two of them
        pair = masked[a].view(np.uint64) + masked[b].view(np.uint64)
        assert np.median(np.abs(fp.decode(pair) - xs[a] - xs[b])) > 1e6
    survivors = _wire(server.survivors(masked))
    total = server.unmask({p: _wire(clients[p].reveal(survivors)) for p in ids})
    assert np.allclose(fp.decode(total), xs[2] + xs[5] + xs[7], atol=len(ids) * fp.precision)


def test_a_client_that_drops_after_sharing_keys_is_unmasked_from_the_sum() -> None:
    ids = [1, 2, 3, 4]
    fp = FixedPoint(24, 1e6, len(ids))
    xs = _inputs(ids)
    clients, server, routed = _setup(ids, 3)
    alive = [1, 2, 4]  # party 3 shared its keys, then sent nothing
    masked = {
        p: _wire(clients[p].masked_input(_wire(routed[p]), fp.encode(xs[p])).view(np.int64)) for p in alive
    }
    survivors = _wire(server.survivors(masked))
    reveals = {p: _wire(clients[p].reveal(survivors)) for p in alive}
    total = server.unmask(reveals)
    assert np.allclose(fp.decode(total), xs[1] + xs[2] + xs[4], atol=len(ids) * fp.precision)
    # The survivors revealed party 3's mask key share and no share of its self-mask seed.
    for r in reveals.values():
        assert list(r["parties"]) == [1, 2, 3, 4]


def test_below_the_threshold_nothing_is_unmasked() -> None:
    ids = [1, 2, 3, 4]
    fp = FixedPoint(24, 1e6, len(ids))
    clients, server, routed = _setup(ids, 3)
    alive = [1, 2]
    masked = {
        p: _wire(clients[p].masked_input(_wire(routed[p]), fp.encode(np.ones(SIZE))).view(np.int64))
        for p in alive
    }
    with pytest.raises(DisclosureRefused, match=r"2 of 4 clients remain, below the threshold of 3; no sum"):
        server.survivors(masked)
    # A client refuses too, if a server announced too few survivors: it reveals no share.
    with pytest.raises(DisclosureRefused, match="unmasking"):
        clients[1].reveal({"parties": np.array([1, 2], dtype=np.int64)})


def test_a_client_never_reveals_for_a_set_it_did_not_mask_with() -> None:
    ids = [1, 2, 3]
    clients, _, routed = _setup(ids, 2)
    clients[1].masked_input(_wire(routed[1]), np.zeros(SIZE, dtype=np.uint64))
    with pytest.raises(IntegrityError, match="subset"):
        clients[1].reveal({"parties": np.array([1, 9], dtype=np.int64)})


def test_tampered_key_shares_are_rejected() -> None:
    ids = [1, 2, 3]
    clients, _, routed = _setup(ids, 2)
    msg = _wire(routed[2])
    blob = bytearray(msg["ciphertexts"][0])
    blob[-1] ^= 1
    msg["ciphertexts"][0] = bytes(blob)
    with pytest.raises(CryptoError, match="failed authentication"):
        clients[2].masked_input(msg, np.zeros(SIZE, dtype=np.uint64))


def test_shamir_rebuilds_from_any_t_shares_only() -> None:
    secret = bytes(range(32))
    shares = shamir.split(secret, [1, 2, 3, 4, 5], 3)
    for chosen in ([1, 2, 3], [2, 4, 5], [1, 3, 5]):
        assert shamir.combine({x: shares[x] for x in chosen}, 3, 32) == secret
    with pytest.raises(CryptoError, match="needs 3"):
        shamir.combine({1: shares[1], 2: shares[2]}, 3, 32)
    # Two shares are consistent with any secret: a wrong third share rebuilds another value.
    fake = shamir.split(bytes(32), [3], 1)[3]
    rebuilt = shamir.combine({1: shares[1], 2: shares[2], 3: fake}, 3, shamir.SHARE_BYTES)
    assert rebuilt != secret.rjust(shamir.SHARE_BYTES, b"\0")


def test_fixed_point_refuses_values_that_could_overflow_the_sum() -> None:
    with pytest.raises(Exception, match="overflows"):
        FixedPoint(24, 2.0**36, 10)
    fp = FixedPoint(24, 1e3, 10)
    with pytest.raises(Exception, match="exceeds the fixed-point bound"):
        fp.encode(np.array([1e4]))
    worst = fp.encode(np.full(4, -1e3))
    total = sum((worst for _ in range(10)), np.zeros(4, dtype=np.uint64))
    assert np.allclose(fp.decode(total), -1e4)

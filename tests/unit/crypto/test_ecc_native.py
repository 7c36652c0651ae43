"""The native X25519 kernel (AVX-512 IFMA) gives the bytes of ``cryptography``'s X25519, and PSI
falls back to the latter, with the same results, where the kernel is not built."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from silobridge.ml import ecc, native
from silobridge.ml.native import build

needs_native = pytest.mark.skipif(not native.available(), reason="native X25519 not built or no IFMA")


def _python(scalar: bytes, points: np.ndarray) -> np.ndarray:
    old = native.enable(False)
    try:
        return ecc.blind_points(scalar, points)
    finally:
        native.enable(old)


@needs_native
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 333])
def test_native_blinding_matches_cryptography_bit_for_bit(n: int) -> None:
    rng = np.random.default_rng(n)
    hashed = ecc.hash_ids([f"id-{i}" for i in range(n)])
    # Arbitrary bytes too: values >= p, bit 255 set, points on the twist; X25519 takes them all.
    raw = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    raw[: n // 3, 31] |= 0x80
    raw[n // 3 : n // 2] = 0xFF
    for points in (hashed, raw):
        for _ in range(3):
            scalar = rng.bytes(32)
            got, bad = native.x25519(scalar, points)
            assert bad == -1
            assert np.array_equal(got, _python(scalar, points))


@needs_native
def test_native_blinding_commutes_and_keeps_the_rfc9380_points() -> None:
    """Double blinding agrees across the two paths, so parties with and without the kernel match."""
    pts = ecc.hash_ids([b"", b"abc", *(f"u{i}".encode() for i in range(30))])
    a, b = ecc.new_scalar(), ecc.new_scalar()
    assert np.array_equal(ecc.blind(a, ecc.blind(b, pts)), _python(b, _python(a, pts)))


@needs_native
def test_small_order_points_are_refused_at_the_same_index() -> None:
    pts = ecc.hash_ids([f"x{i}" for i in range(12)])
    pts[5] = 0  # u = 0: order 2 at most, every result is zero
    pts[9, 0] = 1  # u = 1: order 4
    pts[9, 1:] = 0
    scalar = ecc.new_scalar()
    with pytest.raises(ValueError, match="point 5 has small order"):
        ecc.blind_points(scalar, pts)
    with pytest.raises(ValueError, match="point 5 has small order"):
        _python(scalar, pts)


def test_psi_points_are_the_same_without_the_kernel() -> None:
    pts = ecc.hash_ids([f"id{i}" for i in range(17)])
    scalar = bytes(range(32))
    old = native.enable(False)
    try:
        assert not native.available()
        plain = ecc.blind(scalar, pts)
    finally:
        native.enable(old)
    assert np.array_equal(plain, ecc.blind(scalar, pts))


def test_build_fails_over_without_a_compiler(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "_x25519.so"
    assert build.build(["/nonexistent/cc"], target) == "no C compiler (/nonexistent/cc)"
    broken = tmp_path / "cc"
    broken.write_text("#!/bin/sh\necho 'cc: error: unrecognized option -mavx512ifma' >&2\nexit 1\n")
    broken.chmod(0o755)
    assert (
        build.build([str(broken)], target)
        == "compilation failed: cc: error: unrecognized option -mavx512ifma"
    )
    assert not target.exists()
    assert build.main(["--cc", "/nonexistent/cc"]) == 0  # make install goes on
    assert "PSI blinds with cryptography's X25519" in capsys.readouterr().err


def test_batched_hash_to_field_is_rfc9380s() -> None:
    msgs = [b"", b"abc", "ünïcode", *(f"id-{i}".encode() for i in range(50))]
    for dst in (ecc.DEFAULT_DST, b"QUUX-V01-CS02-with-curve25519_XMD:SHA-512_ELL2_NU_"):
        got = ecc._field_elements(msgs, dst)
        want = [ecc.hash_to_field(m if isinstance(m, bytes) else m.encode(), dst) for m in msgs]
        assert [int.from_bytes(row.tobytes(), "little") for row in got] == want


@needs_native
def test_native_elligator2_matches_python_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    values = [
        0,
        1,
        2,
        ecc.P - 1,
        (ecc.P - 1) // 2,
        *(int.from_bytes(rng.bytes(32), "little") % ecc.P for _ in range(301)),
    ]
    fields = np.frombuffer(b"".join(v.to_bytes(32, "little") for v in values), dtype=np.uint8).reshape(-1, 32)
    got = native.elligator2(fields)
    assert got is not None
    assert [int.from_bytes(row.tobytes(), "little") for row in got] == [ecc.elligator2(v) for v in values]


@needs_native
def test_hashed_ids_are_the_same_with_and_without_the_kernel() -> None:
    ids = np.array([f"user-{i:09d}" for i in range(203)] + ["", "ünïcode"])
    with_kernel = ecc.hash_ids(ids)
    old = native.enable(False)
    try:
        assert np.array_equal(ecc.hash_ids(ids), with_kernel)
    finally:
        native.enable(old)
    assert with_kernel[0].tobytes() == ecc.hash_to_point(b"user-000000000")

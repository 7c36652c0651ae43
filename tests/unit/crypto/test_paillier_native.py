"""The optional native kernel against the pure-Python engine, bit for bit, and the fallback without it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import gmpy2
import numpy as np
import pytest
from gmpy2 import mpz

from silobridge.crypto import generate_keypair
from silobridge.crypto.paillier import kernels, native
from silobridge.crypto.paillier.fixed_base import FixedBaseTable
from silobridge.crypto.paillier.multiexp import multi_column_msm
from silobridge.crypto.paillier.native import build
from silobridge.errors import CryptoError

needs_native = pytest.mark.skipif(not native.available(), reason="native kernel not built (make native)")


def _modulus(bits: int, rng: random.Random) -> mpz:
    p = gmpy2.next_prime(rng.getrandbits(bits // 2) | (1 << (bits // 2 - 1)))
    q = gmpy2.next_prime(rng.getrandbits(bits // 2) | (1 << (bits // 2 - 1)))
    return mpz(p * q) ** 2


@pytest.fixture
def python_engine() -> Iterator[None]:
    old = native.enable(False)
    try:
        yield
    finally:
        native.enable(old)


@needs_native
@pytest.mark.parametrize(
    ("bits", "window"), [(512, 4), (512, 12), (1024, 8), (1024, 12), (2048, 4), (2048, 8)]
)
def test_fixed_base_matches_python_table(bits: int, window: int) -> None:
    rng = random.Random(bits * 100 + window)
    n2 = _modulus(bits, rng)
    base = mpz(rng.getrandbits(2 * bits)) % n2
    exp_bits = bits + 128 if window < 12 else 268  # 12-bit tables are large: fewer rows, a partial last digit
    fast = FixedBaseTable(base, n2, exp_bits, window)
    assert fast.native is not None
    old = native.enable(False)
    try:
        slow = FixedBaseTable(base, n2, exp_bits, window)
    finally:
        native.enable(old)
    assert slow.native is None
    old = native.enable_ifma(False)
    try:
        scalar = FixedBaseTable(base, n2, exp_bits, window)  # the 64-bit path, on any CPU
    finally:
        native.enable_ifma(old)
    assert scalar.native is not None and not scalar.native[1].ifma
    nb = fast.n_bytes
    # random exponents plus the edge cases: zero, one, all ones, a single top digit
    special = [bytes(nb), (1).to_bytes(nb, "little"), b"\xff" * nb, bytes(nb - 1) + b"\x80"]
    digits = b"".join(special) + rng.randbytes(nb * 13)
    got = fast.pow_many(digits)  # 17 exponents: two full groups of eight lanes and one short
    assert got == slow.pow_many(digits)
    assert scalar.pow_many(digits) == got
    assert got[0] == 1 and got[1] == base
    assert got[2] == gmpy2.powmod(base, (1 << (8 * nb)) - 1, n2)
    assert fast.pow_bytes(digits[nb * 5 : nb * 6]) == got[5]


@needs_native
def test_ifma_path_is_used_where_the_cpu_has_it() -> None:
    """On a CPU with AVX-512 IFMA the tables are in radix 2**52 (the lanes path); elsewhere 64-bit."""
    n2 = _modulus(512, random.Random(9))
    table = FixedBaseTable(mpz(7), n2, 640, 8)
    assert table.native is not None
    assert table.native[1].ifma == native.ifma()
    assert table.pow(12345) == gmpy2.powmod(7, 12345, n2)


@needs_native
@pytest.mark.parametrize("bits", [512, 1024, 2048])
def test_msm_matches_python_multiexp(bits: int) -> None:
    rng = random.Random(bits)
    gen = np.random.default_rng(bits)
    n2 = _modulus(bits, rng)
    bases = [mpz(rng.getrandbits(2 * bits)) % n2 for _ in range(300)]
    scalars = gen.integers(-(1 << 20), 1 << 20, size=(300, 5))
    scalars[:, 1] = 0  # an all-zero column is E(0) = 1
    scalars[:, 2] = np.abs(scalars[:, 2])  # no negative term
    scalars[:, 3] = -np.abs(scalars[:, 3]) - 1  # only negative terms
    scalars[0, 4] = (1 << 62) - 1  # the widest scalar the native path takes
    mod = native.Modulus(n2)
    got = native.msm(mod, bases, scalars)  # eight columns a time in IFMA lanes where the CPU has it
    assert got == multi_column_msm(bases, scalars, n2)
    assert got[1] == 1
    wide = np.repeat(scalars, 2, axis=1)[:, :9]  # nine columns: one full group of lanes and one of one
    assert native.msm(mod, bases, wide) == native.msm(mod, bases, wide, lanes=False)
    few = scalars[:3, :1]  # fewer terms than the Python engine's bucket threshold
    assert native.msm(mod, bases[:3], few) == multi_column_msm(bases[:3], few, n2)


@needs_native
def test_mulmod_and_the_engine_paths_match_python(python_engine: None) -> None:
    pk, sk = generate_keypair(1024)
    values = np.random.default_rng(5).normal(size=40)
    X = np.random.default_rng(6).normal(size=(40, 3))
    enc = pk.encrypt_vector(values)
    n2 = mpz(pk.nsquare)
    ys = [
        mpz(y) for y in kernels.make_public_obfuscators(40, pk.n, pk.obfuscation_base, pk.obfuscation_bits, 8)
    ]
    slow_obf = kernels.obfuscate_with(enc.ciphertexts, ys, n2)
    slow_dot = enc.rmatmul(X, exponent=-4)
    native.enable(True)
    assert kernels.obfuscate_with(enc.ciphertexts, ys, n2) == slow_obf
    fast_dot = enc.rmatmul(X, exponent=-4)
    assert fast_dot.ciphertexts == slow_dot.ciphertexts
    assert np.allclose(sk.decrypt_vector(fast_dot), X.T @ values, atol=1e-3)


@needs_native
def test_native_refuses_bad_arguments() -> None:
    with pytest.raises(CryptoError, match="odd modulus"):
        native.Modulus(2**64)
    mod = native.Modulus(mpz(gmpy2.next_prime(2**100)) ** 2)
    with pytest.raises(CryptoError, match="does not match"):
        native.msm(mod, [mpz(3)], np.ones((2, 1), dtype=np.int64))
    with pytest.raises(CryptoError, match="out of range"):
        native.msm(mod, [mpz(3)], np.array([[np.iinfo(np.int64).min]]))
    p2 = mpz(gmpy2.next_prime(2**100)) ** 2
    with pytest.raises(CryptoError, match="not invertible"):  # a negative power of a non-unit
        native.msm(native.Modulus(p2), [gmpy2.next_prime(2**100)], np.array([[-1]]))


def test_engine_without_native_kernel_gives_the_same_results(python_engine: None) -> None:
    """The fallback: with the kernel off, every path runs in Python and decrypts the same."""
    assert not native.available()
    pk, sk = generate_keypair(1024)
    values = np.linspace(-3, 3, 25)
    enc = pk.encrypt_vector(values)
    assert np.allclose(sk.decrypt_vector(enc.obfuscate()), values)
    X = np.random.default_rng(1).normal(size=(25, 4))
    assert np.allclose(sk.decrypt_vector(enc.rmatmul(X, exponent=-4)), X.T @ values, atol=1e-3)
    table = kernels.public_table(pk.n, pk.obfuscation_base, pk.obfuscation_bits, 8)
    assert table.native is None and table.rows


def test_build_fails_over_without_a_compiler(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "_montgomery.so"
    why = build.build(["/nonexistent/cc"], target)
    assert why is not None and "no C compiler" in why
    assert not target.exists()
    broken = tmp_path / "cc"
    broken.write_text("#!/bin/sh\necho 'cc: fatal error: gmp.h: No such file' >&2\nexit 1\n")
    broken.chmod(0o755)
    why = build.build([str(broken)], target)
    assert why is not None and "gmp.h" in why and not target.exists()
    assert build.main(["--cc", "/nonexistent/cc"]) == 0  # make install goes on
    assert "pure-Python engine is used" in capsys.readouterr().err

"""Obfuscators made ahead of time, off the critical path: a bounded pool, each one used once.

Encrypting or re-randomising a ciphertext costs one obfuscator ``y = h**r`` (``|n| + 128`` random
bits, about 150 modular multiplications with the fixed-base table) plus one multiplication. The
obfuscator does not depend on the plaintext, so a party can make the next round's obfuscators while
it waits for a peer, and then encrypt (``y + n*(m*y mod n)``) or re-randomise (``c * y``) with
one multiplication per element when the data arrives.

Guarantees, the same as for obfuscators made on the spot (see ``docs/crypto.md``):

* every obfuscator has its own fresh exponent from the OS CSPRNG (drawn in the worker that makes
  it), and :meth:`ObfuscatorPool.take` removes what it hands out: an obfuscator is never used twice;
* the pool never holds more than ``capacity`` obfuscators (memory: ``capacity * |n^2|`` bits);
* obfuscators stay inside the party's process (and its own compute workers) like the key's ``h``.

When the pool runs short, :meth:`take` makes the rest at once, so a pool only changes when the
work is done, never the result's distribution.

With the native kernel (which releases the GIL) and a backend that runs beside the caller, the
background fill runs in the pool's own thread, in batches of ``NATIVE_FILL_BATCH``, and leaves the
compute backend to the critical path: a ``take`` or a product submitted while the pool fills no
longer queues behind a fill chunk. With a backend that places work on the party's nodes (Ray), the
fill goes through the backend like all other work: in its own thread it would take a core of the
driver's host that no node's CPU budget counts.
"""

from __future__ import annotations

import threading
from collections import deque

from gmpy2 import mpz

from silobridge.compute.base import ComputeBackend
from silobridge.crypto.paillier import native, parallel
from silobridge.crypto.paillier.keys import PublicKey
from silobridge.errors import CryptoError

MAX_CAPACITY = 1 << 22
FILL_BATCH = 4096
NATIVE_FILL_BATCH = 512


class ObfuscatorPool:
    """Up to ``capacity`` fresh obfuscators of ``public_key``, refilled by a background thread."""

    def __init__(
        self,
        public_key: PublicKey,
        capacity: int,
        compute: ComputeBackend | None = None,
        *,
        demand: int | None = None,
    ) -> None:
        """``demand``: how many obfuscators the job will take in all, if known; the background fill
        stops there (no last batch made for a round that never comes), ``take`` still never runs short."""
        if not 1 <= capacity <= MAX_CAPACITY:
            raise CryptoError(f"obfuscator pool capacity must be in [1, {MAX_CAPACITY}], got {capacity}")
        if demand is not None and demand < 0:
            raise CryptoError(f"obfuscator demand must be non-negative, got {demand}")
        self.public_key, self.capacity, self.compute = public_key, capacity, compute
        self.demand = demand
        self._ready: deque[mpz] = deque()
        self._lock = threading.Lock()
        self._filler: threading.Thread | None = None
        self._closed = threading.Event()
        self.made = 0  # obfuscators made so far (by the filler or on demand)
        self.handed_out = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._ready)

    def _make(self, count: int, *, background: bool = False) -> list[mpz]:
        pk = self.public_key
        compute = None if background else self.compute
        ys = parallel.public_obfuscators(
            count, pk.n, pk.obfuscation_base, pk.obfuscation_bits, pk.window, compute
        )
        with self._lock:
            self.made += len(ys)
        return ys

    def take(self, count: int) -> list[mpz]:
        """``count`` obfuscators, removed from the pool; any shortfall is made now."""
        if count < 0:
            raise CryptoError(f"cannot take {count} obfuscators")
        with self._lock:
            k = min(count, len(self._ready))
            out = [self._ready.popleft() for _ in range(k)]
            self.handed_out += count
        if k < count:
            out.extend(self._make(count - k))
        return out

    def fill(self) -> None:
        """Top the pool up to ``capacity`` in a background thread (no-op while one is running)."""
        if self._closed.is_set() or (self._filler is not None and self._filler.is_alive()):
            return
        self._filler = threading.Thread(target=self._fill, name="obfuscator-pool", daemon=True)
        self._filler.start()

    def _fill(self) -> None:
        while not self._closed.is_set():
            with self._lock:
                missing = self.capacity - len(self._ready)
                if self.demand is not None:  # what the job has yet to take, less what is ready
                    missing = min(missing, self.demand - self.handed_out - len(self._ready))
            if missing <= 0:
                return
            if native.available() and (self.compute is None or self.compute.runs_in_process):
                # GIL-free: this thread, small batches, the backend stays free
                ys = self._make(min(missing, NATIVE_FILL_BATCH), background=True)
            else:
                ys = self._make(min(missing, FILL_BATCH))
            with self._lock:
                room = self.capacity - len(self._ready)
                self._ready.extend(ys[:room])  # a take() in between may have made its own: stay bounded

    def wait_filled(self, timeout: float | None = None) -> bool:
        """Block until the background fill finishes (tests and benchmarks)."""
        filler = self._filler
        if filler is not None:
            filler.join(timeout)
            return not filler.is_alive()
        return True

    def close(self) -> None:
        """Stop filling and forget every obfuscator that was not handed out."""
        self._closed.set()
        if self._filler is not None:
            self._filler.join()
        with self._lock:
            self._ready.clear()

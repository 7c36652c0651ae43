"""Where a ``hetero_lr`` run spends its time, per party and per epoch (``make bench-lr``).

The benchmark runs every party's role function in its own thread. :class:`PhaseClock` wraps the
engine's public operations (class attributes, for the duration of one run) and the party's
federation, and charges each call's wall time to the calling party's current phase:

* ``encrypt`` / ``decrypt``: public- or private-key encryption, decryption;
* ``scalar``: elementwise products and additions with plaintext or ciphertexts, alignment;
* ``dot``: encrypted matrix-vector products (``X^T [[d]]``, dot products);
* ``obfuscate``: re-randomisation, pooled obfuscators included;
* ``serialise``: the codec (Python value <-> protobuf bytes, ciphertext checks included);
* ``transfer``: handing bytes to the bus; ``wait``: blocked receiving from a peer;
* ``other``: the rest of the epoch's wall time (plaintext numpy, the optimiser, bookkeeping).

Nested calls are charged once, to the outermost phase. A party's epoch ends at its
``ctx.progress`` report; what comes before its first message of epoch 0 is ``setup`` (keys,
plan). Work on helper threads of a party (pools filled in the background) is not charged: it
is off the critical path by construction, and shows up as shorter phases.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from silobridge.federation.context import Federation

PHASES = ("encrypt", "decrypt", "scalar", "dot", "obfuscate", "serialise", "transfer", "wait", "other")

# (module, class or None, attribute, phase): looked up by name so that an older tree (the
# baseline of the same run) is measured with the same clock; missing attributes are skipped.
HOOKS: tuple[tuple[str, str | None, str, str], ...] = (
    ("silobridge.crypto.paillier.keys", "PublicKey", "encrypt_vector", "encrypt"),
    ("silobridge.crypto.paillier.keys", "PrivateKey", "encrypt_vector", "encrypt"),
    ("silobridge.crypto.paillier.keys", "PrivateKey", "decrypt_vector", "decrypt"),
    ("silobridge.crypto.paillier.vector", "EncryptedVector", "mul", "scalar"),
    ("silobridge.crypto.paillier.vector", "EncryptedVector", "_add_plain", "scalar"),
    ("silobridge.crypto.paillier.vector", "EncryptedVector", "_add_encrypted", "scalar"),
    ("silobridge.crypto.paillier.vector", "EncryptedVector", "align", "scalar"),
    ("silobridge.crypto.paillier.vector", "EncryptedVector", "affine", "scalar"),
    ("silobridge.crypto.paillier.vector", "EncryptedVector", "rmatmul", "dot"),
    ("silobridge.crypto.paillier.vector", "EncryptedVector", "obfuscate", "obfuscate"),
    ("silobridge.federation.codec", None, "to_bytes", "serialise"),
    ("silobridge.federation.codec", None, "from_bytes", "serialise"),
)

_TAG = re.compile(r"^e(\d+)")


class PhaseClock:
    """Per (party, epoch, phase) seconds of one run; install with :meth:`installed`."""

    def __init__(self) -> None:
        self.seconds: defaultdict[tuple[int, str, str], float] = defaultdict(float)
        self.epoch_wall: dict[tuple[int, str], float] = {}
        self._local = threading.local()
        self._lock = threading.Lock()

    # -- the calling party ------------------------------------------------------------------------

    def attach(self, party: int) -> None:
        """Called at the start of a party's role function, on its thread."""
        self._local.party, self._local.epoch, self._local.depth = party, "setup", 0
        self._local.mark = time.perf_counter()

    def _state(self) -> Any:
        return self._local if getattr(self._local, "party", None) is not None else None

    def _saw_tag(self, tag: str) -> None:
        st = self._state()
        if st is not None and st.epoch == "setup" and _TAG.match(tag):
            self._close_epoch(st, "0")

    def epoch_done(self) -> None:
        """A party's progress report: its current epoch ends here."""
        st = self._state()
        if st is None:
            return
        current = 0 if st.epoch == "setup" else int(st.epoch)
        self._close_epoch(st, str(current + 1))

    def _close_epoch(self, st: Any, following: str) -> None:
        now = time.perf_counter()
        with self._lock:
            self.epoch_wall[(st.party, st.epoch)] = now - st.mark
        st.epoch, st.mark = following, now

    # -- charging --------------------------------------------------------------------------------

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        st = self._state()
        if st is None or st.depth:
            if st is not None:
                st.depth += 1
            try:
                yield
            finally:
                if st is not None:
                    st.depth -= 1
            return
        st.depth = 1
        t0 = time.perf_counter()
        try:
            yield
        finally:
            st.depth = 0
            dt = time.perf_counter() - t0
            with self._lock:
                self.seconds[(st.party, st.epoch, name)] += dt

    def wrap(self, fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return fn(*args, **kwargs)

        timed.__wrapped__ = fn  # type: ignore[attr-defined]
        return timed

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Wrap the engine and codec for the duration of one run (the benchmark process only)."""
        import importlib

        undo: list[tuple[Any, str, Any]] = []
        for module_name, cls_name, attr, name in HOOKS:
            owner: Any = importlib.import_module(module_name)
            if cls_name is not None:
                owner = getattr(owner, cls_name, None)
            original = getattr(owner, attr, None) if owner is not None else None
            if original is None:
                continue
            undo.append((owner, attr, original))
            setattr(owner, attr, self.wrap(original, name))
        try:
            yield
        finally:
            for owner, attr, original in reversed(undo):
                setattr(owner, attr, original)

    # -- results -----------------------------------------------------------------------------------

    def breakdown(self, names: dict[int, str]) -> dict[str, Any]:
        """``{"phases": totals, "by_party": {role: totals}, "per_epoch": [{role: phases}]}`` in seconds."""
        by_party: dict[str, dict[str, float]] = {}
        epochs: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
        for (party, epoch), wall in sorted(self.epoch_wall.items()):
            role = names.get(party, str(party))
            row = {p: self.seconds.get((party, epoch, p), 0.0) for p in PHASES if p != "other"}
            row["other"] = max(0.0, wall - sum(row.values()))
            row["wall"] = wall
            epochs[epoch][role] = {k: round(v, 4) for k, v in row.items()}
            if epoch != "setup":
                acc = by_party.setdefault(role, dict.fromkeys((*PHASES, "wall"), 0.0))
                for k, v in row.items():
                    acc[k] += v
        totals = dict.fromkeys(PHASES, 0.0)
        for row in by_party.values():
            for p in PHASES:
                totals[p] += row[p]
        order = ["setup", *sorted((e for e in epochs if e != "setup"), key=int)]
        return {
            "phases": {k: round(v, 3) for k, v in totals.items()},
            "by_party": {r: {k: round(v, 3) for k, v in row.items()} for r, row in by_party.items()},
            "per_epoch": [{"epoch": e, **epochs[e]} for e in order if e in epochs],
        }


class ClockedFederation(Federation):
    """A party's federation with ``transfer`` (send) and ``wait`` (recv) charged to the clock."""

    def __init__(self, inner: Federation, clock: PhaseClock) -> None:
        self._inner, self._clock = inner, clock

    def send(self, dst_party: int, dst_role: str, name: str, tag: str, payload: bytes) -> None:
        self._clock._saw_tag(tag)
        with self._clock.phase("transfer"):
            self._inner.send(dst_party, dst_role, name, tag, payload)

    def recv(self, src_party: int, name: str, tag: str, timeout: float) -> bytes:
        self._clock._saw_tag(tag)
        with self._clock.phase("wait"):
            return self._inner.recv(src_party, name, tag, timeout)

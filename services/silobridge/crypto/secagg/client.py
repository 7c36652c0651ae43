"""A client's side of one secure-aggregation round (Bonawitz et al. 2017, semi-honest server).

The four steps each turn the server's last message into the next message to send:

1. :meth:`advertise` - two fresh X25519 public keys: ``c`` (encrypts key shares to peers),
   ``s`` (pairwise masks).
2. :meth:`share_keys` - given the roster U1: Shamir shares (threshold t) of the ``s`` private
   key and of a fresh self-mask seed ``b``, one pair per peer, sealed under the ``c`` agreement.
3. :meth:`masked_input` - given the shares of U2: ``x + PRG(b) + sum_{v in U2} +-PRG(s_uv)``
   mod 2^64 (``+`` when u < v), so pairwise masks cancel in the sum.
4. :meth:`reveal` - given the survivors U3: for each peer, the share of ``b`` if it survived,
   the share of its ``s`` key if it dropped; never both, and nothing at all below the threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from silobridge.crypto.secagg import messages, primitives, shamir
from silobridge.errors import DisclosureRefused, IntegrityError

_ID_BYTES = 8


def refusal(count: int, total: int, threshold: int, where: str) -> DisclosureRefused:
    return DisclosureRefused(
        f"secure aggregation refused at {where}: {count} of {total} clients remain, "
        f"below the threshold of {threshold}; no sum was revealed"
    )


def pairwise_masks(
    sk: X25519PrivateKey, me: int, peers: dict[int, bytes], context: bytes, size: int
) -> np.ndarray:
    """``sum_v +-PRG(s_{me,v})`` mod 2^64: ``+`` towards larger party ids, ``-`` towards smaller."""
    total = np.zeros(size, dtype=np.uint64)
    for v, pk in peers.items():
        mask = primitives.expand(primitives.agree(sk, pk, primitives.MASK_PURPOSE, context, me, v), size)
        total = total + mask if me < v else total - mask
    return total


class SecAggClient:
    def __init__(self, me: int, threshold: int, context: bytes) -> None:
        self.me, self.threshold, self.context = me, threshold, context
        self._c = X25519PrivateKey.generate()
        self._s = X25519PrivateKey.generate()
        self._b = primitives.fresh_seed()
        self._roster: list[int] = []
        self._s_keys: dict[int, bytes] = {}
        self._c_keys: dict[int, bytes] = {}
        self._held: dict[int, tuple[bytes, bytes]] = {}  # party -> (share of s key, share of b)
        self._u2: list[int] = []

    def advertise(self) -> dict[str, Any]:
        return {"keys": [primitives.public_bytes(self._c), primitives.public_bytes(self._s)]}

    def share_keys(self, roster: Any) -> dict[str, Any]:
        msg = messages.fields(roster, {"parties", "keys"}, "key roster")
        ids = messages.parties(msg["parties"], "key roster")
        keys = messages.byte_list(msg["keys"], 2 * len(ids), "key roster", primitives.KEY_BYTES)
        if self.me not in ids:
            raise IntegrityError(f"party {self.me} is missing from the key roster")
        if keys[2 * ids.index(self.me)] != self.advertise()["keys"][0]:
            raise IntegrityError(f"the key roster holds another key for party {self.me}")
        if len(ids) < self.threshold:
            raise refusal(len(ids), len(ids), self.threshold, "key sharing")
        self._roster = ids
        self._c_keys = {p: keys[2 * i] for i, p in enumerate(ids)}
        self._s_keys = {p: keys[2 * i + 1] for i, p in enumerate(ids)}
        xs = [i + 1 for i in range(len(ids))]
        s_shares = shamir.split(primitives.private_bytes(self._s), xs, self.threshold)
        b_shares = shamir.split(self._b, xs, self.threshold)
        to, sealed = [], []
        for x, v in zip(xs, ids, strict=True):
            if v == self.me:
                self._held[v] = (s_shares[x], b_shares[x])
                continue
            key = primitives.agree(
                self._c, self._c_keys[v], primitives.SHARE_PURPOSE, self.context, self.me, v
            )
            plain = _pair(self.me, v) + s_shares[x] + b_shares[x]
            to.append(v)
            sealed.append(primitives.seal(key, plain, self.context + _pair(self.me, v)))
        return {"to": messages.ids_array(to), "ciphertexts": sealed}

    def masked_input(self, shares: Any, encoded: np.ndarray) -> np.ndarray:
        """``encoded`` (uint64, fixed point) masked; the peers whose shares arrived form U2."""
        msg = messages.fields(shares, {"from", "ciphertexts"}, "key shares")
        senders = messages.parties(msg["from"], "key shares")
        blobs = messages.byte_list(msg["ciphertexts"], len(senders), "key shares")
        for u, blob in zip(senders, blobs, strict=True):
            if u not in self._c_keys or u == self.me:
                raise IntegrityError(f"key shares from party {u}, which is not a peer of this round")
            key = primitives.agree(
                self._c, self._c_keys[u], primitives.SHARE_PURPOSE, self.context, u, self.me
            )
            plain = primitives.unseal(key, blob, self.context + _pair(u, self.me))
            if plain[: 2 * _ID_BYTES] != _pair(u, self.me):
                raise IntegrityError(f"the key shares from party {u} name other parties")
            body = plain[2 * _ID_BYTES :]
            self._held[u] = (body[: shamir.SHARE_BYTES], body[shamir.SHARE_BYTES :])
        self._u2 = sorted([*senders, self.me])
        if len(self._u2) < self.threshold:
            raise refusal(len(self._u2), len(self._roster), self.threshold, "masking")
        x = np.asarray(encoded, dtype=np.uint64)
        peers = {v: self._s_keys[v] for v in senders}
        masked = x + primitives.expand(self._b, len(x))
        return np.asarray(masked + pairwise_masks(self._s, self.me, peers, self.context, len(x)))

    def reveal(self, survivors: Any) -> dict[str, Any]:
        msg = messages.fields(survivors, {"parties"}, "survivors")
        u3 = messages.parties(msg["parties"], "survivors")
        if not set(u3) <= set(self._u2) or self.me not in u3:
            raise IntegrityError(
                "the survivors of the round are not a subset of the parties that shared keys"
            )
        if len(u3) < self.threshold:
            raise refusal(len(u3), len(self._roster), self.threshold, "unmasking")
        # A survivor's b share and a dropped party's s share: the server never gets both of one party.
        shares = [self._held[v][1] if v in u3 else self._held[v][0] for v in self._u2]
        return {"parties": messages.ids_array(self._u2), "shares": shares}


def _pair(a: int, b: int) -> bytes:
    return a.to_bytes(_ID_BYTES, "big", signed=True) + b.to_bytes(_ID_BYTES, "big", signed=True)

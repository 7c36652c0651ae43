"""The aggregator's side of one secure-aggregation round: it routes sealed key shares, adds
masked inputs, and removes the masks from the *sum* only, with shares from at least t clients.

Each step takes what arrived from the clients that are still in the round (a client that sends
nothing before the deadline has dropped) and refuses, with :class:`DisclosureRefused`, as soon
as fewer than ``threshold`` remain: the masked inputs stay masked and no sum is revealed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from silobridge.crypto.secagg import messages, primitives, shamir
from silobridge.crypto.secagg.client import pairwise_masks, refusal
from silobridge.errors import CryptoError, IntegrityError


class SecAggServer:
    def __init__(self, clients: list[int], threshold: int, context: bytes, size: int) -> None:
        if not 2 <= threshold <= len(clients):
            raise CryptoError(f"threshold {threshold} must lie between 2 and the {len(clients)} clients")
        self.clients, self.threshold, self.context, self.size = sorted(clients), threshold, context, size
        self.u1: list[int] = []
        self.u2: list[int] = []
        self.u3: list[int] = []
        self._s_keys: dict[int, bytes] = {}
        self._sum = np.zeros(size, dtype=np.uint64)

    def _enough(self, alive: list[int], where: str) -> None:
        if len(alive) < self.threshold:
            raise refusal(len(alive), len(self.clients), self.threshold, where)

    def roster(self, adverts: dict[int, Any]) -> dict[str, Any]:
        """U1 and every member's two public keys (sent to each member of U1)."""
        self.u1 = sorted(p for p in adverts if p in self.clients)
        self._enough(self.u1, "key advertisement")
        keys: list[bytes] = []
        for p in self.u1:
            pair = messages.byte_list(
                messages.fields(adverts[p], {"keys"}, f"keys of party {p}")["keys"],
                2,
                f"keys of party {p}",
                primitives.KEY_BYTES,
            )
            keys += pair
            self._s_keys[p] = pair[1]
        return {"parties": messages.ids_array(self.u1), "keys": keys}

    def route_shares(self, sent: dict[int, Any]) -> dict[int, dict[str, Any]]:
        """U2 and, per member, the sealed shares addressed to it by the other members of U2."""
        self.u2 = sorted(p for p in sent if p in self.u1)
        self._enough(self.u2, "key sharing")
        inbox: dict[int, tuple[list[int], list[bytes]]] = {v: ([], []) for v in self.u2}
        for u in self.u2:
            msg = messages.fields(sent[u], {"to", "ciphertexts"}, f"key shares of party {u}")
            to = messages.parties(msg["to"], f"key shares of party {u}")
            blobs = messages.byte_list(msg["ciphertexts"], len(to), f"key shares of party {u}")
            if sorted(to) != [v for v in self.u1 if v != u]:
                raise IntegrityError(f"party {u} did not share its keys with every party of the roster")
            for v, blob in zip(to, blobs, strict=True):
                if v in inbox:
                    inbox[v][0].append(u)
                    inbox[v][1].append(blob)
        return {v: {"from": messages.ids_array(f), "ciphertexts": c} for v, (f, c) in inbox.items()}

    def survivors(self, masked: dict[int, Any]) -> dict[str, Any]:
        """U3: the members of U2 whose masked input arrived; their sum is kept, still masked."""
        self.u3 = sorted(p for p in masked if p in self.u2)
        self._enough(self.u3, "masked input collection")
        total = np.zeros(self.size, dtype=np.uint64)
        for p in self.u3:
            total = total + messages.masked_vector(masked[p], self.size, f"masked input of party {p}")
        self._sum = total
        return {"parties": messages.ids_array(self.u3)}

    def unmask(self, reveals: dict[int, Any]) -> np.ndarray:
        """The sum of the survivors' inputs (uint64), from the shares of at least t survivors."""
        responders = sorted(p for p in reveals if p in self.u3)
        self._enough(responders, "unmasking")
        x_of = {p: i + 1 for i, p in enumerate(self.u1)}
        held: dict[int, dict[int, bytes]] = {v: {} for v in self.u2}
        for w in responders:
            msg = messages.fields(reveals[w], {"parties", "shares"}, f"revealed shares of party {w}")
            about = messages.parties(msg["parties"], f"revealed shares of party {w}")
            if sorted(about) != self.u2:
                raise IntegrityError(f"party {w} revealed shares for another set of parties")
            shares = messages.byte_list(msg["shares"], len(about), f"revealed shares of party {w}")
            for v, share in zip(about, shares, strict=True):
                held[v][x_of[w]] = share
        total = self._sum.copy()
        for u in self.u3:  # self-masks of the survivors
            b = shamir.combine(held[u], self.threshold, primitives.SEED_BYTES)
            total = total - primitives.expand(b, self.size)
        for v in self.u2:  # pairwise masks the survivors hold with parties that dropped
            if v in self.u3:
                continue
            sk = primitives.load_private(shamir.combine(held[v], self.threshold, primitives.KEY_BYTES))
            if primitives.public_bytes(sk) != self._s_keys[v]:
                raise CryptoError(f"the revealed shares do not rebuild the key party {v} advertised")
            # Survivor u added +-PRG(s_uv); v's view of the same masks has the opposite sign.
            total = total + pairwise_masks(
                sk, v, {u: self._s_keys[u] for u in self.u3}, self.context, self.size
            )
        return total

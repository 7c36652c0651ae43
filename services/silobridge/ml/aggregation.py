"""Summing one float vector per client at the arbiter, in the clear or by secure aggregation.

Model-agnostic (a vector of any layout) and driven through ``ctx.send`` / ``ctx.recv`` only.
With ``secure`` the four Bonawitz et al. steps run under tag ``r<round>``; the arbiter gets
masked 64-bit integers and unmasks only their sum. Without it, clients send ``update``.
A client that sends nothing within ``timeout_s`` of a step has dropped out of the round.
"""

from __future__ import annotations

import numpy as np

from silobridge.crypto.secagg import SecAggClient, SecAggServer
from silobridge.errors import ComponentError, IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml.fixed_point import FixedPoint
from silobridge.ml.protocol import collect_within, recv_checked


def _context(ctx: TaskContext, rnd: int) -> bytes:
    return f"{ctx.job_id}/{ctx.task_name}/{ctx.attempt}/r{rnd}".encode()


def client_send(
    ctx: TaskContext, rnd: int, vector: np.ndarray, *, secure: bool, fp: FixedPoint, threshold: int
) -> None:
    tag = f"r{rnd}"
    if not secure:
        ctx.send("arbiter", "update", np.asarray(vector, dtype=np.float64), tag=tag)
        return
    client = SecAggClient(ctx.party_id, threshold, _context(ctx, rnd))
    encoded = fp.encode(vector)  # refuses out-of-range values before anything is sent
    ctx.send("arbiter", "secagg_keys", client.advertise(), tag=tag)
    roster = recv_checked(ctx, "arbiter", "secagg_roster", tag)
    ctx.send("arbiter", "secagg_shares", client.share_keys(roster), tag=tag)
    shares = recv_checked(ctx, "arbiter", "secagg_shares", tag)
    ctx.send("arbiter", "masked_input", client.masked_input(shares, encoded).view(np.int64), tag=tag)
    survivors = recv_checked(ctx, "arbiter", "secagg_survivors", tag)
    ctx.send("arbiter", "secagg_reveal", client.reveal(survivors), tag=tag)


def arbiter_sum(
    ctx: TaskContext,
    rnd: int,
    clients: list[int],
    size: int,
    *,
    secure: bool,
    fp: FixedPoint,
    threshold: int,
    timeout_s: float,
) -> tuple[np.ndarray, list[int]]:
    """(the sum of the vectors of the clients that finished the round, those clients)."""
    tag = f"r{rnd}"
    if not secure:
        got = collect_within(ctx, clients, "update", tag, timeout_s)
        if not got:
            raise ComponentError(f"no client sent an update in round {rnd}")
        total = np.zeros(size)
        for p, v in got.items():
            if not isinstance(v, np.ndarray) or v.shape != (size,) or not np.all(np.isfinite(v)):
                raise IntegrityError(f"party {p} sent an update that is not {size} finite numbers")
            total += v
        return total, sorted(got)
    server = SecAggServer(clients, threshold, _context(ctx, rnd), size)
    roster = server.roster(collect_within(ctx, clients, "secagg_keys", tag, timeout_s))
    for p in server.u1:
        ctx.send(p, "secagg_roster", roster, tag=tag)
    routed = server.route_shares(collect_within(ctx, server.u1, "secagg_shares", tag, timeout_s))
    for p, msg in routed.items():
        ctx.send(p, "secagg_shares", msg, tag=tag)
    survivors = server.survivors(collect_within(ctx, server.u2, "masked_input", tag, timeout_s))
    for p in server.u3:
        ctx.send(p, "secagg_survivors", survivors, tag=tag)
    total = server.unmask(collect_within(ctx, server.u3, "secagg_reveal", tag, timeout_s))
    return fp.decode(total), list(server.u3)

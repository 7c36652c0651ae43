"""``psi``: ECDH private set intersection on Curve25519, guest <-> every host.

Each side hashes its ids onto the curve and blinds them with a secret scalar; the sides swap
blinded sets and blind each other's set again (X25519 commutes), so doubly blinded values match
exactly for shared ids. The host shuffles its set before sending and returns the guest's set in
the guest's order: the guest learns which of its own ids are shared. The guest then sends each
host the positions (in the host's shuffled list) of the rows common to *all* hosts, in the
guest's order, so every party ends with the same rows in the same order. Only blinded points
and positions cross; the host learns nothing about guest ids outside the intersection.
"""

from __future__ import annotations

import numpy as np

from silobridge.components.registry import ComponentDef, Params, TaskResult, register
from silobridge.errors import ComponentError, IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml import ecc
from silobridge.ml.checks import unique_ids
from silobridge.ml.protocol import guarded, recv_checked


class PsiParams(Params):
    pass


def _points(value: object, what: str) -> np.ndarray:
    if (
        not isinstance(value, np.ndarray)
        or value.dtype != np.uint8
        or value.ndim != 2
        or value.shape[1] != 32
    ):
        raise IntegrityError(f"{what}: expected a uint8 [n, 32] array of curve points")
    return value


def _blind(scalar: bytes, points: np.ndarray, ctx: TaskContext, what: str) -> np.ndarray:
    try:
        return ecc.blind(scalar, points, ctx.compute)
    except ValueError as exc:
        raise IntegrityError(f"{what}: {exc}") from None


def _guest(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    unique_ids(table, ctx)
    hosts = ctx.parties_of("host")
    if not hosts:
        raise ComponentError("psi needs at least one host")
    hashed = ecc.hash_ids(table.ids, ctx.compute)
    scalars = {h: ecc.new_scalar() for h in hosts}
    for h in hosts:
        ctx.send(h, "psi_guest_blinded", _blind(scalars[h], hashed, ctx, "guest ids"), tag="psi")
    ctx.progress(0.3)
    positions: dict[int, np.ndarray] = {}
    for i, h in enumerate(hosts):
        host_b = _points(recv_checked(ctx, h, "psi_host_blinded", "psi"), f"blinded ids of host {h}")
        host_ab = _blind(scalars[h], host_b, ctx, f"blinded ids of host {h}")
        guest_ab = _points(recv_checked(ctx, h, "psi_guest_double", "psi"), f"re-blinded ids from host {h}")
        if len(guest_ab) != table.rows:
            raise IntegrityError(f"host {h} returned {len(guest_ab)} re-blinded ids for {table.rows} sent")
        index = {row.tobytes(): j for j, row in enumerate(host_ab)}
        positions[h] = np.fromiter((index.get(row.tobytes(), -1) for row in guest_ab), np.int64, table.rows)
        ctx.progress(0.3 + 0.6 * (i + 1) / len(hosts))
    common = np.nonzero(np.all(np.stack([positions[h] >= 0 for h in hosts]), axis=0))[0]
    if len(common) == 0:
        raise ComponentError(
            f"empty intersection: no id of the guest's {table.rows} rows is held by every host "
            f"({', '.join(str(h) for h in hosts)})"
        )
    for h in hosts:
        ctx.send(h, "psi_result", positions[h][common], tag="psi")
    ctx.progress(1.0)
    return TaskResult(tables={"data": table.take(common)}, summary={"intersected_rows": float(len(common))})


def _host(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    unique_ids(table, ctx)
    scalar = ecc.new_scalar()
    perm = np.random.default_rng().permutation(table.rows)
    hashed = ecc.hash_ids(table.ids[perm], ctx.compute)
    ctx.send("guest", "psi_host_blinded", _blind(scalar, hashed, ctx, "host ids"), tag="psi")
    guest_a = _points(recv_checked(ctx, "guest", "psi_guest_blinded", "psi"), "blinded ids of the guest")
    ctx.progress(0.3)
    ctx.send("guest", "psi_guest_double", _blind(scalar, guest_a, ctx, "blinded ids of the guest"), tag="psi")
    ctx.progress(0.8)
    pos = recv_checked(ctx, "guest", "psi_result", "psi")
    if (
        not isinstance(pos, np.ndarray)
        or pos.dtype != np.int64
        or pos.ndim != 1
        or (len(pos) and (pos.min() < 0 or pos.max() >= table.rows))
        or len(np.unique(pos)) != len(pos)
    ):
        raise IntegrityError("the guest's intersection positions are malformed")
    ctx.progress(1.0)
    return TaskResult(tables={"data": table.take(perm[pos])}, summary={"intersected_rows": float(len(pos))})


COMPONENT = register(
    ComponentDef(
        name="psi",
        roles={"guest": guarded(_guest), "host": guarded(_host)},
        params=PsiParams,
        outputs=("data",),
        description="ECDH PSI on Curve25519: the rows shared by the guest and every host, aligned in the guest's order.",
    )
)

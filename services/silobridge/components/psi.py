"""``psi``: ECDH private set intersection on Curve25519, guest <-> every host.

Each side hashes its ids onto the curve and blinds them with a secret scalar; the sides swap
blinded sets and blind each other's set again (X25519 commutes), so doubly blinded values match
exactly for shared ids. Order of the messages, per host:

1. host -> guest: its blinded ids ``b·H``, shuffled;
   guest -> host: its blinded ids ``a·G``, in a secret order of its own (so the host never
   learns which of the guest's rows are shared).
2. guest -> host: ``a·b·H``, the host's set blinded again, in the host's order. The guest commits
   to these before it has seen anything blinded by ``b`` apart from ``b·H`` itself, so it cannot
   make up matches: at most it can reorder them.
3. The host blinds the guest's set (``b·a·G``) and computes the intersection itself. It refuses
   an intersection smaller than its *k* before anything else leaves, then returns ``b·a·G``.
4. The guest learns which of its ids are shared, keeps the rows shared with *every* host (at
   least its own *k*) and sends each host their positions in that host's shuffled list, in the
   guest's order. The host checks them against the intersection it computed: distinct, in
   range, inside its intersection, and all of it when it is the only host.

Every party ends with the same rows in the same order. Only blinded points and positions cross.

A set of points goes in messages of at most ``POINTS_PER_MESSAGE`` points (32 MiB, half the
bus's message limit): the first under the value's name, the others as ``<name>_part<k>``. A full
message means more follow; a set of an exact multiple ends with an empty one. Below that size a
set is one message, as it always was.
"""

from __future__ import annotations

import numpy as np

from silobridge.components.registry import ComponentDef, Params, TaskResult, register
from silobridge.errors import ComponentError, IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml import ecc
from silobridge.ml.checks import min_rows, unique_ids
from silobridge.ml.protocol import guarded, recv_checked

POINTS_PER_MESSAGE = 1 << 20
MAX_PARTS = 512  # 512 Mi ids: a peer cannot keep a receiver collecting parts for ever


class PsiParams(Params):
    pass


def _send_points(ctx: TaskContext, to: int | str, name: str, points: np.ndarray) -> None:
    for k, start in enumerate(range(0, len(points) + 1, POINTS_PER_MESSAGE)):
        part = points[start : start + POINTS_PER_MESSAGE]
        ctx.send(to, name if k == 0 else f"{name}_part{k}", part, tag="psi")


def _recv_points(
    ctx: TaskContext, frm: int | str, name: str, what: str, rows: int | None = None
) -> np.ndarray:
    parts: list[np.ndarray] = []
    while not parts or len(parts[-1]) == POINTS_PER_MESSAGE:
        if len(parts) == MAX_PARTS:
            raise IntegrityError(f"{what}: more than {MAX_PARTS} messages of points")
        key = name if not parts else f"{name}_part{len(parts)}"
        parts.append(_points(recv_checked(ctx, frm, key, "psi"), what))
    return _points(parts[0] if len(parts) == 1 else np.concatenate(parts), what, rows)


def _points(value: object, what: str, rows: int | None = None) -> np.ndarray:
    if (
        not isinstance(value, np.ndarray)
        or value.dtype != np.uint8
        or value.ndim != 2
        or value.shape[1] != 32
    ):
        raise IntegrityError(f"{what}: expected a uint8 [n, 32] array of curve points")
    if rows is not None and len(value) != rows:
        raise IntegrityError(f"{what}: {len(value)} points for {rows} ids")
    return value


def _blind(scalar: bytes, points: np.ndarray, ctx: TaskContext, what: str) -> np.ndarray:
    try:
        return ecc.blind(scalar, points, ctx.compute)
    except ValueError as exc:
        raise IntegrityError(f"{what}: {exc}") from None


def _index(points: np.ndarray) -> dict[bytes, int]:
    return {row.tobytes(): j for j, row in enumerate(points)}


def _guest(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    unique_ids(table, ctx)
    hosts = ctx.parties_of("host")
    if not hosts:
        raise ComponentError("psi needs at least one host")
    hashed = ecc.hash_ids(table.ids, ctx.compute)
    rng = np.random.default_rng()
    scalars = {h: ecc.new_scalar() for h in hosts}
    orders = {h: rng.permutation(table.rows) for h in hosts}
    for h in hosts:
        blinded = _blind(scalars[h], hashed[orders[h]], ctx, "guest ids")
        _send_points(ctx, h, "psi_guest_blinded", blinded)
    ctx.progress(0.3)
    positions: dict[int, np.ndarray] = {}
    for i, h in enumerate(hosts):
        host_b = _recv_points(ctx, h, "psi_host_blinded", f"blinded ids of host {h}")
        min_rows(ctx, len(host_b), f"psi: the id set of host {h}")
        host_ab = _blind(scalars[h], host_b, ctx, f"blinded ids of host {h}")
        _send_points(ctx, h, "psi_host_double", host_ab)
        shuffled = _recv_points(ctx, h, "psi_guest_double", f"re-blinded ids from host {h}", table.rows)
        guest_ab = np.empty_like(shuffled)
        guest_ab[orders[h]] = shuffled
        index = _index(host_ab)
        positions[h] = np.fromiter((index.get(row.tobytes(), -1) for row in guest_ab), np.int64, table.rows)
        ctx.progress(0.3 + 0.6 * (i + 1) / len(hosts))
    common = np.nonzero(np.all(np.stack([positions[h] >= 0 for h in hosts]), axis=0))[0]
    if len(common) == 0:
        raise ComponentError(
            f"empty intersection: no id of the guest's {table.rows} rows is held by every host "
            f"({', '.join(str(h) for h in hosts)})"
        )
    min_rows(ctx, len(common), "psi: the intersection")
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
    _send_points(ctx, "guest", "psi_host_blinded", _blind(scalar, hashed, ctx, "host ids"))
    guest_a = _recv_points(ctx, "guest", "psi_guest_blinded", "blinded ids of the guest")
    host_ab = _recv_points(ctx, "guest", "psi_host_double", "re-blinded host ids from the guest", table.rows)
    ctx.progress(0.3)
    guest_ab = _blind(scalar, guest_a, ctx, "blinded ids of the guest")
    mine = _intersection(host_ab, guest_ab)
    min_rows(ctx, len(mine), "psi: the intersection")
    _send_points(ctx, "guest", "psi_guest_double", guest_ab)
    ctx.progress(0.8)
    pos = recv_checked(ctx, "guest", "psi_result", "psi")
    _check_positions(ctx, pos, mine, table.rows)
    ctx.progress(1.0)
    return TaskResult(tables={"data": table.take(perm[pos])}, summary={"intersected_rows": float(len(pos))})


def _intersection(host_ab: np.ndarray, guest_ab: np.ndarray) -> np.ndarray:
    """Positions (in the host's shuffled list) of the host rows the guest also holds."""
    if len(_index(host_ab)) != len(host_ab):
        raise IntegrityError(
            "the guest's re-blinded host ids repeat a value: they were not computed from ours"
        )
    guest = set(_index(guest_ab))
    return np.array([j for j, row in enumerate(host_ab) if row.tobytes() in guest], dtype=np.int64)


def _check_positions(ctx: TaskContext, pos: object, mine: np.ndarray, rows: int) -> None:
    """The guest's positions name rows of the intersection the host computed, and no others."""
    if not isinstance(pos, np.ndarray) or pos.dtype != np.int64 or pos.ndim != 1:
        raise IntegrityError("the guest's intersection positions are malformed")
    problem = ""
    if len(pos) and (pos.min() < 0 or pos.max() >= rows):
        problem = f"a position outside the host's {rows} rows"
    elif len(np.unique(pos)) != len(pos):
        problem = "repeated positions"
    elif not np.isin(pos, mine).all():
        problem = "positions of rows outside the intersection"
    elif len(ctx.parties_of("host")) == 1 and len(pos) != len(mine):
        problem = f"{len(pos)} positions for an intersection of {len(mine)} rows"
    if problem:
        raise IntegrityError(
            f"forged intersection positions from the guest: {problem}",
            public_message=f"party {ctx.party_id} refused forged intersection positions from the guest: {problem}",
        )
    min_rows(ctx, len(pos), "psi: the intersection")


COMPONENT = register(
    ComponentDef(
        name="psi",
        roles={"guest": guarded(_guest), "host": guarded(_host)},
        params=PsiParams,
        outputs=("data",),
        description="ECDH PSI on Curve25519: the rows shared by the guest and every host, aligned in the guest's order.",
    )
)

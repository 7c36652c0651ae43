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

A set of points goes in messages of at most ``POINTS_PER_MESSAGE`` points (8 MiB; the bus takes
64 MiB, but a message is copied several times on its way to the router, so smaller messages keep
a sender's memory down): the first under the value's name, the others as ``<name>_part<k>``. A full
message means more follow; a set of an exact multiple ends with an empty one. Below that size a
set is one message, as it always was.

Memory: a party holds its ids as UTF-8 bytes (``Table.id_keys``), one shuffle order and, per host,
one position per guest row (8 bytes each). Its own points are hashed, blinded and sent one message
at a time; the guest looks each part of ``a·b·G`` up as it arrives, in a sorted index of the host's
``a·b·H``. Only the host holds a whole set of the guest's points (``b·a·G``, 32 bytes a guest id):
it must check the intersection's size before any of it leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

from silobridge.components.registry import ComponentDef, Params, TaskResult, register
from silobridge.errors import ComponentError, IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml import ecc
from silobridge.ml.checks import min_rows, unique_ids
from silobridge.ml.protocol import guarded, recv_checked

POINTS_PER_MESSAGE = 1 << 18
MAX_PARTS = 2048  # 512 Mi ids: a peer cannot keep a receiver collecting parts for ever
LOOKUP_ROWS = 1 << 20  # points looked up at a time (bounds the lookup's temporary arrays)


class PsiParams(Params):
    pass


def _framed(n: int, make: Callable[[int, int], np.ndarray]) -> Iterator[np.ndarray]:
    """The parts of a set of ``n`` points as they cross: full ones, then a shorter (maybe empty) one."""
    for start in range(0, n + 1, POINTS_PER_MESSAGE):
        yield make(start, min(n, start + POINTS_PER_MESSAGE))


def _send_parts(ctx: TaskContext, to: int | str, name: str, parts: Iterable[np.ndarray]) -> None:
    for k, part in enumerate(parts):
        ctx.send(to, name if k == 0 else f"{name}_part{k}", part, tag="psi")


def _send_points(ctx: TaskContext, to: int | str, name: str, points: np.ndarray) -> None:
    _send_parts(ctx, to, name, _framed(len(points), lambda a, b: points[a:b]))


def _recv_parts(ctx: TaskContext, frm: int | str, name: str, what: str) -> Iterator[np.ndarray]:
    """The parts of a set of points as they arrive (a full part means more follow)."""
    k = 0
    while True:
        if k == MAX_PARTS:
            raise IntegrityError(f"{what}: more than {MAX_PARTS} messages of points")
        part = _points(recv_checked(ctx, frm, name if k == 0 else f"{name}_part{k}", "psi"), what)
        yield part
        k += 1
        if len(part) != POINTS_PER_MESSAGE:
            return


def _recv_rows(
    ctx: TaskContext, frm: int | str, name: str, what: str, rows: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(offset, part) of a set that must hold ``rows`` points; parts past ``rows`` are counted,
    not yielded, and a wrong count is refused once the last part has come."""
    got = 0
    for part in _recv_parts(ctx, frm, name, what):
        if got + len(part) <= rows:
            yield got, part
        got += len(part)
    if got != rows:
        raise IntegrityError(f"{what}: {got} points for {rows} ids")


def _recv_points(
    ctx: TaskContext, frm: int | str, name: str, what: str, rows: int | None = None
) -> np.ndarray:
    """A whole set of points. With ``rows`` known, the parts are written straight into one array,
    never held as parts beside it."""
    if rows is None:
        parts = list(_recv_parts(ctx, frm, name, what))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
    out = np.empty((rows, ecc.POINT_BYTES), dtype=np.uint8)
    for start, part in _recv_rows(ctx, frm, name, what, rows):
        out[start : start + len(part)] = part
    return out


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


def _blinded_ids(
    scalar: bytes, keys: np.ndarray, order: np.ndarray, ctx: TaskContext, what: str
) -> Iterator[np.ndarray]:
    """``scalar·H(id)`` for the ids in ``order``, hashed and blinded one message at a time: the
    whole set of hashed or blinded points is never held."""
    return _framed(
        len(order), lambda a, b: _blind(scalar, ecc.hash_ids(keys[order[a:b]], ctx.compute), ctx, what)
    )


def _as_keys(points: np.ndarray) -> np.ndarray:
    """Each 32-byte point as one ``S32`` value (a view: exact, since every point has 32 bytes)."""
    return np.ascontiguousarray(points).view("S32").reshape(len(points))


class _PointIndex:
    """Sorted points, looked up with binary search: 40 bytes a point beside the points, instead of
    a dict of bytes objects (over 100)."""

    def __init__(self, points: np.ndarray) -> None:
        keys = _as_keys(points)
        self.sorter = np.argsort(keys, kind="stable")
        self.sorted = keys[self.sorter]

    def __len__(self) -> int:
        return len(self.sorted)

    def distinct(self) -> bool:
        return not bool(np.any(self.sorted[1:] == self.sorted[:-1]))

    def positions(self, points: np.ndarray) -> np.ndarray:
        """Where each point is among the indexed ones (the last of equal ones), -1 when absent."""
        out = np.full(len(points), -1, dtype=np.int64)
        if not len(self.sorted):
            return out
        for a in range(0, len(points), LOOKUP_ROWS):
            query = _as_keys(points[a : a + LOOKUP_ROWS])
            at = np.maximum(np.searchsorted(self.sorted, query, side="right") - 1, 0)
            found = self.sorted[at] == query
            out[a : a + len(query)][found] = self.sorter[at[found]]
        return out


def _guest(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    keys = table.id_keys()
    unique_ids(keys, ctx)
    hosts = ctx.parties_of("host")
    if not hosts:
        raise ComponentError("psi needs at least one host")
    rng = np.random.default_rng()
    scalars = {h: ecc.new_scalar() for h in hosts}
    orders = {h: rng.permutation(table.rows) for h in hosts}
    for h in hosts:
        _send_parts(ctx, h, "psi_guest_blinded", _blinded_ids(scalars[h], keys, orders[h], ctx, "guest ids"))
    del keys
    ctx.progress(0.3)
    positions: dict[int, np.ndarray] = {}
    for i, h in enumerate(hosts):
        host_b = _recv_points(ctx, h, "psi_host_blinded", f"blinded ids of host {h}")
        min_rows(ctx, len(host_b), f"psi: the id set of host {h}")
        host_ab = _blind(scalars[h], host_b, ctx, f"blinded ids of host {h}")
        del host_b
        _send_points(ctx, h, "psi_host_double", host_ab)
        index = _PointIndex(host_ab)
        del host_ab
        # Each part of a·b·G is looked up as it arrives; its k-th point is the guest's row order[k].
        order, positions[h] = orders.pop(h), np.full(table.rows, -1, dtype=np.int64)
        for start, part in _recv_rows(
            ctx, h, "psi_guest_double", f"re-blinded ids from host {h}", table.rows
        ):
            positions[h][order[start : start + len(part)]] = index.positions(part)
        del order, index
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
    keys = table.id_keys()
    unique_ids(keys, ctx)
    scalar = ecc.new_scalar()
    perm = np.random.default_rng().permutation(table.rows)
    _send_parts(ctx, "guest", "psi_host_blinded", _blinded_ids(scalar, keys, perm, ctx, "host ids"))
    del keys
    # The guest's set is blinded part by part as it arrives; nothing of it leaves before the check below.
    guest_ab = [
        _blind(scalar, part, ctx, "blinded ids of the guest")
        for part in _recv_parts(ctx, "guest", "psi_guest_blinded", "blinded ids of the guest")
    ]
    host_ab = _recv_points(ctx, "guest", "psi_host_double", "re-blinded host ids from the guest", table.rows)
    ctx.progress(0.3)
    mine = _intersection(host_ab, guest_ab)
    del host_ab
    min_rows(ctx, len(mine), "psi: the intersection")
    # The parts as they came (same framing), each dropped once sent: the bus holds its copy until the
    # router has sent it, so keeping them would hold the guest's set twice.
    _send_parts(ctx, "guest", "psi_guest_double", _drain(guest_ab))
    ctx.progress(0.8)
    pos = recv_checked(ctx, "guest", "psi_result", "psi")
    _check_positions(ctx, pos, mine, table.rows)
    ctx.progress(1.0)
    return TaskResult(tables={"data": table.take(perm[pos])}, summary={"intersected_rows": float(len(pos))})


def _drain(parts: list[np.ndarray]) -> Iterator[np.ndarray]:
    while parts:
        yield parts.pop(0)


def _intersection(host_ab: np.ndarray, guest_ab: list[np.ndarray]) -> np.ndarray:
    """Positions (in the host's shuffled list) of the host rows the guest also holds, ascending."""
    index = _PointIndex(host_ab)
    if not index.distinct():
        raise IntegrityError(
            "the guest's re-blinded host ids repeat a value: they were not computed from ours"
        )
    held = np.zeros(len(host_ab), dtype=bool)
    for part in guest_ab:
        found = index.positions(part)
        held[found[found >= 0]] = True
    return np.nonzero(held)[0].astype(np.int64)


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

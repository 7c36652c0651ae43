"""``psi``: ECDH private set intersection on Curve25519, guest <-> every host.

Each side hashes its ids onto the curve and blinds them with a secret scalar; the sides swap
blinded sets and blind each other's set again (X25519 commutes), so doubly blinded values match
exactly for shared ids. Order of the messages, per host:

1. host -> guest: its blinded ids ``b·H``, shuffled.
   guest -> host: ``a·b·H``, the host's set blinded again, in the host's order. The guest commits
   to these before it has seen anything blinded by ``b`` apart from ``b·H`` itself, so it cannot
   make up matches: at most it can reorder them. It releases none of them before the host's set
   has reached its own *k* ids.
2. guest -> host: its blinded ids ``a·G``, in a secret order of its own (so the host never
   learns which of the guest's rows are shared).
3. The host blinds the guest's set (``b·a·G``) and computes the intersection itself. It refuses
   an intersection smaller than its *k* before anything else leaves, then tells the guest which
   of its points matched which of the host's: pairs (place in the guest's list, place in the
   host's list), for the matches only. That is what the guest used to work out from ``b·a·G``
   against its own ``a·b·H``, less the points themselves.
4. The guest learns which of its ids are shared, keeps the rows shared with *every* host (at
   least its own *k*) and sends each host their positions in that host's shuffled list, in the
   guest's order. The host checks them against the intersection it computed: distinct, in
   range, inside its intersection, and all of it when it is the only host.

Every party ends with the same rows in the same order. Only blinded points and positions cross.

Streams. A set crosses in messages of at most ``POINTS_PER_MESSAGE`` rows: the first under the
value's name, the others as ``<name>_part<k>``. A full message means more follow; a set of an
exact multiple ends with an empty one. The two sets of single-blinded points are flow-controlled:
the receiver acknowledges each message as it takes it (``<name>_ack``, tag ``psi<k>``), and the
sender has at most ``WINDOW`` messages unacknowledged, so a sender's bus and a receiver's router
hold a few messages of a set, never the set.

Memory: a party holds its ids as UTF-8 bytes (``Table.id_keys``) and one shuffle order (4 bytes a
row); its own points are hashed, blinded and sent one message at a time, and a peer's are blinded
and looked up one message at a time. The host holds the guest's ``a·b·H`` (its own set, 32 bytes
a host row) and a sorted index of it; the guest holds, per host, two positions per shared row.
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

POINTS_PER_MESSAGE = 1 << 16  # rows a message: 2 MiB of points, 1 MiB of match pairs
WINDOW = 4  # messages of one flow-controlled set a sender has out before the first is acknowledged
MAX_PARTS = 1 << 13  # 512 Mi ids: a peer cannot keep a receiver collecting parts for ever
LOOKUP_ROWS = 1 << 20  # points looked up at a time (bounds the lookup's temporary arrays)

# What a message of each kind holds: (dtype, row width).
_POINTS = (np.dtype(np.uint8), ecc.POINT_BYTES)
_PAIRS = (np.dtype(np.int64), 2)


class PsiParams(Params):
    pass


def _part_name(name: str, k: int) -> str:
    return name if k == 0 else f"{name}_part{k}"


def _framed(n: int, make: Callable[[int, int], np.ndarray]) -> Iterator[np.ndarray]:
    """The parts of a set of ``n`` rows as they cross: full ones, then a shorter (maybe empty) one."""
    for start in range(0, n + 1, POINTS_PER_MESSAGE):
        yield make(start, min(n, start + POINTS_PER_MESSAGE))


def _send_parts(
    ctx: TaskContext, to: int | str, name: str, parts: Iterable[np.ndarray], windowed: bool = False
) -> None:
    """Send the parts of a set; ``windowed``: at most ``WINDOW`` of them unacknowledged, and return
    once the receiver has acknowledged all of them. A part is made (hashed, blinded) before the
    wait, so the work overlaps the peer's."""
    acked = sent = 0
    for part in parts:
        while windowed and sent - acked >= WINDOW:
            _await_ack(ctx, to, name, acked)
            acked += 1
        ctx.send(to, _part_name(name, sent), part, tag="psi")
        sent += 1
    while windowed and acked < sent:
        _await_ack(ctx, to, name, acked)
        acked += 1


def _await_ack(ctx: TaskContext, frm: int | str, name: str, k: int) -> None:
    ack = recv_checked(ctx, frm, f"{name}_ack", f"psi{k}")
    if not isinstance(ack, np.ndarray) or ack.dtype != np.int64 or ack.shape != (1,) or int(ack[0]) != k:
        raise IntegrityError(f"{name}: a malformed acknowledgement of message {k}")


def _recv_parts(
    ctx: TaskContext,
    frm: int | str,
    name: str,
    what: str,
    kind: tuple[np.dtype, int] = _POINTS,
    ack: bool = False,
) -> Iterator[np.ndarray]:
    """The parts of a set as they arrive (a full part means more follow); ``ack``: each is
    acknowledged as soon as it is taken, so the sender can go on while it is worked on."""
    k = 0
    while True:
        if k == MAX_PARTS:
            raise IntegrityError(f"{what}: more than {MAX_PARTS} messages")
        part = _rows(recv_checked(ctx, frm, _part_name(name, k), "psi"), what, kind)
        if ack:
            ctx.send(frm, f"{name}_ack", np.array([k], dtype=np.int64), tag=f"psi{k}")
        yield part
        k += 1
        if len(part) != POINTS_PER_MESSAGE:
            return


def _recv_points(ctx: TaskContext, frm: int | str, name: str, what: str, rows: int) -> np.ndarray:
    """A whole set that must hold ``rows`` points, written part by part into one array; parts past
    ``rows`` are counted, not kept, and a wrong count is refused once the last part has come."""
    out = np.empty((rows, ecc.POINT_BYTES), dtype=np.uint8)
    got = 0
    for part in _recv_parts(ctx, frm, name, what):
        if got + len(part) <= rows:
            out[got : got + len(part)] = part
        got += len(part)
    if got != rows:
        raise IntegrityError(f"{what}: {got} points for {rows} ids")
    return out


def _rows(value: object, what: str, kind: tuple[np.dtype, int]) -> np.ndarray:
    dtype, width = kind
    if (
        not isinstance(value, np.ndarray)
        or value.dtype != dtype
        or value.ndim != 2
        or value.shape[1] != width
        or len(value) > POINTS_PER_MESSAGE
    ):
        raise IntegrityError(
            f"{what}: expected a {dtype} [n, {width}] array of at most {POINTS_PER_MESSAGE} rows a message"
        )
    return value


def _blind(scalar: bytes, points: np.ndarray, ctx: TaskContext, what: str) -> np.ndarray:
    try:
        return ecc.blind(scalar, points, ctx.compute)
    except ValueError as exc:
        raise IntegrityError(f"{what}: {exc}") from None


def _blinded_ids(
    scalar: bytes, keys: np.ndarray, order: np.ndarray, ctx: TaskContext
) -> Iterator[np.ndarray]:
    """``scalar·H(id)`` for the ids in ``order``, hashed and blinded one message at a time: the
    whole set of hashed or blinded points is never held."""
    return _framed(len(order), lambda a, b: ecc.hash_blind(scalar, keys[order[a:b]], ctx.compute))


def _shuffled(n: int) -> np.ndarray:
    """A secret order of ``n`` rows, 4 bytes a row (``permutation`` would make 8)."""
    order = np.arange(n, dtype=np.uint32 if n < 2**32 else np.int64)
    np.random.default_rng().shuffle(order)
    return order


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


def _guest_with(ctx: TaskContext, h: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1-3 with host ``h``: the guest rows it shares (ascending) and their places in its list."""
    scalar = ecc.new_scalar()
    what = f"blinded ids of host {h}"
    # 1. The host's set, blinded again part by part as it comes; held back until it has k ids.
    host_rows, held, out = 0, list[np.ndarray](), 0
    for part in _recv_parts(ctx, h, "psi_host_blinded", what, ack=True):
        host_rows += len(part)
        held.append(part)
        if host_rows >= ctx.limits.min_rows:
            for p in held:
                ctx.send(h, _part_name("psi_host_double", out), _blind(scalar, p, ctx, what), tag="psi")
                out += 1
            held = []
    min_rows(ctx, host_rows, f"psi: the id set of host {h}")
    # 2. The guest's own ids, in a secret order, within the window.
    order = _shuffled(len(keys))
    _send_parts(ctx, h, "psi_guest_blinded", _blinded_ids(scalar, keys, order, ctx), windowed=True)
    # 3. Which of them the host holds, and where in its list.
    most = min(len(keys), host_rows)
    pairs, got = [], 0
    for part in _recv_parts(ctx, h, "psi_host_matches", f"matches from host {h}", _PAIRS):
        got += len(part)
        if got > most:
            raise IntegrityError(f"host {h} named more matches than {most} ids can have")
        pairs.append(part)
    both = np.concatenate(pairs)
    mine, theirs = both[:, 0], both[:, 1]
    if len(both) and (
        mine.min() < 0 or mine.max() >= len(keys) or theirs.min() < 0 or theirs.max() >= host_rows
    ):
        raise IntegrityError(f"host {h} named a match outside the sets")
    if len(np.unique(mine)) != len(mine) or len(np.unique(theirs)) != len(theirs):
        raise IntegrityError(f"host {h} named a point in two matches")
    rows = order[mine].astype(np.int64)
    by_row = np.argsort(rows)
    return rows[by_row], theirs[by_row]


def _guest(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    keys = table.id_keys()
    unique_ids(keys, ctx)
    hosts = ctx.parties_of("host")
    if not hosts:
        raise ComponentError("psi needs at least one host")
    shared: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for i, h in enumerate(hosts):
        shared[h] = _guest_with(ctx, h, keys)
        ctx.progress(0.9 * (i + 1) / len(hosts))
    del keys
    common = shared[hosts[0]][0]
    for h in hosts[1:]:
        common = np.intersect1d(common, shared[h][0], assume_unique=True)
    if len(common) == 0:
        raise ComponentError(
            f"empty intersection: no id of the guest's {table.rows} rows is held by every host "
            f"({', '.join(str(h) for h in hosts)})"
        )
    min_rows(ctx, len(common), "psi: the intersection")
    for h in hosts:
        rows, places = shared[h]
        ctx.send(h, "psi_result", places[np.searchsorted(rows, common)], tag="psi")
    ctx.progress(1.0)
    return TaskResult(tables={"data": table.take(common)}, summary={"intersected_rows": float(len(common))})


def _host(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    keys = table.id_keys()
    unique_ids(keys, ctx)
    scalar = ecc.new_scalar()
    perm = _shuffled(table.rows)
    _send_parts(ctx, "guest", "psi_host_blinded", _blinded_ids(scalar, keys, perm, ctx), windowed=True)
    del keys
    index = _PointIndex(
        _recv_points(ctx, "guest", "psi_host_double", "re-blinded host ids from the guest", table.rows)
    )
    if not index.distinct():
        raise IntegrityError(
            "the guest's re-blinded host ids repeat a value: they were not computed from ours"
        )
    ctx.progress(0.3)
    # The guest's set is blinded and looked up part by part as it arrives; nothing leaves before
    # the check below.
    theirs, mine, seen = [], [], 0
    matched = np.zeros(table.rows, dtype=bool)  # a host row matches one guest id at most
    for part in _recv_parts(ctx, "guest", "psi_guest_blinded", "blinded ids of the guest", ack=True):
        found = index.positions(_blind(scalar, part, ctx, "blinded ids of the guest"))
        hit = np.nonzero(found >= 0)[0]
        rows = found[hit]
        if matched[rows].any() or len(np.unique(rows)) != len(rows):
            raise IntegrityError("the guest's blinded ids repeat a value: its ids are not distinct")
        matched[rows] = True
        theirs.append(hit + seen)
        mine.append(rows)
        seen += len(part)
    del index
    pairs = np.stack([np.concatenate(theirs), np.concatenate(mine)], axis=1)
    held = np.nonzero(matched)[0]
    min_rows(ctx, len(held), "psi: the intersection")
    ctx.progress(0.8)
    _send_parts(ctx, "guest", "psi_host_matches", _framed(len(pairs), lambda a, b: pairs[a:b]))
    pos = recv_checked(ctx, "guest", "psi_result", "psi")
    _check_positions(ctx, pos, held, table.rows)
    ctx.progress(1.0)
    return TaskResult(tables={"data": table.take(perm[pos])}, summary={"intersected_rows": float(len(pos))})


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

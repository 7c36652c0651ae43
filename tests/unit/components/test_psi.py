"""ECDH PSI: exact intersection, same order at every party, only blinded points cross."""

from __future__ import annotations

import time

import numpy as np
import pytest

from silobridge.errors import ComponentError, public_message
from silobridge.ml import ecc
from silobridge.table import Table
from silobridge.testing import run_component

RFC9380_DST = b"QUUX-V01-CS02-with-curve25519_XMD:SHA-512_ELL2_NU_"


@pytest.mark.parametrize(
    ("msg", "u", "q_x", "p_x"),
    [
        (
            b"",
            "608d892b641f0328523802a6603427c26e55e6f27e71a91a478148d45b5093cd",
            "51125222da5e763d97f3c10fcc92ea6860b9ccbbd2eb1285728f566721c1e65b",
            "1bb913f0c9daefa0b3375378ffa534bda5526c97391952a7789eb976edfe4d08",
        ),
        (
            b"abc",
            "46f5b22494bfeaa7f232cc8d054be68561af50230234d7d1d63d1d9abeca8da5",
            "7d56d1e08cb0ccb92baf069c18c49bb5a0dcd927eff8dcf75ca921ef7f3e6eeb",
            "7c22950b7d900fa866334262fcaea47a441a578df43b894b4625c9b450f9a026",
        ),
    ],
)
def test_hash_to_curve_matches_rfc9380_vectors(msg: bytes, u: str, q_x: str, p_x: str) -> None:
    field = ecc.hash_to_field(msg, RFC9380_DST)
    x = ecc.elligator2(field)
    assert field == int(u, 16)
    assert x == int(q_x, 16)
    assert ecc.x_double(ecc.x_double(ecc.x_double(x))) == int(p_x, 16)  # clear_cofactor = [8]


def test_blinding_commutes() -> None:
    pts = ecc.hash_ids([f"id{i}" for i in range(20)])
    a, b = ecc.new_scalar(), ecc.new_scalar()
    assert np.array_equal(ecc.blind(a, ecc.blind(b, pts)), ecc.blind(b, ecc.blind(a, pts)))
    assert not np.array_equal(ecc.blind(a, pts), ecc.blind(b, pts))


def _table(ids: np.ndarray, label: bool) -> Table:
    n = len(ids)
    # Feature = numeric id, so alignment of rows is checkable after the intersection.
    feats = np.array([float(s[2:]) for s in ids])[:, None]
    return Table(ids=ids, features=feats, feature_names=["x"], label=np.zeros(n) if label else None)


def _ids(rng: np.random.Generator, lo: int, hi: int) -> np.ndarray:
    ids = np.array([f"id{i}" for i in range(lo, hi)])
    rng.shuffle(ids)
    return ids


def _run_psi(tables: dict[int, Table], hosts: list[int]):  # type: ignore[no-untyped-def]
    return run_component(
        "psi", {"guest": [1], "host": hosts}, inputs={p: {"data": t} for p, t in tables.items()}, workers=2
    )


def test_two_hosts_get_the_common_rows_in_the_guests_order() -> None:
    rng = np.random.default_rng(1)
    g, h1, h2 = _ids(rng, 0, 300), _ids(rng, 100, 500), _ids(rng, 150, 260)
    run = _run_psi({1: _table(g, True), 2: _table(h1, False), 3: _table(h2, False)}, [2, 3])
    run.raise_any()
    truth = set(g) & set(h1) & set(h2)
    out = {p: run.result(p).tables["data"] for p in (1, 2, 3)}
    assert set(out[1].ids) == truth and out[1].rows == len(truth)
    assert [i for i in g if i in truth] == list(out[1].ids)  # the guest's own order
    for p in (2, 3):
        assert list(out[p].ids) == list(out[1].ids)
        assert np.array_equal(out[p].features, out[1].features)
        assert run.result(p).summary["intersected_rows"] == len(truth)


def test_only_blinded_points_cross() -> None:
    rng = np.random.default_rng(2)
    g, h = _ids(rng, 0, 200), _ids(rng, 100, 300)
    run = _run_psi({1: _table(g, True), 2: _table(h, False)}, [2])
    run.raise_any()
    wire = b"".join(s.payload for s in run.hub.sent)
    hashed = ecc.hash_ids(list(g[:20]) + list(h[:20]))
    for ident in list(g[:20]) + list(h[:20]):
        assert ident.encode() not in wire
    for point in hashed:  # unblinded hashes never cross either
        assert point.tobytes() not in wire


def test_empty_intersection_fails_at_every_party() -> None:
    rng = np.random.default_rng(3)
    run = _run_psi({1: _table(_ids(rng, 0, 50), True), 2: _table(_ids(rng, 50, 100), False)}, [2])
    assert set(run.errors) == {1, 2}
    for exc in run.errors.values():
        assert isinstance(exc, ComponentError)
        # The host refuses before the guest learns anything; empty and "too few" read the same.
        assert "fewer rows than the minimum aggregation size k=10 of party 2" in public_message(exc)
        assert "0 rows" not in public_message(exc)


def test_duplicate_ids_fail_at_every_party() -> None:
    ids = np.array(["id1", "id2", "id1"])
    run = _run_psi({1: _table(np.array(["id1", "id2"]), True), 2: _table(ids, False)}, [2])
    assert set(run.errors) == {1, 2}
    assert all("duplicate ids" in str(e) for e in run.errors.values())


@pytest.mark.slow
def test_psi_100k_by_100k_is_exact() -> None:
    rng = np.random.default_rng(4)
    g, h = _ids(rng, 0, 100_000), _ids(rng, 50_000, 150_000)
    start = time.perf_counter()
    run = _run_psi({1: _table(g, True), 2: _table(h, False)}, [2])
    elapsed = time.perf_counter() - start
    run.raise_any()
    a, b = run.result(1).tables["data"], run.result(2).tables["data"]
    assert set(a.ids) == set(g) & set(h) and a.rows == 50_000
    assert np.array_equal(a.ids, b.ids) and np.array_equal(a.features, b.features)
    print(f"psi 100k x 100k: {elapsed:.1f}s")


def test_sets_larger_than_one_message_go_in_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above POINTS_PER_MESSAGE points a set crosses in several messages; an exact multiple ends
    with an empty part."""
    from silobridge.components import psi

    monkeypatch.setattr(psi, "POINTS_PER_MESSAGE", 64)
    rng = np.random.default_rng(4)
    g, h = _ids(rng, 0, 150), _ids(rng, 86, 214)  # 150 guest ids, 128 host ids: 2 x 64
    run = _run_psi({1: _table(g, True), 2: _table(h, False)}, [2])
    run.raise_any()
    truth = set(g) & set(h)
    assert list(run.result(1).tables["data"].ids) == [i for i in g if i in truth]
    assert list(run.result(2).tables["data"].ids) == list(run.result(1).tables["data"].ids)
    sizes = {s.name: len(s.payload) for s in run.hub.sent}
    for name in ("psi_guest_blinded", "psi_host_blinded", "psi_host_double"):
        assert [n for n in sizes if n.startswith(f"{name}_part") or n == name] == [
            name, f"{name}_part1", f"{name}_part2"
        ]  # fmt: skip
    assert sizes["psi_host_blinded_part2"] < sizes["psi_host_blinded_part1"] / 10  # the empty end
    # 64 shared ids: the matches fill one message, and an empty one ends them.
    assert [n for n in sizes if n.startswith("psi_host_matches")] == [
        "psi_host_matches",
        "psi_host_matches_part1",
    ]


def test_a_sender_waits_for_the_receiver_beyond_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flow control: a blinded set is sent at most WINDOW messages ahead of what the receiver has
    acknowledged taking, so neither bus holds more than a few messages of it."""
    from silobridge.components import psi

    monkeypatch.setattr(psi, "POINTS_PER_MESSAGE", 16)
    monkeypatch.setattr(psi, "WINDOW", 2)
    rng = np.random.default_rng(5)
    g, h = _ids(rng, 0, 200), _ids(rng, 100, 260)
    run = _run_psi({1: _table(g, True), 2: _table(h, False)}, [2])
    run.raise_any()
    assert run.result(1).tables["data"].rows == 100
    for name, sender in (("psi_guest_blinded", 1), ("psi_host_blinded", 2)):
        acked, parts = 0, 0
        for s in run.hub.sent:
            if s.name == f"{name}_ack" and s.dst == sender:
                assert s.tag == f"psi{acked}"
                acked += 1
            elif s.name == name or s.name.startswith(f"{name}_part"):
                assert parts - acked < 2, f"{name}: message {parts} sent with only {acked} acknowledged"
                parts += 1
        assert parts == acked > 10  # every message acknowledged, and the window was the limit


def test_a_host_that_names_a_match_outside_the_sets_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from silobridge.components import psi

    send = psi._send_parts

    def forged(ctx, to, name, parts, windowed=False):  # type: ignore[no-untyped-def]
        if name == "psi_host_matches":
            parts = [np.array([[0, 10**6]], dtype=np.int64)]
        send(ctx, to, name, parts, windowed)

    monkeypatch.setattr(psi, "_send_parts", forged)
    rng = np.random.default_rng(6)
    run = _run_psi({1: _table(_ids(rng, 0, 50), True), 2: _table(_ids(rng, 20, 80), False)}, [2])
    assert "named a match outside the sets" in str(run.errors[1])
    assert 1 not in run.results


def test_ids_hash_alike_as_str_and_as_utf8_bytes() -> None:
    ids = np.array(["id1", "ünïcode", ""])
    assert np.array_equal(ecc.hash_ids(ids), ecc.hash_ids(np.char.encode(ids, "utf-8")))
    assert np.array_equal(ecc.hash_ids(ids), ecc.hash_ids(list(ids)))


def test_point_index_finds_the_last_of_equal_points_in_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sorted index answers what a dict {point: position} did, LOOKUP_ROWS queries at a time."""
    from silobridge.components import psi

    monkeypatch.setattr(psi, "LOOKUP_ROWS", 3)
    pts = ecc.hash_ids([f"id{i}" for i in range(6)])
    table = np.concatenate([pts[:4], pts[:1]])  # point 0 at positions 0 and 4
    index = psi._PointIndex(table)
    expected = {row.tobytes(): j for j, row in enumerate(table)}
    got = index.positions(pts)
    assert list(got) == [expected.get(row.tobytes(), -1) for row in pts] == [4, 1, 2, 3, -1, -1]
    assert not index.distinct() and psi._PointIndex(pts).distinct()
    assert list(psi._PointIndex(pts[:0]).positions(pts[:2])) == [-1, -1]


def test_duplicate_ids_are_found_exactly_through_colliding_fingerprints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Uniqueness is checked on 8-byte fingerprints; rows whose fingerprints collide are compared
    by their ids, so a collision neither hides a duplicate nor invents one."""
    from silobridge.ml import checks

    class Ctx:
        party_id = 1

    ids = np.char.encode(np.array([f"id{i}" for i in range(40)]), "utf-8")
    monkeypatch.setattr(checks, "FINGERPRINT_ROWS", 7)
    checks.unique_ids(ids, Ctx())  # type: ignore[arg-type]
    monkeypatch.setattr(checks, "_fingerprints", lambda ids, a, b: np.zeros(b - a, dtype=np.uint64))
    checks.unique_ids(ids, Ctx())  # every fingerprint equal, no id repeated  # type: ignore[arg-type]
    for dup in (np.concatenate([ids, ids[3:4]]), np.array(["x", "ünï", "ünï"])):
        with pytest.raises(ComponentError, match="duplicate ids"):
            checks.unique_ids(dup, Ctx())  # type: ignore[arg-type]

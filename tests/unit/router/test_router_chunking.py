"""Chunking and reassembly: the bytes that arrive are the bytes that were sent, or an error."""

from __future__ import annotations

import hashlib
import os
import random

import pytest

from rollsite_router.chunking import Reassembler, split
from silobridge.errors import IntegrityError, PayloadTooLarge, RetryableError
from silobridge.federation.bus_transport import build_envelope
from silobridge.federation.v1 import envelope_pb2 as env_pb

MB = 1024 * 1024


def _env(payload: bytes) -> env_pb.Envelope:
    return build_envelope(
        src_party=1,
        src_role="guest",
        dst_party=2,
        dst_role="host",
        channel=env_pb.CHANNEL_FEDERATION,
        payload=payload,
        session="j.t.1",
        name="x",
        tag="0",
    )


def _reassembler(**kw: object) -> Reassembler:
    args: dict = {"max_payload_bytes": 64 * MB, "max_inflight_bytes": 64 * MB, "timeout_s": 60.0}
    args.update(kw)
    return Reassembler(**args)


def test_split_shares_id_and_whole_digest():
    payload = random.Random(1).randbytes(2500)
    chunks = split(_env(payload), 1000)
    assert [len(c.payload) for c in chunks] == [1000, 1000, 500]
    assert [c.chunk_index for c in chunks] == [0, 1, 2]
    assert {c.chunk_count for c in chunks} == {3}
    assert len({c.message_id for c in chunks}) == 1
    assert {c.payload_digest for c in chunks} == {hashlib.sha256(payload).digest()}
    assert {c.payload_size for c in chunks} == {2500}


def test_small_and_empty_payloads_are_one_chunk():
    assert len(split(_env(b"abc"), 1000)) == 1
    (chunk,) = split(_env(b""), 1000)
    assert chunk.chunk_count == 1
    assert _reassembler().add("k", chunk).payload == b""


def test_split_refuses_a_payload_that_does_not_match_its_digest():
    env = _env(b"abc")
    env.payload = b"abd"
    with pytest.raises(IntegrityError, match="digest"):
        split(env, 1000)


def test_out_of_order_and_duplicate_chunks_reassemble():
    payload = random.Random(2).randbytes(10_000)
    env = _env(payload)
    chunks = split(env, 1024)
    rest = chunks[1:]
    order = rest[::-1] + rest[:3] + [chunks[0]]  # reversed, three duplicates, the first chunk last
    r = _reassembler()
    results = [r.add("peer", c) for c in order]
    wholes = [w for w in results if w is not None]
    assert len(wholes) == 1
    whole = wholes[0]
    assert whole.payload == payload
    assert (whole.chunk_index, whole.chunk_count, whole.message_id) == (0, 1, env.message_id)
    assert r.inflight_bytes == 0 and len(r) == 0


def test_digest_mismatch_is_an_integrity_error():
    chunks = split(_env(b"a" * 3000), 1000)
    chunks[1].payload = b"b" * 1000
    r = _reassembler()
    r.add("k", chunks[0])
    r.add("k", chunks[1])
    with pytest.raises(IntegrityError, match="digest mismatch"):
        r.add("k", chunks[2])
    assert r.inflight_bytes == 0


def test_chunks_that_contradict_each_other_are_refused():
    chunks = split(_env(b"a" * 3000), 1000)
    chunks[1].payload_size = 2999
    r = _reassembler()
    r.add("k", chunks[0])
    with pytest.raises(IntegrityError, match="contradicts"):
        r.add("k", chunks[1])
    assert r.inflight_bytes == 0 and len(r) == 0


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("chunk_index", 3, "out of range"),
        ("chunk_count", 0, "out of range"),
        ("payload_digest", b"", "digest"),
    ],
)
def test_malformed_chunk_headers(field, value, match):
    chunk = split(_env(b"a" * 3000), 1000)[0]
    setattr(chunk, field, value)
    with pytest.raises(IntegrityError, match=match):
        _reassembler().add("k", chunk)


def test_more_bytes_than_declared_is_refused():
    chunks = split(_env(b"a" * 3000), 1000)
    chunks[2].payload = b"a" * 1001
    r = _reassembler()
    r.add("k", chunks[0])
    r.add("k", chunks[1])
    with pytest.raises(IntegrityError):
        r.add("k", chunks[2])


def test_oversized_message_is_refused_before_buffering():
    chunk = split(_env(b"a" * 3000), 1000)[0]
    with pytest.raises(PayloadTooLarge, match="3000 bytes exceeds the limit of 2000"):
        _reassembler(max_payload_bytes=2000).add("k", chunk)


def test_memory_cap_is_retryable_and_recovers():
    first = split(_env(b"a" * 2000), 1000)
    second = split(_env(b"b" * 2000), 1000)
    probe = _reassembler()
    probe.add("m1", first[0])
    r = _reassembler(max_inflight_bytes=2 * probe.inflight_bytes + 500)  # two first chunks, headers included
    assert r.add("m1", first[0]) is None
    assert r.add("m2", second[0]) is None
    before = r.inflight_bytes
    assert before > 2000  # the two headers count too
    with pytest.raises(RetryableError, match="buffer full"):
        r.add("m2", second[1])
    assert r.inflight_bytes == before
    r.drop("m1")  # e.g. expired
    assert r.add("m2", second[1]).payload == b"b" * 2000
    assert r.inflight_bytes == 0


def test_partial_messages_expire():
    now = [0.0]
    r = _reassembler(timeout_s=10.0, clock=lambda: now[0])
    chunks = split(_env(b"a" * 3000), 1000)
    r.add("k", chunks[0])
    now[0] = 5.0
    assert r.expire() == []
    now[0] = 11.0
    assert r.expire() == ["k"]
    assert r.inflight_bytes == 0 and len(r) == 0


def test_same_message_id_from_two_peers_is_kept_apart():
    payload = b"x" * 2000
    chunks = split(_env(payload), 1000)
    r = _reassembler()
    assert r.add("peer-a", chunks[0]) is None
    assert r.add("peer-b", chunks[1]) is None
    assert r.add("peer-a", chunks[1]).payload == payload


# ----- abuse: floods of headers and tiny chunks stay inside the cap -----------------------------


def _header_chunk(mid: str, payload: bytes = b"x", *, size: int = 60 * MB, **fields: str) -> env_pb.Envelope:
    """The first chunk of a message that claims to be large: a header and (almost) no payload."""
    chunk = _env(b"")
    chunk.message_id = mid
    chunk.chunk_count, chunk.chunk_index, chunk.payload_size = 64, 0, size
    chunk.payload_digest = bytes(32)
    chunk.payload = payload
    for name, value in fields.items():
        setattr(chunk, name, value)
    return chunk


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_buffered_bytes_count_the_header_of_every_partial_message():
    r = _reassembler()
    chunk = _header_chunk("m1")
    r.add(("peer", "m1"), chunk)
    header = env_pb.Envelope()
    header.CopyFrom(chunk)
    header.ClearField("payload")
    assert r.inflight_bytes >= header.ByteSize() + 1


def test_zero_byte_chunks_are_refused():
    r = _reassembler()
    with pytest.raises(IntegrityError, match="carries no payload"):
        r.add(("peer", "m1"), _header_chunk("m1", b""))
    assert len(r) == 0 and r.inflight_bytes == 0


def test_long_names_are_refused():
    r = _reassembler()
    for name in ("message_id", "session", "name", "tag"):
        with pytest.raises(IntegrityError, match=f"{name} of 5000 characters exceeds 256"):
            r.add(("peer", "m"), _header_chunk("m", **{name: "a" * 5000}))
    assert len(r) == 0 and r.inflight_bytes == 0


def test_one_peer_cannot_hold_more_than_its_partial_messages():
    r = _reassembler(max_partials_per_peer=8)
    for i in range(8):
        r.add(("mallory", f"m{i}"), _header_chunk(f"m{i}"))
    with pytest.raises(RetryableError, match="8 partial messages"):
        r.add(("mallory", "m8"), _header_chunk("m8"))
    r.add(("alice", "a0"), _header_chunk("a0"))  # another peer is not held up
    r.drop(("mallory", "m0"))
    r.add(("mallory", "m8"), _header_chunk("m8"))
    assert len(r) == 9


def test_a_flood_of_headers_and_tiny_chunks_stays_inside_the_cap():
    cap = 4 * MB
    r = _reassembler(max_inflight_bytes=cap, max_partials_per_peer=1_000_000)
    rss_before = _rss_bytes()
    refused = 0
    for i in range(100_000):  # each claims a 60 MB message and sends one byte of it
        try:
            r.add(("mallory", f"m{i}"), _header_chunk(f"m{i}"))
        except RetryableError:
            refused += 1
        assert r.inflight_bytes <= cap
    grown = _rss_bytes() - rss_before
    assert refused > 90_000  # the cap, not the flood, decides how much is kept
    assert len(r) < 100_000 - refused + 1
    # Without headers in the cap, all 100,000 partial messages were kept: ~170 MB here.
    assert grown < 4 * cap, f"RSS grew by {grown / MB:.0f} MiB"

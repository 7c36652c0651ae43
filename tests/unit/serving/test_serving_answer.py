"""A host's serving answers only within its own bounds and only for models it deployed."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving.peers import MAX_ID_CHARS, answer
from serving.registry import Registry
from silobridge import topics
from silobridge.federation.bus_transport import build_envelope
from silobridge.federation.v1 import envelope_pb2 as env_pb
from silobridge.serving.v1 import serving_pb2 as spb

HOST, GUEST = 10000, 9999


def _request(ids: list[str]) -> env_pb.Envelope:
    req = spb.ScoreRequest(request_id="r1", model=spb.ModelKey(job_id="j1", task="hetero_lr_0"), ids=ids)
    return build_envelope(
        src_party=GUEST,
        src_role="guest",
        dst_party=HOST,
        dst_role="host",
        channel=env_pb.CHANNEL_SERVING,
        name=topics.SERVING_REQUEST,
        payload=req.SerializeToString(),
    )


@pytest.mark.parametrize(
    ("ids", "why"),
    [(["a"] * 257, "got 257"), (["x" * (MAX_ID_CHARS + 1)], f"at most {MAX_ID_CHARS} characters")],
)
def test_an_oversized_request_is_refused_by_the_hosts_own_bounds(
    tmp_path: Path, ids: list[str], why: str
) -> None:
    reply = answer(Registry(tmp_path), HOST, _request(ids), max_ids=256)
    assert reply.error.code == "invalid_input"
    assert why in reply.error.message and not reply.partial_scores


def test_a_model_not_deployed_here_is_refused_without_saying_more(tmp_path: Path) -> None:
    reply = answer(Registry(tmp_path), HOST, _request(["a", "b"]), max_ids=256)
    assert reply.error.code == "not_deployed"
    assert reply.error.message == f"model j1/hetero_lr_0 is not deployed at party {HOST} for party {GUEST}"
    assert not reply.partial_scores and not reply.missing_ids


def test_a_malformed_request_is_refused(tmp_path: Path) -> None:
    env = _request(["a"])
    env.payload = b"\xff\xff\xff"
    assert answer(Registry(tmp_path), HOST, env, max_ids=256).error.code == "invalid_input"

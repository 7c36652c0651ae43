"""Bounded fuzzing of every entry point where another party's (or a local peer's) bytes arrive.

Each one must answer malformed input with one of the project's errors (or an error reply) and
never crash, hang or raise anything else: the router's inbound chunk handler, the codec's
decoders, and the bus handlers of the cluster-manager, node-manager and flow. Inputs are both
raw bytes and well-formed protobuf messages with hostile field values. ``FUZZ_EXAMPLES`` bounds
each run (make test); the totals are printed at the end of the session.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cluster_manager.memory_store import MemoryClusterStore
from cluster_manager.service import ClusterManagerService
from cluster_manager.settings import ClusterManagerSettings
from flow.control import parse_control
from node_manager.service import NodeManagerService
from node_manager.settings import NodeManagerSettings
from rollsite_router.grpc_gateway import PeerInfo
from rollsite_router.routes import RouteTable
from rollsite_router.service import RouterService
from rollsite_router.settings import RouterSettings
from rollsite_router.signing import Signer
from silobridge import pki
from silobridge.bus.memory import MemoryBus
from silobridge.cluster.v1 import cluster_pb2
from silobridge.errors import SilobridgeError
from silobridge.federation import codec
from silobridge.federation.v1 import envelope_pb2 as env_pb
from silobridge.federation.v1 import values_pb2 as value_pb2
from silobridge.node.v1 import node_pb2
from silobridge.observability.metrics import InstrumentedBus, ServiceMetrics

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
TRIED: Counter[str] = Counter()
ME, PEER = 9999, 10000

raw_bytes = st.binary(max_size=4096)
words = st.text(alphabet=st.characters(codec="ascii"), max_size=300)


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    print("\nfuzz inputs tried per entry point:", dict(TRIED))


# ----- codec ----------------------------------------------------------------------------------
def _tensor() -> st.SearchStrategy[value_pb2.Value]:
    return st.builds(
        lambda dtype, shape, data: value_pb2.Value(
            tensor=value_pb2.Tensor(dtype=dtype, shape=shape, data=data)
        ),
        st.integers(0, 40),
        st.lists(st.integers(-3, 2**40), max_size=10),
        st.binary(max_size=512),
    )


def _paillier() -> st.SearchStrategy[value_pb2.Value]:
    return st.one_of(
        st.builds(
            lambda n: value_pb2.Value(paillier_public_key=value_pb2.PaillierPublicKey(n=n)),
            st.binary(max_size=1100),
        ),
        st.builds(
            lambda fp, width, count, data, exps, slots: value_pb2.Value(
                paillier_vector=value_pb2.PaillierVector(
                    key_fingerprint=fp, width=width, count=count, data=data, exponents=exps, pack_slots=slots
                )
            ),
            st.binary(max_size=40),
            st.integers(0, 2**32 - 1),
            st.integers(0, 2**32 - 1),
            st.binary(max_size=512),
            st.lists(st.integers(-(2**31), 2**31 - 1), max_size=4),
            st.integers(0, 2**32 - 1),
        ),
    )


values = st.recursive(
    st.one_of(
        _tensor(),
        _paillier(),
        st.just(value_pb2.Value(scalar=value_pb2.Scalar())),
        st.floats().map(lambda f: value_pb2.Value(scalar=value_pb2.Scalar(float_value=f))),
        st.lists(st.binary(max_size=64), max_size=8).map(
            lambda xs: value_pb2.Value(bytes_list=value_pb2.BytesList(values=xs))
        ),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: value_pb2.Value(list=value_pb2.ValueList(items=xs))),
        st.dictionaries(words, inner, max_size=4).map(
            lambda d: value_pb2.Value(map=value_pb2.ValueMap(items=d))
        ),
    ),
    max_leaves=20,
)


@FUZZ
@given(raw_bytes)
def test_codec_from_bytes_refuses_garbage_cleanly(data: bytes) -> None:
    TRIED["codec.from_bytes(bytes)"] += 1
    try:
        codec.from_bytes(data)
    except SilobridgeError:
        pass


@FUZZ
@given(values)
def test_codec_decode_refuses_hostile_values_cleanly(value: value_pb2.Value) -> None:
    TRIED["codec.decode(Value)"] += 1
    try:
        out = codec.decode(value)
    except SilobridgeError:
        return
    if isinstance(out, np.ndarray):
        assert out.size <= 4096  # never more elements than the bytes that came
    codec.to_bytes(out) if not isinstance(out, dict | list) else None


# ----- router inbound -------------------------------------------------------------------------
@pytest.fixture
async def router(tmp_path: Path) -> AsyncIterator[tuple[RouterService, MemoryBus]]:
    certs = tmp_path / "pki"
    pki.ensure_pki(certs, [ME, PEER])
    settings_ = RouterSettings(
        party_id=ME, cert_dir=certs, listen_host="127.0.0.1", listen_port=0, data_dir=tmp_path / "router"
    )
    bus = MemoryBus()
    await bus.start()
    metrics = ServiceMetrics("rollsite-router", ME)
    table = RouteTable.build(ME, {PEER: ("127.0.0.1", 1)})
    service = RouterService(settings_, InstrumentedBus(bus, metrics), metrics, route_table=table)
    yield service, bus
    await bus.close()


envelopes = st.builds(
    lambda src, dst, mid, idx, count, size, payload, digest, session, name, tag, channel: env_pb.Envelope(
        message_id=mid,
        src=env_pb.PartyRef(party_id=src),
        dst=env_pb.PartyRef(party_id=dst),
        chunk_index=idx,
        chunk_count=count,
        payload_size=size,
        payload=payload,
        payload_digest=digest,
        session=session,
        name=name,
        tag=tag,
        channel=channel,
    ),
    st.sampled_from([PEER, PEER, ME, 0, 12345]),
    st.sampled_from([ME, ME, PEER, 0]),
    st.one_of(st.text(max_size=20), words),
    st.integers(0, 2**31 - 1),
    st.integers(0, 2**31 - 1),
    st.integers(0, 2**62),
    st.binary(max_size=2048),
    st.binary(max_size=40),
    words,
    words,
    words,
    st.integers(0, 3),
)


@FUZZ
@given(chunks=st.lists(envelopes, min_size=1, max_size=5))
async def test_router_inbound_answers_every_chunk_with_an_ack(
    router: tuple[RouterService, MemoryBus], chunks: list[env_pb.Envelope]
) -> None:
    service, _ = router
    cert = pki.peer_certificate(pki.party_files(service.settings.cert_dir or Path(), PEER).cert.read_bytes())
    peer = PeerInfo(PEER, "127.0.0.1:1", certificate=cert)
    signer = Signer(pki.party_files(service.settings.cert_dir or Path(), PEER).key.read_bytes())
    for i, chunk in enumerate(chunks):
        TRIED["router inbound chunk"] += 1
        if i % 4:  # most chunks signed as the peer's router would: the checks behind it get fuzzed too
            signer.sign([chunk], time.time_ns())
        ack = await asyncio.wait_for(service._inbound(peer, chunk), 5)
        assert ack.message_id == chunk.message_id
        if not ack.ok:
            assert "Traceback" not in ack.error and len(ack.error) < 1000
    assert service.reassembler.inflight_bytes <= 5 * 2048  # what came, never what chunks claimed


# ----- bus handlers ---------------------------------------------------------------------------
@pytest.fixture
async def cluster_manager(tmp_path: Path) -> AsyncIterator[ClusterManagerService]:
    bus = MemoryBus()
    await bus.start()
    cm = ClusterManagerService(
        ClusterManagerSettings(data_dir=tmp_path, check_interval_s=3600),
        bus,
        ServiceMetrics("cluster-manager", ME),
        store=MemoryClusterStore(),
    )
    yield cm
    await bus.close()


def _messages(cls: type, fields: dict[str, st.SearchStrategy[object]]) -> st.SearchStrategy[bytes]:
    """Raw bytes, or a message of ``cls`` with one of its oneof fields set to hostile content."""
    return st.one_of(raw_bytes, st.builds(lambda m: m.SerializeToString(), st.one_of(*fields.values())))


cluster_requests = _messages(
    cluster_pb2.ClusterRequest,
    {
        "register": st.builds(
            lambda nid, cpus: cluster_pb2.ClusterRequest(
                register_node=cluster_pb2.RegisterNode(node=cluster_pb2.NodeInfo(node_id=nid, cpus=cpus))
            ),
            words,
            st.integers(0, 2**32 - 1),
        ),
        "heartbeat": st.builds(
            lambda nid, n: cluster_pb2.ClusterRequest(
                heartbeat=cluster_pb2.Heartbeat(node_id=nid, running_tasks=n)
            ),
            words,
            st.integers(0, 2**32 - 1),
        ),
        "allocate": st.builds(
            lambda sid, t: cluster_pb2.ClusterRequest(
                allocate_session=cluster_pb2.AllocateSession(session_id=sid, timeout_s=t)
            ),
            words,
            st.floats(allow_nan=True, allow_infinity=True),
        ),
    },
)


@FUZZ
@given(cluster_requests)
async def test_cluster_manager_replies_to_any_request(
    cluster_manager: ClusterManagerService, body: bytes
) -> None:
    TRIED["cluster-manager cluster.rpc"] += 1
    reply = cluster_pb2.ClusterReply()
    reply.ParseFromString(await asyncio.wait_for(cluster_manager.handle(body), 5))
    assert reply.WhichOneof("reply") is not None


@pytest.fixture
async def node_manager(tmp_path: Path) -> AsyncIterator[NodeManagerService]:
    bus = MemoryBus()
    await bus.start()
    settings_ = NodeManagerSettings(
        data_dir=tmp_path, node_id="n1", rpc_timeout_s=0.2, rpc_retry_window_s=0
    )  # no cluster-manager
    nm = NodeManagerService(settings_, bus, ServiceMetrics("node-manager", ME))
    yield nm
    await bus.close()


node_commands = _messages(
    node_pb2.NodeCommand,
    {
        "cancel": st.builds(
            lambda j, t, a: node_pb2.NodeCommand(
                cancel_task=node_pb2.CancelTask(job_id=j, task_name=t, attempt=a)
            ),
            words,
            words,
            st.integers(0, 2**32 - 1),
        ),
        "delete": st.builds(
            lambda ns, name: node_pb2.NodeCommand(
                delete_table=node_pb2.DeleteTable(table=node_pb2.TableRef(namespace=ns, name=name))
            ),
            words,
            words,
        ),
    },
)


@FUZZ
@given(node_commands)
async def test_node_manager_answers_any_command(node_manager: NodeManagerService, body: bytes) -> None:
    TRIED["node-manager node.<id>.cmd"] += 1
    reply = cluster_pb2.ClusterReply()
    reply.ParseFromString(await asyncio.wait_for(node_manager.handle_command(body), 10))


@FUZZ
@given(raw_bytes)
def test_flow_control_parser_refuses_garbage_cleanly(body: bytes) -> None:
    TRIED["flow flow.control"] += 1
    try:
        parse_control(body)
    except SilobridgeError:
        pass

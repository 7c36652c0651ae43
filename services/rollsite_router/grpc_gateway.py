"""The only module that imports ``grpc``: the mutual-TLS server and the per-peer stream client.

No generated stubs: the one method, ``/silobridge.router.v1.RouterService/Transfer`` (a
bidirectional stream of TransferRequest -> TransferResponse), is registered with a generic
handler, and the client calls it with ``channel.stream_stream``. Everything the router decides
(ACL, identity, chunks, the bus) lives in :mod:`rollsite_router.service`; this module only moves
envelopes and acks, and tells the service *who* the peer is, from the verified client certificate.

Ownership, so that no grpc.aio object outlives or leaves the event loop it was made on: each
GatewayServer owns one server and each PeerLink owns at most one channel at a time; both are
bound to the loop that started them, refuse to be used from any other, and are closed by their
owner on that loop, also when the operation that opened them is cancelled. A closed PeerLink never
reopens (an outbound handler still holding it after the service stopped gets RetryableError).

Certificate rotation: both take the router's TLS material as a function returning the material in
force, read anew for each connection. The server's credentials are dynamic
(``grpc.dynamic_ssl_server_credentials``): gRPC asks before every new handshake and gets the new
certificate, key and CA bundle once they changed. A PeerLink opens each new channel with the
material in force, and hands that material to the sender before each write, so that an envelope
is signed with the key of the certificate the stream presented; open streams keep theirs.
Timeouts use ``asyncio.timeout`` and never ``asyncio.wait_for``: on Python 3.11, ``wait_for``
returns the inner result and drops a cancellation that arrives in the same loop iteration as that
result, so a cancelled sender kept running and the service's stop waited for it forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from rollsite_router.protocol import error_from_ack
from rollsite_router.tls import TlsMaterial
from silobridge.errors import InvalidInput, RetryableError
from silobridge.federation.v1 import envelope_pb2 as env_pb
from silobridge.pki import PeerCertificate, peer_certificate
from silobridge.router.v1 import router_pb2

log = logging.getLogger(__name__)

SERVICE_NAME = "silobridge.router.v1.RouterService"
TRANSFER_PATH = f"/{SERVICE_NAME}/Transfer"
ACK_MESSAGE_BYTES = 64 * 1024

_aio_runtime_held = False


def _hold_aio_runtime() -> None:
    """Initialise grpc.aio's process-wide runtime once and keep it for the life of the process.

    Upstream behaviour worked around here: grpc.aio counts its live objects, and when the last
    server or channel is freed it shuts its shared completion queue and poller thread down, only
    to start a new one for the next object. Servers and channels torn down and recreated, loop
    after loop (tests, restarts, peer churn), keep hitting that shutdown/re-initialisation path,
    where the poller thread races the shutdown and the interpreter can die with SIGSEGV. One extra
    reference taken here means that path is never taken while the process runs.
    """
    global _aio_runtime_held
    if not _aio_runtime_held:
        grpc.aio.init_grpc_aio()
        _aio_runtime_held = True


class _LoopBound:
    """Remembers the event loop that first used the object; any other loop is refused."""

    _loop: asyncio.AbstractEventLoop | None = None

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError(
                f"{type(self).__name__} belongs to another event loop: grpc.aio objects are never shared"
            )


@dataclass(frozen=True)
class PeerInfo:
    """Who is on the other end of an inbound stream, as TLS proved it."""

    #: Party id from the verified client certificate; None when it names no party.
    party_id: int | None
    address: str
    #: Why there is no party id (for the rejection log).
    problem: str = ""
    #: The verified client certificate (serial, fingerprint, key that signs its envelopes).
    certificate: PeerCertificate | None = None

    @property
    def label(self) -> str:
        return str(self.party_id) if self.party_id is not None else "unknown"


InboundHandler = Callable[[PeerInfo, env_pb.Envelope], Awaitable[router_pb2.Ack]]
#: Fixed TLS material, or a function returning the material in force (read at each new connection).
TlsSource = TlsMaterial | Callable[[], TlsMaterial]


def _tls_getter(tls: TlsSource) -> Callable[[], TlsMaterial]:
    if isinstance(tls, TlsMaterial):
        return lambda: tls
    return tls


def peer_from_auth_context(auth: dict[str, list[bytes]], address: str) -> PeerInfo:
    """The party id of a mutual-TLS peer: from its PEM certificate (SAN URI + CN, strictly)."""
    if auth.get("transport_security_type") != [b"ssl"]:
        return PeerInfo(None, address, "connection is not TLS")
    pems = auth.get("x509_pem_cert") or []
    if len(pems) != 1:
        return PeerInfo(None, address, "no client certificate")
    try:
        cert = peer_certificate(pems[0])
        return PeerInfo(cert.party_id, address, certificate=cert)
    except InvalidInput as exc:
        return PeerInfo(None, address, str(exc))


class GatewayServer(_LoopBound):
    """gRPC server with ``require_client_auth``: a client without a certificate from our CA never
    gets past the TLS handshake. One start, one stop, on one loop."""

    def __init__(
        self, handler: InboundHandler, *, host: str, port: int, tls: TlsSource, max_message_bytes: int
    ) -> None:
        self._handler = handler
        self._address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._tls = _tls_getter(tls)
        self._served: TlsMaterial | None = None  # what gRPC's handshakes use now
        self._max_message_bytes = max_message_bytes
        self._server: grpc.aio.Server | None = None
        self._stopped = False
        self.port = 0
        self._busy = 0  # envelopes being handled right now
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self) -> int:
        self._bind_loop()
        if self._server is not None or self._stopped:
            raise RuntimeError("a GatewayServer starts once; make a new one to listen again")
        _hold_aio_runtime()
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", self._max_message_bytes),
                ("grpc.max_send_message_length", ACK_MESSAGE_BYTES),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ]
        )
        rpc = grpc.stream_stream_rpc_method_handler(
            self._transfer,
            request_deserializer=router_pb2.TransferRequest.FromString,
            response_serializer=router_pb2.TransferResponse.SerializeToString,
        )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE_NAME, {"Transfer": rpc}),)
        )
        initial = self._tls()
        creds = grpc.dynamic_ssl_server_credentials(
            _server_cert_config(initial), self._fetch_cert_config, require_client_authentication=True
        )
        self._served = initial
        self._server = server  # owned from here on: stop() releases it, whatever happens next
        try:
            self.port = server.add_secure_port(self._address, creds)
        except RuntimeError as exc:
            await self.stop(0)
            raise OSError(f"router cannot listen on {self._address}: {exc}") from None
        if not self.port:
            await self.stop(0)
            raise OSError(f"router cannot listen on {self._address}")
        try:
            await server.start()
        except BaseException:
            await self.stop(0)
            raise
        return self.port

    def _fetch_cert_config(self) -> Any:
        """gRPC calls this before each new TLS handshake, on its own thread: the material in force
        when it changed since the last handshake, else None (keep). Reads no file: cheap."""
        tls = self._tls()
        if tls is self._served or tls == self._served:
            return None
        self._served = tls
        log.info("new connections are served with the reloaded certificate", extra={"event": "tls_served"})
        return _server_cert_config(tls)

    async def stop(self, grace_s: float = 5.0) -> None:
        """Take no new envelope, let those being handled finish and ack (up to ``grace_s``), then
        cut the peer streams. Idempotent; the server is stopped even if this call is cancelled."""
        server, self._server = self._server, None
        self._stopped = True
        if server is None:
            return
        self._bind_loop()
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace_s):
                    await self._idle.wait()
        finally:
            await server.stop(0)

    async def _transfer(
        self, requests: AsyncIterator[router_pb2.TransferRequest], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[router_pb2.TransferResponse]:
        auth = {k: list(v) for k, v in context.auth_context().items()}
        peer = peer_from_auth_context(auth, context.peer())
        async for request in requests:
            if self._stopped:  # draining: end the stream; the unacked envelope is sent again later
                return
            self._busy += 1
            self._idle.clear()
            try:
                ack = await self._handler(peer, request.envelope)
            except Exception:
                log.exception("inbound handler failed", extra={"peer": peer.label})
                ack = router_pb2.Ack(
                    message_id=request.envelope.message_id,
                    chunk_index=request.envelope.chunk_index,
                    ok=False,
                    error="internal: internal error",
                )
            finally:
                self._busy -= 1
                if not self._busy:
                    self._idle.set()
            yield router_pb2.TransferResponse(ack=ack)


class PeerLink(_LoopBound):
    """One long-lived bidirectional stream to one peer router, reopened after a failure.

    The client pins the peer's identity with ``ssl_target_name_override = party-<id>``, so a
    router that presents any other party's certificate is refused by TLS.
    """

    def __init__(
        self,
        *,
        peer_party: int,
        target: str,
        server_name: str,
        tls: TlsSource,
        max_message_bytes: int,
        connect_timeout_s: float,
        check_server: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self.peer_party, self.target, self.server_name = peer_party, target, server_name
        #: Called with (target, server name) before each new channel (the router checks revocation).
        self._check_server = check_server
        self._tls = _tls_getter(tls)
        self._max_message_bytes = max_message_bytes
        self._connect_timeout_s = connect_timeout_s
        self._channel: grpc.aio.Channel | None = None
        self._channel_tls: TlsMaterial | None = None  # what the open channel presented
        self._call: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[tuple[str, int], list[asyncio.Future[router_pb2.Ack]]] = {}
        self._connect_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._closed = False

    @property
    def connected(self) -> bool:
        return self._call is not None and not self._call.done()

    async def send(
        self,
        chunks: Sequence[env_pb.Envelope],
        ack_timeout_s: float,
        *,
        before_write: Callable[[TlsMaterial], None] | None = None,
    ) -> int:
        """Write every chunk and wait for every ack. Returns the number of gRPC messages written.

        ``before_write`` gets the TLS material of the stream the chunks are about to be written
        to (the router signs them with its key there). Raises RetryableError when the peer cannot
        be reached or the stream breaks, and the error mapped from the ack (see
        :mod:`rollsite_router.protocol`) when the peer refuses.
        """
        self._bind_loop()
        call, tls = await self._open()
        if before_write is not None:
            before_write(tls)
        loop = asyncio.get_running_loop()
        waits: list[tuple[tuple[str, int], asyncio.Future[router_pb2.Ack]]] = []
        for chunk in chunks:
            key = (chunk.message_id, chunk.chunk_index)
            fut: asyncio.Future[router_pb2.Ack] = loop.create_future()
            self._pending.setdefault(key, []).append(fut)
            waits.append((key, fut))
        try:
            async with self._write_lock:
                for chunk in chunks:
                    await call.write(router_pb2.TransferRequest(envelope=chunk))
            async with asyncio.timeout(ack_timeout_s):
                acks = await asyncio.gather(*(f for _, f in waits))
        except TimeoutError:
            await self._drop_call(call)  # a silent peer: reconnect on the next attempt
            raise RetryableError(
                f"party {self.peer_party}'s router at {self.target} did not ack within {ack_timeout_s:.0f}s"
            ) from None
        except (grpc.RpcError, asyncio.InvalidStateError) as exc:
            await self._drop_call(call)
            raise RetryableError(
                f"stream to party {self.peer_party}'s router at {self.target} broke: {exc}"
            ) from None
        finally:
            for key, fut in waits:
                futs = self._pending.get(key)
                if futs is not None and fut in futs:
                    futs.remove(fut)
                    if not futs:
                        del self._pending[key]
                if not fut.done():
                    fut.cancel()
        for ack in acks:
            if not ack.ok:
                raise error_from_ack(ack, self.peer_party)
        return len(chunks)

    async def close(self) -> None:
        """Cancel the stream, close the channel; the link never opens again."""
        self._closed = True
        if self._loop is None:
            return  # never used: nothing was opened
        self._bind_loop()
        async with self._connect_lock:
            await self._drop_call()

    async def _open(self) -> tuple[Any, TlsMaterial]:
        async with self._connect_lock:
            if self._closed:
                raise RetryableError(f"link to party {self.peer_party}'s router at {self.target} is closed")
            if self.connected and self._channel_tls is not None:
                return self._call, self._channel_tls
            await self._drop_call()
            if self._check_server is not None:
                await self._check_server(self.target, self.server_name)
            _hold_aio_runtime()
            tls = self._tls()
            creds = grpc.ssl_channel_credentials(
                root_certificates=tls.ca, private_key=tls.key, certificate_chain=tls.cert
            )
            channel = grpc.aio.secure_channel(
                self.target,
                creds,
                options=[
                    ("grpc.ssl_target_name_override", self.server_name),
                    ("grpc.max_send_message_length", self._max_message_bytes),
                    ("grpc.max_receive_message_length", ACK_MESSAGE_BYTES),
                    ("grpc.keepalive_time_ms", 30_000),
                    ("grpc.keepalive_timeout_ms", 10_000),
                    ("grpc.http2.max_pings_without_data", 0),
                ],
            )
            try:
                async with asyncio.timeout(self._connect_timeout_s):
                    await channel.channel_ready()
            except (TimeoutError, grpc.RpcError):
                state = channel.get_state(try_to_connect=False).name
                await channel.close(grace=None)
                raise RetryableError(
                    f"cannot reach party {self.peer_party}'s router at {self.target} "
                    f"within {self._connect_timeout_s:.0f}s (channel {state}: down, or TLS refused - "
                    f"does it present a {self.server_name} certificate from our CA?)"
                ) from None
            except BaseException:  # cancelled while connecting: the channel has no other owner
                await channel.close(grace=None)
                raise
            call = channel.stream_stream(
                TRANSFER_PATH,
                request_serializer=router_pb2.TransferRequest.SerializeToString,
                response_deserializer=router_pb2.TransferResponse.FromString,
            )()
            self._channel, self._call, self._channel_tls = channel, call, tls
            self._reader = asyncio.get_running_loop().create_task(
                self._read(call), name=f"router-acks-{self.peer_party}"
            )
            log.info(
                "stream open to party %s at %s", self.peer_party, self.target, extra={"peer": self.peer_party}
            )
            return call, tls

    async def _read(self, call: Any) -> None:
        reason = "stream closed by the peer"
        try:
            async for response in call:
                ack = response.ack
                for fut in self._pending.pop((ack.message_id, ack.chunk_index), []):
                    if not fut.done():
                        fut.set_result(ack)
        except grpc.RpcError as exc:
            reason = f"stream broke: {exc}"
        finally:
            self._fail_pending(RetryableError(f"party {self.peer_party}'s router at {self.target}: {reason}"))

    def _fail_pending(self, exc: BaseException) -> None:
        pending, self._pending = self._pending, {}
        for futs in pending.values():
            for fut in futs:
                if not fut.done():
                    fut.set_exception(exc)

    async def _drop_call(self, only: Any = None) -> None:
        """Cancel the call, end its reader, close the channel; the channel is closed even when
        this is cancelled while waiting for the reader. With ``only``, drop the call only if it
        is still the current one (another sender may have reconnected meanwhile)."""
        if only is not None and self._call is not only:
            return
        call, channel, reader = self._call, self._channel, self._reader
        self._call = self._channel = self._reader = None
        self._channel_tls = None
        try:
            if call is not None:
                call.cancel()
            if reader is not None:
                reader.cancel()
                await asyncio.wait({reader})  # unlike ``await reader``, keeps our own cancellation
                if not reader.cancelled() and reader.exception() is not None:
                    log.warning("ack reader of party %s ended with %r", self.peer_party, reader.exception())
        finally:
            if channel is not None:
                await channel.close(grace=None)


def _server_cert_config(tls: TlsMaterial) -> Any:
    return grpc.ssl_server_certificate_configuration([(tls.key, tls.cert)], root_certificates=tls.ca)

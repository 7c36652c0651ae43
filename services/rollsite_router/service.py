"""The router service: bus ``router.outbound`` -> peer routers, and peer routers -> local bus.

Outbound, each Envelope is validated, chunked, stamped with the send time and signed with this
router's key (:mod:`rollsite_router.signing`), and written to a long-lived stream to the peer; the
bus message is acknowledged only after the peer router acked every chunk (at-least-once), and a
peer that cannot be reached is retried with backoff, then requeued. Inbound, the peer's party is
taken from its TLS certificate, never from the envelope; an envelope that claims another source,
targets another party, comes from a party outside the ACL or with a revoked certificate
(:mod:`rollsite_router.revocation`), is not signed by that certificate's key, was sent outside the
time window (:mod:`rollsite_router.replay`), belongs to a job this party has not accepted
(:mod:`rollsite_router.admission`), or is too large is refused, before anything reaches the bus.
A whole, verified envelope is published at a topic derived from its channel, once per message id,
also across restarts.

The route table, the TLS material and the revocation list are reloaded while the router runs
(:mod:`rollsite_router.reload`): polled, and at once on :meth:`RouterService.request_reload`
(SIGHUP). A new route table closes only the streams whose peer moved; new TLS material is used
by the next connection in each direction, while open streams keep theirs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

from rollsite_router import admission, audit, chunking, expiry, peer_probe, replay, signing
from rollsite_router.admission import JobAdmissions
from rollsite_router.filewatch import FileWatch
from rollsite_router.grpc_gateway import GatewayServer, PeerInfo, PeerLink
from rollsite_router.metrics import RouterMetrics
from rollsite_router.protocol import error_ack, ok_ack
from rollsite_router.reload import Reloader, Source, describe_change
from rollsite_router.replay import ReplayRecord
from rollsite_router.revocation import RevocationList
from rollsite_router.routes import Endpoint, RouteTable, load_route_table
from rollsite_router.settings import RouterSettings
from rollsite_router.signing_keys import SigningKeys
from rollsite_router.tls import TlsFiles, TlsMaterial
from silobridge import topics
from silobridge.bus.base import Bus, Message, Subscription, check_word
from silobridge.errors import (
    BusUnavailable,
    IntegrityError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RetryableError,
    SilobridgeError,
    public_message,
)
from silobridge.federation.v1 import envelope_pb2 as env_pb
from silobridge.observability.metrics import ServiceMetrics
from silobridge.pki import peer_certificate
from silobridge.router.v1 import router_pb2
from silobridge.service import Service, stop_background, stop_consuming

log = logging.getLogger(__name__)

OUTBOUND_GROUP = "router-outbound"
JOBS_GROUP = "router-jobs"
PURGE_INTERVAL_S = 60.0
#: Refusals that say something about a peer's honesty: written to the audit log too.
AUDITED_REFUSALS = frozenset(
    {"no_identity", "acl", "spoofed_source", "revoked", "bad_signature", "time_window", "finished_session"}
)
MAX_MESSAGE_ID_CHARS = 128
SESSION_CACHE = 10_000


class Rejected(PermissionDenied):
    """An inbound envelope refused by policy; ``reason`` is the metric label."""

    def __init__(self, reason: str, message: str, *, public_message: str) -> None:
        super().__init__(message, public_message=public_message)
        self.reason = reason


class RouterService(Service):
    name = "rollsite-router"

    def __init__(
        self,
        settings: RouterSettings,
        bus: Bus,
        metrics: ServiceMetrics,
        *,
        route_table: RouteTable | None = None,
    ) -> None:
        super().__init__(settings, bus, metrics)
        self.settings: RouterSettings = settings
        self.router_metrics = RouterMetrics(metrics.registry)
        self.tls_files = TlsFiles(
            settings.ca_path, settings.cert_path, settings.key_path, party_id=settings.party_id
        )
        self._route_watch = FileWatch((settings.route_table,)) if settings.route_table is not None else None
        if route_table is None:
            route_table = (
                load_route_table(settings.route_table, expected_self=settings.party_id)
                if settings.route_table is not None
                else RouteTable(settings.party_id)
            )
        self._check_table(route_table)
        self.route_table = route_table
        self.router_metrics.routes.set(len(route_table.routes))
        self.reassembler = chunking.Reassembler(
            max_payload_bytes=settings.max_payload_bytes,
            max_inflight_bytes=settings.max_inflight_chunks_bytes,
            timeout_s=settings.reassembly_timeout_s,
            max_partials_per_peer=settings.max_partial_messages_per_peer,
        )
        self._signing_keys = SigningKeys()
        self.revocations = RevocationList(settings.crl_path, self.tls.ca)
        self.router_metrics.revoked.set(len(self.revocations))
        self._replay = ReplayRecord(
            settings.data_dir / replay.STATE_FILE,
            retention_s=settings.dedup_retention_s,
            memory_capacity=settings.dedup_capacity,
        )
        self.admissions = JobAdmissions(settings.data_dir / admission.STATE_FILE)
        self._publish_locks: dict[str, asyncio.Lock] = {}
        self._declared_sessions: OrderedDict[str, None] = OrderedDict()
        self._links: dict[Endpoint, PeerLink] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._subs: list[Subscription] = []
        self._server: GatewayServer | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._reload_watcher: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        sources = [Source("tls", self.tls_files.changed, self.tls_files.reload)]
        if self._route_watch is not None:
            sources.insert(0, Source("routes", self._route_watch.changed, self.reload_routes))
        self.reloader = Reloader(sources, self.router_metrics.reloads)
        self.port = 0

    @property
    def tls(self) -> TlsMaterial:
        """This router's certificate, key and CA bundle in force (they change on rotation)."""
        return self.tls_files.material

    # ----- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        self._loop = asyncio.get_running_loop()
        self._server = GatewayServer(
            self._inbound,
            host=s.listen_host,
            port=s.listen_port,
            tls=lambda: self.tls,
            max_message_bytes=s.max_grpc_message_bytes,
        )
        self.port = await self._server.start()
        await self.bus.declare_group(topics.ROUTER_JOBS, JOBS_GROUP)
        self._subs.append(await self.bus.subscribe(topics.ROUTER_JOBS, self._on_admission, group=JOBS_GROUP))
        for _ in range(s.outbound_concurrency):
            self._subs.append(
                await self.bus.subscribe(
                    topics.ROUTER_OUTBOUND,
                    self._outbound,
                    group=OUTBOUND_GROUP,
                    max_deliveries=s.outbound_max_deliveries,
                )
            )
        loop = asyncio.get_running_loop()
        self._sweeper = loop.create_task(self._sweep(), name="router-reassembly-sweeper")
        self._watcher = loop.create_task(self._watch_revocations(), name="router-crl-watcher")
        self._reload_watcher = loop.create_task(
            self.reloader.watch(s.reload_interval_s), name="router-config-watcher"
        )
        self._ready = True
        log.info(
            "router of party %s listening on %s:%s, %d routes",
            s.party_id,
            s.listen_host,
            self.port,
            len(self.route_table.routes),
            extra={"event": "listening"},
        )

    async def stop(self) -> None:
        """Outbound first, then inbound, in one fixed order; idempotent.

        1. stop consuming: an outbound message whose send is in flight is cancelled and, never
           acked, goes back to the bus; 2. close every peer link (also those being closed after a
           route change), so that no channel outlives the service; 3. let inbound envelopes being
           handled finish and ack, then stop the server; 4. the sweeper.
        """
        self._ready = False
        await stop_consuming(self._subs)
        links, self._links = self._links, {}
        for link in links.values():
            await link.close()
        closing, self._closing = set(self._closing), set()
        if closing:
            await asyncio.wait(closing)
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop()
        await stop_background(self._sweeper)
        await stop_background(self._watcher)
        await stop_background(self._reload_watcher)
        self._sweeper = self._watcher = self._reload_watcher = None
        self._loop = None
        self._replay.close()
        self.admissions.close()

    def set_route_table(self, table: RouteTable) -> None:
        """Swap the route table (peers learnt after start, or a reloaded file). Call on the loop."""
        self._check_table(table)
        self.route_table = table
        self.router_metrics.routes.set(len(table.routes))
        for endpoint in [e for e in self._links if not _still_routed(table, e)]:
            self._close_link(endpoint)  # the peer moved

    def _close_link(self, endpoint: Endpoint) -> None:
        """Close one peer stream in the background; the next send opens a new one."""
        link = self._links.pop(endpoint)
        task = asyncio.get_running_loop().create_task(link.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def request_reload(self) -> None:
        """Read the route table, the TLS files and the revocation list now (SIGHUP). Safe to call
        from a signal handler or another thread: the reload runs on the service's loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            log.warning("reload requested while the router is not running: ignored")
            return
        loop.call_soon_threadsafe(self._reload_all)

    def _reload_all(self) -> None:
        log.info("reloading route table, TLS material and revocation list", extra={"event": "reload"})
        self.reloader.reload_all()
        try:
            self.reload_revocations()
        except Exception:
            log.exception("revocation list check failed")

    def reload_routes(self) -> bool:
        """Read the route-table file; True when a new table is in force. A file that cannot be
        used raises RouteTableError and leaves the table in force untouched."""
        if self.settings.route_table is None:
            return False
        table = load_route_table(self.settings.route_table, expected_self=self.settings.party_id)
        if table == self.route_table:
            return False
        old = self.route_table
        self.set_route_table(table)
        log.info(
            "route table %s reloaded: %s",
            self.settings.route_table,
            describe_change(old, table),
            extra={"event": "routes_reloaded"},
        )
        return True

    def _refresh_routes(self) -> None:
        """A party without a route or outside the ACL: the file may have just gained it (peer
        add) and not been polled yet. A stat, and a read only when the file changed."""
        self.reloader.poll("routes")

    def reload_revocations(self) -> bool:
        """Read the revocation list again if its file changed (the watcher calls this too)."""
        changed = self.revocations.reload()
        self.router_metrics.revoked.set(len(self.revocations))
        if changed:  # streams reopen, each after its peer's certificate is checked against the new list
            for endpoint in list(self._links):
                self._close_link(endpoint)
        return changed

    async def _watch_revocations(self) -> None:
        while True:
            await asyncio.sleep(self.settings.crl_reload_interval_s)
            try:
                self.reload_revocations()
            except Exception:  # never let a broken file stop the watcher
                log.exception("revocation list check failed")

    async def _check_peer_not_revoked(self, target: str, server_name: str) -> None:
        """Before a stream opens: the peer's certificate must not be on the revocation list."""
        if not len(self.revocations):
            return  # nothing revoked: spare the extra handshake
        s = self.settings
        der = await peer_probe.fetch_server_cert(
            target,
            server_name=server_name,
            ca=self.tls.ca,
            cert_file=s.cert_path,
            key_file=s.key_path,
            timeout_s=s.connect_timeout_s,
        )
        cert = peer_certificate(der)
        if self.revocations.is_revoked(cert.serial):
            raise PermissionDenied(
                f"the router at {target} presents party {cert.party_id}'s certificate (serial {cert.serial:x}), "
                "which the federation CA revoked: nothing is sent to it"
            )

    async def _on_admission(self, msg: Message) -> None:
        """Flow's word on a job: OPEN (accepted here) or CLOSED (ended here)."""
        update = router_pb2.JobAdmissionUpdate()
        try:
            update.ParseFromString(msg.body)
            changed = self.admissions.apply(update)
        except (ValueError, InvalidInput) as exc:
            raise IntegrityError(f"bad job admission update on {msg.topic}: {exc}") from None
        if changed:
            log.info(
                "job %s %s for inbound sessions",
                update.job_id,
                "open" if update.admission == router_pb2.JOB_ADMISSION_OPEN else "closed",
                extra={"event": "job_admission", "job_id": update.job_id},
            )

    def _check_table(self, table: RouteTable) -> None:
        if table.self_party != self.settings.party_id:
            raise InvalidInput(
                f"route table is for party {table.self_party}, this router is {self.settings.party_id}"
            )

    # ----- outbound: bus -> peer -------------------------------------------------------------

    async def _outbound(self, msg: Message) -> None:
        env = env_pb.Envelope()
        try:
            env.ParseFromString(msg.body)
        except Exception:
            raise IntegrityError(
                f"malformed Envelope on {msg.topic} (bus message {msg.message_id})"
            ) from None
        if not env.message_id:
            env.message_id = msg.message_id
        peer = str(env.dst.party_id)
        expires = expiry.expires_at(msg.headers)  # flow's heartbeats: dropped once late
        if expiry.passed(expires):
            self.router_metrics.messages.labels(peer, "out", "expired").inc()
            return
        try:
            endpoint = self._validate_outbound(env)
        except SilobridgeError as exc:
            self.router_metrics.messages.labels(peer, "out", "invalid").inc()
            log.error(
                "outbound message %s dead-lettered: %s", env.message_id[:128], exc, extra={"peer": peer}
            )
            raise
        chunks = chunking.split(env, self.settings.chunk_bytes)
        started = time.perf_counter()
        try:
            sent, signed_by = await self._deliver(endpoint, env.dst.party_id, chunks, expires)
        except SilobridgeError as exc:
            if exc.retryable and expires is not None:  # tried until its expiry; never requeued
                self.router_metrics.messages.labels(peer, "out", "expired").inc()
                return
            outcome = "retry" if exc.retryable else "refused"
            self.router_metrics.messages.labels(peer, "out", outcome).inc()
            log.warning(
                "message %s to party %s not delivered: %s",
                env.message_id,
                peer,
                exc,
                extra={"peer": peer, "message_id": env.message_id},
            )
            raise
        self.router_metrics.send_seconds.labels(peer).observe(time.perf_counter() - started)
        self.router_metrics.messages.labels(peer, "out", "ok").inc()
        self.router_metrics.bytes.labels(peer, "out").inc(len(env.payload))
        self.router_metrics.chunks.labels(peer, "out").inc(sent)
        audit.record_message("out", peer, chunks[0], len(env.payload), signer_sha256=signed_by)

    def _validate_outbound(self, env: env_pb.Envelope) -> Endpoint:
        me = self.settings.party_id
        _check_message_id(env.message_id)
        if env.src.party_id != me:
            raise PermissionDenied(
                f"outbound envelope {env.message_id} claims source party {env.src.party_id}, this is party {me}"
            )
        if env.dst.party_id == me:
            raise InvalidInput(f"outbound envelope {env.message_id} is addressed to this party itself ({me})")
        endpoint = self.route_table.endpoint_for(env.dst.party_id)
        if endpoint is None:
            self._refresh_routes()
            endpoint = self.route_table.endpoint_for(env.dst.party_id)
        if endpoint is None:
            raise NotFound(
                f"no route to party {env.dst.party_id} (message {env.message_id}): "
                "add it to the route table or set a default route"
            )
        _check_channel_fields(env)
        if len(env.payload) > self.settings.max_payload_bytes:
            raise PayloadTooLarge(
                f"payload of {len(env.payload)} bytes to party {env.dst.party_id} exceeds "
                f"max_payload_bytes={self.settings.max_payload_bytes}"
            )
        return endpoint

    async def _deliver(
        self, endpoint: Endpoint, dst: int, chunks: list[env_pb.Envelope], expires: float | None = None
    ) -> tuple[int, str]:
        """Send with backoff for up to ``send_retry_s`` (at most until ``expires``), then raise.

        Returns the gRPC messages written and the fingerprint of the certificate whose key
        signed them: at each attempt the chunks are stamped and signed anew with the key of the
        certificate that the stream presents (after a rotation, old streams keep the old one).
        """
        s = self.settings
        link = self._link(endpoint, dst)
        deadline = expiry.retry_deadline(time.monotonic() + s.send_retry_s, expires)
        backoff = s.retry_initial_backoff_s
        signed_by = ""

        def sign(tls: TlsMaterial) -> None:
            nonlocal signed_by
            identity = self._signing_keys.identity(tls)
            identity.signer.sign(chunks, time.time_ns())
            signed_by = identity.cert_sha256

        while True:
            try:
                sent = await link.send(chunks, s.ack_timeout_s, before_write=sign)
                return sent, signed_by
            except RetryableError as exc:
                if time.monotonic() + backoff > deadline:
                    raise
                log.info(
                    "retrying message to party %s in %.1fs: %s", dst, backoff, exc, extra={"peer": str(dst)}
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, s.retry_max_backoff_s)

    def _link(self, endpoint: Endpoint, dst: int) -> PeerLink:
        link = self._links.get(endpoint)
        if link is None:
            link = PeerLink(
                peer_party=dst,
                target=endpoint.target,
                server_name=endpoint.server_name,
                tls=lambda: self.tls,
                max_message_bytes=self.settings.max_grpc_message_bytes,
                connect_timeout_s=self.settings.connect_timeout_s,
                check_server=self._check_peer_not_revoked,
            )
            self._links[endpoint] = link
        return link

    # ----- inbound: peer -> bus --------------------------------------------------------------

    async def _inbound(self, peer: PeerInfo, chunk: env_pb.Envelope) -> router_pb2.Ack:
        label = peer.label
        self.router_metrics.chunks.labels(label, "in").inc()
        key = f"{chunk.src.party_id}:{chunk.message_id}"
        try:
            self._check_inbound(peer, chunk)
            if self._replay.seen(key):
                self.router_metrics.messages.labels(label, "in", "duplicate").inc()
                return ok_ack(chunk)
            try:
                whole = self.reassembler.add((label, chunk.message_id), chunk)
            finally:
                self.router_metrics.reassembly_bytes.set(self.reassembler.inflight_bytes)
            if whole is None:
                return ok_ack(chunk)
            await self._publish_once(key, whole, peer)
            return ok_ack(chunk)
        except Rejected as exc:
            self.reassembler.drop((label, chunk.message_id))
            self._reject(peer, chunk, exc.reason, exc)
            return error_ack(chunk, exc)
        except SilobridgeError as exc:
            reason = _reason(exc)
            if not exc.retryable:
                self.reassembler.drop((label, chunk.message_id))
            self._reject(peer, chunk, reason, exc)
            return error_ack(chunk, exc)

    def _check_inbound(self, peer: PeerInfo, env: env_pb.Envelope) -> None:
        me = self.settings.party_id
        if peer.party_id is None:
            raise Rejected(
                "no_identity",
                f"peer certificate names no party: {peer.problem}",
                public_message="your certificate does not identify a silobridge party",
            )
        if not self.route_table.allows(peer.party_id):
            self._refresh_routes()
        if not self.route_table.allows(peer.party_id):
            raise Rejected(
                "acl",
                f"party {peer.party_id} is not allowed to send to party {me}",
                public_message=f"party {me} does not accept messages from party {peer.party_id}",
            )
        if env.src.party_id != peer.party_id:
            raise Rejected(
                "spoofed_source",
                f"envelope claims source party {env.src.party_id} but the certificate is party {peer.party_id}",
                public_message="source party does not match your certificate",
            )
        if env.dst.party_id != me:
            raise Rejected(
                "wrong_destination",
                f"envelope for party {env.dst.party_id} arrived at party {me}",
                public_message=f"this router is party {me}, not party {env.dst.party_id}",
            )
        if env.payload_size > self.settings.max_payload_bytes:
            raise PayloadTooLarge(
                f"message of {env.payload_size} bytes exceeds max_payload_bytes={self.settings.max_payload_bytes}",
                public_message=f"message exceeds the limit of {self.settings.max_payload_bytes} bytes",
            )
        _check_message_id(env.message_id)
        self._check_authentic(peer, env)
        _check_channel_fields(env)
        if env.channel == env_pb.CHANNEL_FEDERATION:
            try:
                self.admissions.check(env.session)
            except admission.FinishedSession as exc:
                raise Rejected("finished_session", str(exc), public_message=public_message(exc)) from None

    def _check_authentic(self, peer: PeerInfo, env: env_pb.Envelope) -> None:
        """Certificate not revoked, signature by its key, send time inside the window."""
        cert = peer.certificate
        if cert is None:
            raise Rejected(
                "no_identity",
                "peer presented no certificate to verify signatures with",
                public_message="your certificate does not identify a silobridge party",
            )
        if self.revocations.is_revoked(cert.serial):
            raise Rejected(
                "revoked",
                f"party {cert.party_id}'s certificate (serial {cert.serial:x}, sha256 {cert.sha256}) is revoked",
                public_message="your certificate is revoked by the federation CA",
            )
        try:
            signing.verify(cert.public_key, env)
        except signing.BadSignature as exc:
            raise Rejected("bad_signature", str(exc), public_message=public_message(exc)) from None
        try:
            replay.check_window(env, self.settings.envelope_window_s, time.time())
        except replay.OutsideWindow as exc:
            raise Rejected("time_window", str(exc), public_message=public_message(exc)) from None

    async def _publish_once(self, key: str, env: env_pb.Envelope, info: PeerInfo) -> None:
        peer = info.label
        lock = self._publish_locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                if self._replay.seen(key):
                    self.router_metrics.messages.labels(peer, "in", "duplicate").inc()
                    return
                topic = await self._inbound_topic(env)
                try:
                    await self.bus.publish(
                        topic,
                        env.SerializeToString(),
                        message_id=env.message_id,
                        headers={"src_party": str(env.src.party_id)},
                    )
                except SilobridgeError:
                    raise
                except Exception as exc:  # a broker client's own error: the peer may retry later
                    raise BusUnavailable(
                        f"cannot publish inbound message on {topic}: {exc}",
                        public_message="local bus unavailable",
                    ) from exc
                self._replay.mark(key)
        finally:
            if not lock.locked():
                self._publish_locks.pop(key, None)
        self.router_metrics.messages.labels(peer, "in", "ok").inc()
        self.router_metrics.bytes.labels(peer, "in").inc(len(env.payload))
        signer = info.certificate.sha256 if info.certificate is not None else ""
        audit.record_message("in", peer, env, len(env.payload), signer_sha256=signer, topic=topic)

    async def _inbound_topic(self, env: env_pb.Envelope) -> str:
        """The local topic follows from the channel; the peer never names a topic."""
        if env.channel == env_pb.CHANNEL_CONTROL:
            return topics.FLOW_CONTROL
        if env.channel == env_pb.CHANNEL_SERVING:
            if env.name == topics.SERVING_REQUEST:
                return topics.SERVING_REQUESTS
            return topics.serving_replies(env.tag)
        session = env.session
        if session not in self._declared_sessions:
            # Keep the value even when the receiving task has not subscribed yet.
            await self.bus.declare_group(topics.fed_pattern(session), topics.fed_group(session))
            self._declared_sessions[session] = None
            while len(self._declared_sessions) > SESSION_CACHE:
                self._declared_sessions.popitem(last=False)
        return topics.fed_topic(session, env.name, env.tag)

    def _reject(self, peer: PeerInfo, env: env_pb.Envelope, reason: str, exc: SilobridgeError) -> None:
        self.router_metrics.rejected.labels(peer.label, reason).inc()
        self.router_metrics.messages.labels(peer.label, "in", "rejected").inc()
        if reason in AUDITED_REFUSALS:
            sha = peer.certificate.sha256 if peer.certificate is not None else ""
            audit.record_refusal(peer.label, peer.address, sha, env, reason, str(exc))
        log.warning(
            "refused envelope %s chunk %d from peer %s (%s, certificate party %s) claiming party %s -> %s: %s",
            env.message_id[:MAX_MESSAGE_ID_CHARS],
            env.chunk_index,
            peer.label,
            peer.address,
            peer.party_id,
            env.src.party_id,
            env.dst.party_id,
            exc,
            extra={"peer": peer.label, "event": f"rejected_{reason}", "message_id": env.message_id[:128]},
        )

    async def _sweep(self) -> None:
        interval = min(5.0, max(0.05, self.settings.reassembly_timeout_s / 4))
        next_purge = time.monotonic() + PURGE_INTERVAL_S
        while True:
            await asyncio.sleep(interval)
            if time.monotonic() >= next_purge:
                next_purge = time.monotonic() + PURGE_INTERVAL_S
                self._replay.purge()
                self.admissions.purge()
            for key in self.reassembler.expire():
                peer = str(key[0]) if isinstance(key, tuple) else "unknown"
                self.router_metrics.rejected.labels(peer, "reassembly_timeout").inc()
                log.warning(
                    "dropped incomplete message %s from peer %s after timeout",
                    key,
                    peer,
                    extra={"peer": peer},
                )
            self.router_metrics.reassembly_bytes.set(self.reassembler.inflight_bytes)


# ----- validation helpers ----------------------------------------------------------------------


def _check_message_id(message_id: str) -> None:
    if not message_id or len(message_id) > MAX_MESSAGE_ID_CHARS:
        raise InvalidInput(f"message id must be 1..{MAX_MESSAGE_ID_CHARS} characters")
    check_word(message_id, "message id")


def _check_channel_fields(env: env_pb.Envelope) -> None:
    if env.channel == env_pb.CHANNEL_FEDERATION:
        parts = env.session.split(".")
        if len(parts) != 3 or not parts[2].isdigit():
            raise InvalidInput(
                f"invalid federation session {env.session[:200]!r}: <job_id>.<task_name>.<attempt>"
            )
        check_word(parts[0], "job id")
        check_word(parts[1], "task name")
        check_word(env.name, "variable name")
        check_word(env.tag, "tag")
    elif env.channel == env_pb.CHANNEL_CONTROL:
        for value, what in ((env.name, "name"), (env.tag, "tag")):
            if value:
                check_word(value, what)
    elif env.channel == env_pb.CHANNEL_SERVING:
        if env.name not in (topics.SERVING_REQUEST, topics.SERVING_REPLY):
            raise InvalidInput(f"serving envelope name {env.name[:64]!r}: score_request or score_reply")
        check_word(env.tag, "serving replica")
    else:
        raise InvalidInput(f"envelope {env.message_id[:128]} has no channel (CHANNEL_UNSPECIFIED)")


def _still_routed(table: RouteTable, endpoint: Endpoint) -> bool:
    if table.endpoint_for(endpoint.party) == endpoint:
        return True
    dflt = table.default
    return dflt is not None and (dflt.host, dflt.port) == (endpoint.host, endpoint.port)


def _reason(exc: SilobridgeError) -> str:
    if isinstance(exc, PayloadTooLarge):
        return "too_large"
    if isinstance(exc, IntegrityError):
        return "integrity"
    if isinstance(exc, InvalidInput):
        return "invalid"
    if isinstance(exc, admission.UnknownSession):
        return "unknown_session"
    if exc.retryable:
        return "unavailable"
    return exc.code

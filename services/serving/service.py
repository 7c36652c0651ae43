"""The serving service: wiring and lifecycle (behaviour lives in the modules it names)."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.routing import BaseRoute

from serving import api, deploy
from serving.metrics import ServingMetrics
from serving.peers import HostLanes, answer, reply_envelope
from serving.registry import Deployed, Registry
from serving.scorers import Homo, feature_vector
from serving.settings import ServingSettings
from silobridge import topics
from silobridge.bus.base import Bus, Message, Subscription, check_word
from silobridge.bus.rpc import RpcClient
from silobridge.errors import Conflict, InvalidInput, SilobridgeError
from silobridge.federation.v1 import envelope_pb2 as env_pb
from silobridge.observability.metrics import ServiceMetrics
from silobridge.service import Service, stop_consuming

log = logging.getLogger(__name__)

TOKEN_FILE = "admin.token"


class ServingService(Service):
    name = "serving"

    def __init__(self, settings: ServingSettings, bus: Bus, metrics: ServiceMetrics) -> None:
        super().__init__(settings, bus, metrics)
        self.settings: ServingSettings = settings
        self.serving_metrics = ServingMetrics(metrics.registry)
        self.replica = check_word(settings.replica or uuid.uuid4().hex[:12], "SILOBRIDGE_REPLICA")
        self.registry = Registry(Path(settings.data_dir) / "models")
        self.lanes = HostLanes(
            bus,
            party_id=settings.party_id,
            replica=self.replica,
            timeout_s=settings.host_timeout_s,
            max_batch=settings.max_batch,
            max_inflight=settings.max_inflight,
        )
        self.rpc = RpcClient(bus, "serving")
        self.admin_token = ""
        self._subs: list[Subscription] = []
        self._deploy_lock = asyncio.Lock()
        self._inflight = 0

    async def start(self) -> None:
        self.admin_token = self._load_token()
        for meta, folder in self.registry.stored():
            self.registry.restore(deploy.restore(meta, folder, self.settings.party_id))
        self.count_versions()
        await self.rpc.start()
        self._subs.append(
            await self.bus.subscribe(
                topics.SERVING_REQUESTS,
                self._on_request,
                group="serving-requests",
                durable=False,
                prefetch=64,
            )
        )
        reply_topic = topics.serving_replies(self.replica)
        self._subs.append(
            await self.bus.subscribe(
                reply_topic,
                self.lanes.on_reply,
                group=reply_topic.replace(".", "-"),
                durable=False,
                prefetch=64,
            )
        )
        self._ready = True

    async def stop(self) -> None:
        """Drain: requests in flight get their hosts' answers (up to one host timeout), then stop."""
        self._ready = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.host_timeout_s + 0.5
        while self._inflight and loop.time() < deadline:
            await asyncio.sleep(0.02)
        await stop_consuming(self._subs)
        await self.lanes.close()
        await self.rpc.close()

    def routes(self) -> Sequence[BaseRoute]:
        return api.routes(self)

    def _load_token(self) -> str:
        if self.settings.admin_token_file:
            token = Path(self.settings.admin_token_file).read_text().strip()
            if len(token) < 32:
                raise InvalidInput("SILOBRIDGE_ADMIN_TOKEN_FILE: the token must have at least 32 characters")
            return token
        path = Path(self.settings.data_dir) / TOKEN_FILE
        if path.is_file():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        token = "sbs_" + secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        log.info("serving admin token written to %s", path, extra={"event": "admin_token_created"})
        return token

    def count_versions(self) -> None:
        self.serving_metrics.versions.set(len(self.registry.listing()))

    # ----- the guest's endpoint ------------------------------------------------------------------
    async def score(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        outcome = "ok"
        self._inflight += 1
        try:
            return await self._score(name, body)
        except SilobridgeError as exc:
            outcome = exc.code
            raise
        finally:
            self._inflight -= 1
            self.serving_metrics.requests.labels(outcome).inc()
            self.serving_metrics.request_seconds.observe(time.perf_counter() - started)

    async def _score(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        d = self.registry.active(name)  # this request's version, whatever is swapped in meanwhile
        if d.role == "host":
            raise Conflict(f"model {name!r} is a host's half: score at the guest's endpoint")
        entity = body.get("id")
        if not isinstance(entity, str | int) or isinstance(entity, bool) or str(entity) == "":
            raise InvalidInput("id: a string (or integer) naming the entity to score")
        x = feature_vector(d.feature_names, body.get("features"))
        if d.pipeline:
            x = d.pipeline.apply(x[None, :], d.feature_names)[0][0]
        if isinstance(d.scorer, Homo):
            score: Any = d.scorer.score(x)
        else:
            hosts = d.parties.get("host", [])
            partials = await asyncio.gather(*(self.lanes.partial(h, d.key, str(entity)) for h in hosts))
            score = d.scorer.score(x, partials)
        return {"id": entity, "score": score, "model": _version(d)}

    # ----- a host's answer ---------------------------------------------------------------------
    async def _on_request(self, msg: Message) -> None:
        env = env_pb.Envelope()
        try:
            env.ParseFromString(msg.body)
        except Exception:
            log.warning("malformed serving envelope dropped")
            return
        reply = answer(self.registry, self.settings.party_id, env, max_ids=self.settings.max_batch)
        outcome = reply.error.code if reply.HasField("error") else "ok"
        self.serving_metrics.partials.labels(str(env.src.party_id), outcome).inc()
        out = reply_envelope(self.settings.party_id, env, reply)
        await self.bus.publish(topics.ROUTER_OUTBOUND, out.SerializeToString(), message_id=out.message_id)

    # ----- admin ---------------------------------------------------------------------------------
    async def deploy(self, body: dict[str, Any]) -> dict[str, Any]:
        async with self._deploy_lock:
            name = str(body.get("name") or "default")
            d, files = await deploy.build(
                body,
                version=self.registry.next_version(name),
                party_id=self.settings.party_id,
                rpc=self.rpc,
                timeout=self.settings.rpc_timeout_s,
            )
            activate = body.get("activate", True) is not False
            await asyncio.to_thread(self.registry.add, d, files, activate=activate)
            self.count_versions()
        log.info(
            "deployed %s version %d (%s, %s)", d.name, d.version, d.key, d.role, extra={"event": "deployed"}
        )
        return {**_version(d), "role": d.role, "active": activate}

    def activate(self, name: str, version: int) -> dict[str, Any]:
        return _version(self.registry.activate(name, version))

    def rollback(self, name: str, version: int | None) -> dict[str, Any]:
        return _version(self.registry.rollback(name, version))


def _version(d: Deployed) -> dict[str, Any]:
    return {"name": d.name, "version": d.version, "job_id": d.key.job_id, "task": d.key.task}

"""A party's Ray cluster on one host: a head (control plane only) and one Ray node per node-manager.

Each node is its own ``ray start --address`` process (its own raylet, object store, temp dir and
ports) that advertises ``silobridge_node_<node id>`` and as many CPUs as the node-manager may use.
A node-manager's process attaches to *its* node by that temp dir (``ray.init(address,
_temp_dir=...)``): several raylets share the host's IP, and the temp dir is how a driver tells them
apart. Everything listens on the loopback address and the cluster is bound to a token file of its
own (``RAY_AUTH_MODE=token``): nothing of it is reachable from a peer party.

The argv builders are shared by the local launcher's plan and :class:`LocalRayCluster` (tests,
benches). ``ray`` is run as a command, never imported here.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from silobridge.compute.placement import NODE_RESOURCE_UNITS, node_resource
from silobridge.errors import InvalidInput, RetryableError

LOOPBACK = "127.0.0.1"
# Workers on ports the OS picks: `ray start` otherwise takes 10002-19999 for them, where the party's
# own services may listen (and two parties' Ray nodes on one host would share the range).
RAY_START = ["ray", "start", "--block", "--disable-usage-stats", "--min-worker-port=0", "--max-worker-port=0"]
# A raylet's socket path must fit in 107 bytes; Ray appends ~60 characters to the temp dir.
MAX_TEMP_DIR_CHARS = 40
NODE_LOST_AFTER_S = 4


def ray_env(token_file: str | None) -> dict[str, str]:
    """Environment of every process of one party's Ray cluster (its nodes and its drivers).

    Ray reads the auth mode once per process, when it is imported: a driver must get this
    environment before it starts. Without a token file, auth is off explicitly (else a head finds a
    token of this user's in ``~/.ray`` and turns auth on for itself alone)."""
    common = {
        "RAY_USAGE_STATS_ENABLED": "0",
        # a node silent for NODE_LOST_AFTER_S health checks (1 s apart) is dead, and a task placed
        # on it fails then (Ray's default is 15 s); read by the head's GCS from its environment
        "RAY_health_check_period_ms": "1000",
        "RAY_health_check_failure_threshold": str(NODE_LOST_AFTER_S),
    }
    if token_file is None:
        return {"RAY_AUTH_MODE": "disabled", **common}
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": token_file, **common}


def write_token(path: Path) -> None:
    """A fresh cluster token, readable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))


def head_argv(
    port: int,
    temp_dir: str,
    *,
    dashboard_port: int,
    agent_port: int,
    client_port: int,
    host: str = LOOPBACK,
) -> list[str]:
    """The head: GCS and the state API (dashboard on the loopback), no CPUs, so no task lands there.
    Every Ray process on a host needs its own agent port (Ray's default, 52365, is one per host),
    and every head its own Ray Client port (default 10001)."""
    return [
        *RAY_START,
        "--head",
        f"--node-ip-address={host}",
        f"--port={port}",
        "--num-cpus=0",
        f"--temp-dir={_checked_temp_dir(temp_dir)}",
        "--include-dashboard=true",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard_port}",
        f"--dashboard-agent-listen-port={agent_port}",
        f"--ray-client-server-port={client_port}",
    ]


def node_argv(
    address: str,
    node_id: str,
    temp_dir: str,
    *,
    agent_port: int,
    cpus: int = 0,
    host: str = LOOPBACK,
    object_store_bytes: int = 0,
) -> list[str]:
    """One node-manager's Ray node: its resource, its CPU share (0 = Ray counts them), its temp dir."""
    resources = json.dumps({node_resource(node_id): NODE_RESOURCE_UNITS})
    return [
        *RAY_START,
        f"--address={address}",
        f"--node-ip-address={host}",
        f"--resources={resources}",
        f"--temp-dir={_checked_temp_dir(temp_dir)}",
        f"--dashboard-agent-listen-port={agent_port}",
        *([f"--num-cpus={cpus}"] if cpus else []),
        *([f"--object-store-memory={object_store_bytes}"] if object_store_bytes else []),
    ]


def node_ready_file(temp_dir: str) -> Path:
    """Exists once the node's raylet has its socket: a driver can attach from then on."""
    return Path(temp_dir) / "session_latest" / "sockets" / "raylet"


def _checked_temp_dir(temp_dir: str) -> str:
    if len(temp_dir) > MAX_TEMP_DIR_CHARS:
        raise InvalidInput(
            f"Ray temp dir {temp_dir!r} is longer than {MAX_TEMP_DIR_CHARS} characters: "
            "the raylet's socket path would not fit"
        )
    return temp_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


@dataclass
class _Proc:
    popen: subprocess.Popen[bytes]
    temp_dir: str


@dataclass
class LocalRayCluster:
    """Start, kill and stop a party's Ray processes on this host (tests, benches, a local party).

    Every process runs in its own session, so stopping kills its whole process group: no raylet,
    worker or agent is left behind. ``token=False`` (auth off) is for a driver that imported ray
    before the cluster existed (a test process), which cannot take up a token any more.
    """

    root: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="sbray-"))
    port: int = field(default_factory=free_port)
    dashboard_port: int = field(default_factory=free_port)
    token: bool = True
    head: _Proc | None = None
    nodes: dict[str, _Proc] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def token_file(self) -> str:
        return str(Path(self.root) / "token")

    @property
    def env(self) -> dict[str, str]:
        return ray_env(self.token_file if self.token else None)

    def temp_dir(self, name: str) -> str:
        return str(Path(self.root) / name)

    def start(self, timeout_s: float = 60.0) -> LocalRayCluster:
        if self.token:
            write_token(Path(self.token_file))
        temp = self.temp_dir("h")
        self.head = self._spawn(
            head_argv(
                self.port,
                temp,
                dashboard_port=self.dashboard_port,
                agent_port=free_port(),
                client_port=free_port(),
            ),
            temp,
            "head",
        )
        self._wait(lambda: _port_open(self.port), self.head, "head", timeout_s)
        return self

    def add_node(
        self, node_id: str, *, cpus: int = 1, object_store_bytes: int = 0, timeout_s: float = 60.0
    ) -> str:
        """Start the node-manager ``node_id``'s Ray node; returns the temp dir a driver attaches by."""
        temp = self.temp_dir(f"n{len(self.nodes)}")
        argv = node_argv(
            self.address,
            node_id,
            temp,
            agent_port=free_port(),
            cpus=cpus,
            object_store_bytes=object_store_bytes,
        )
        proc = self._spawn(argv, temp, f"node-{node_id}")
        self.nodes[node_id] = proc
        log = Path(self.root) / f"node-{node_id}.log"
        # `ray start --block` says it blocks only once the node is registered with the head
        self._wait(lambda: b"block forever" in log.read_bytes(), proc, f"node {node_id}", timeout_s)
        return temp

    def kill_node(self, node_id: str) -> None:
        """Lose a node at once, as a crashed host would (SIGKILL to its whole process group)."""
        _kill_group(self.nodes[node_id].popen, signal.SIGKILL)

    def stop(self, grace_s: float = 5.0, *, keep_files: bool = False) -> None:
        """SIGTERM every process group (a node drains), SIGKILL what is left after ``grace_s``."""
        procs = [*self.nodes.values(), *([self.head] if self.head else [])]
        for proc in procs:
            _kill_group(proc.popen, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
            _kill_group(proc.popen, signal.SIGKILL)  # whatever of its group is still there
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(5)
        if not keep_files:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalRayCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, argv: list[str], temp_dir: str, name: str) -> _Proc:
        Path(temp_dir).mkdir(parents=True, exist_ok=True)
        exe = Path(sys.executable).parent / argv[0]
        log = open(Path(self.root) / f"{name}.log", "wb")
        popen = subprocess.Popen(
            [str(exe) if exe.exists() else argv[0], *argv[1:]],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return _Proc(popen, temp_dir)

    def _wait(self, ready: object, proc: _Proc, name: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():  # type: ignore[operator]
            if proc.popen.poll() is not None:
                raise RetryableError(f"Ray {name} exited with {proc.popen.returncode} while starting")
            if time.monotonic() > deadline:
                raise RetryableError(f"Ray {name} not ready after {timeout_s:.0f} s")
            time.sleep(0.2)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1):
            return True
    except OSError:
        return False


def _kill_group(popen: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, sig)

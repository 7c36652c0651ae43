"""Start a launch plan as local OS processes, wait until each is ready, and stop them again.

:func:`launch` is what ``silobridge cluster up`` and the multi-process integration tests use.
The state (pids, ports, URLs, logs) is written to ``<data_dir>/cluster-state.json`` so that a
later ``silobridge cluster down``/``status``/``restart`` (another process) can find the services
again; :meth:`LocalCluster.attach` reads it back and checks each pid still is the process it started.
The file also keeps each process's command and plan environment, so that ``restart`` starts it
again exactly as ``up`` did (same ports, no files rewritten); it may hold the bus and database
URLs with their passwords, so it is written readable by its owner only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from silobridge.compute.ray_cluster import write_token
from silobridge.errors import InvalidInput, NotFound, PermanentError
from silobridge_cli import credentials

STATE_FILE = "cluster-state.json"
LOG_DIR = "logs"
DEFAULT_READY_TIMEOUT_S = 60.0
DEFAULT_GRACE_S = 15.0
_POLL_S = 0.1


class ClusterStartError(PermanentError):
    """A process of the plan exited or did not become ready; every started process was stopped."""

    code = "cluster_start_failed"


@dataclass
class ProcessRecord:
    """One started process as remembered in the state file."""

    name: str
    pid: int
    argv: list[str]
    log: str
    ready: dict[str, str]
    start_time: str | None = None  # /proc start time, to detect pid reuse
    http_url: str | None = None
    env: dict[str, str] | None = None  # the plan's variables, to start it again (None: older state file)
    service: str | None = None  # the plan's "service" (flow, rollsite-router, ...), if any


@dataclass
class ProcessStatus:
    name: str
    pid: int
    alive: bool
    ready: bool
    http_url: str | None


@dataclass
class LocalCluster:
    """The processes of one party on this host."""

    data_dir: Path
    records: list[ProcessRecord]
    endpoints: dict[str, str] = field(default_factory=dict)
    party_id: int | None = None
    _popen: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

    @property
    def urls(self) -> dict[str, str]:
        """Process name -> base HTTP URL (``http://127.0.0.1:PORT``) of its /healthz, /readyz, /metrics."""
        return {r.name: r.http_url for r in self.records if r.http_url}

    @property
    def pids(self) -> dict[str, int]:
        return {r.name: r.pid for r in self.records}

    @property
    def state_file(self) -> Path:
        return self.data_dir / STATE_FILE

    @classmethod
    def attach(cls, data_dir: Path) -> LocalCluster:
        """The cluster that ``cluster up`` started with this data dir (from its state file)."""
        path = Path(data_dir) / STATE_FILE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFound(
                f"no cluster started in {data_dir} (no {STATE_FILE}); run silobridge cluster up"
            ) from None
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path}: not a valid state file ({exc})") from None
        records = [ProcessRecord(**r) for r in state["processes"]]
        return cls(Path(data_dir), records, dict(state.get("endpoints", {})), state.get("party_id"))

    def write_state(self) -> None:
        state = {
            "party_id": self.party_id,
            "written_at": time.time(),
            "endpoints": self.endpoints,
            "urls": self.urls,
            "processes": [asdict(r) for r in self.records],
        }
        tmp = self.state_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    def alive(self, record: ProcessRecord) -> bool:
        proc = self._popen.get(record.name)
        if proc is not None:
            return proc.poll() is None
        return _pid_is(record.pid, record.start_time)

    def status(self, *, timeout_s: float = 2.0) -> list[ProcessStatus]:
        out = []
        for r in self.records:
            alive = self.alive(r)
            out.append(
                ProcessStatus(r.name, r.pid, alive, alive and _is_ready(r.ready, timeout_s), r.http_url)
            )
        return out

    def wait_ready(
        self, timeout_s: float = DEFAULT_READY_TIMEOUT_S, records: list[ProcessRecord] | None = None
    ) -> None:
        """Block until every process (or each of ``records``) answers ready; if one exits or times
        out, stop those waited for (everything by default) and raise."""
        deadline = time.monotonic() + timeout_s
        pending = list(self.records if records is None else records)

        def give_up() -> None:
            if records is None:
                self.stop()
            else:
                self._stop_records(records, DEFAULT_GRACE_S)
                self.write_state()

        while pending:
            for r in list(pending):
                if not self.alive(r):
                    code = self._popen[r.name].returncode if r.name in self._popen else None
                    give_up()
                    raise ClusterStartError(
                        f"{r.name} exited during start-up (exit code {code}); last lines of {r.log}:\n"
                        + _tail(Path(r.log))
                    )
                if _is_ready(r.ready, 0.5):
                    pending.remove(r)
            if pending and time.monotonic() > deadline:
                names = ", ".join(r.name for r in pending)
                logs = "\n".join(f"--- {r.name} ({r.log}):\n{_tail(Path(r.log))}" for r in pending)
                give_up()
                raise ClusterStartError(f"not ready after {timeout_s:.0f} s: {names}\n{logs}")
            if pending:
                time.sleep(_POLL_S)

    def stop(self, grace_s: float = DEFAULT_GRACE_S) -> dict[str, int | None]:
        """SIGTERM every process (reverse start order), SIGKILL its group after ``grace_s``.

        Returns name -> exit code (None when the process was not our child, or had already gone).
        """
        codes = self._stop_records(self.records, grace_s)
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()
        return codes

    def restart(
        self,
        names: list[str] | None = None,
        *,
        grace_s: float = DEFAULT_GRACE_S,
        ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S,
        base_env: Mapping[str, str] | None = None,
    ) -> list[ProcessRecord]:
        """Stop the named processes (default: all), start them again with the command and plan
        environment they were started with, and wait until they are ready. Nothing else is touched:
        files such as ``routes.yaml`` are not rewritten, the other processes keep running."""
        known = [r.name for r in self.records]
        unknown = [n for n in names or [] if n not in known]
        if unknown:
            raise InvalidInput(
                f"no process {', '.join(map(repr, unknown))} in {self.data_dir}: one of {', '.join(known)}"
            )
        chosen = [r for r in self.records if names is None or r.name in names]
        old = [r.name for r in chosen if r.env is None]
        if old:
            raise InvalidInput(
                f"{self.state_file} has no environment for {', '.join(old)} (started by an older "
                "silobridge): run silobridge cluster down, then up"
            )
        self._stop_records(chosen, grace_s)
        inherited = _inherited_env(base_env)
        try:
            for r in chosen:
                proc = _spawn(r.argv, r.env or {}, inherited, Path(r.log))
                self._popen[r.name] = proc
                r.pid, r.start_time = proc.pid, _start_time(proc.pid)
        finally:
            self.write_state()
        self.wait_ready(ready_timeout_s, records=chosen)
        _remember_flow_token(self, chosen)
        return chosen

    def _stop_records(self, records: list[ProcessRecord], grace_s: float) -> dict[str, int | None]:
        """SIGTERM, wait, SIGKILL: :meth:`stop` for some of the processes; the state file is kept."""
        for r in records:
            if r.http_url:
                credentials.forget(r.http_url)
        running = [r for r in reversed(records) if self.alive(r)]
        for r in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(r.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while any(self.alive(r) for r in running) and time.monotonic() < deadline:
            time.sleep(_POLL_S)
        for r in running:
            if self.alive(r):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(r.pid, signal.SIGKILL)
        codes: dict[str, int | None] = {}
        for r in records:
            proc = self._popen.pop(r.name, None)
            codes[r.name] = proc.wait() if proc is not None else None
        return codes

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def launch(
    plan: Mapping[str, Any],
    *,
    data_dir: Path | None = None,
    ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S,
    base_env: Mapping[str, str] | None = None,
    wait: bool = True,
) -> LocalCluster:
    """Start every process of ``plan`` (see :mod:`silobridge_cli.deploy.local`) and wait until ready.

    ``base_env`` is the environment the processes inherit (default: this process's, without any
    ``SILOBRIDGE_*`` variable, so that only the plan sets those). Each process runs in its own
    session, so it outlives the caller unless :meth:`LocalCluster.stop` is called.
    """
    root = Path(data_dir or plan["data_dir"])
    missing = [p for p in plan.get("requires", []) if not Path(p).is_file()]
    if missing:
        raise InvalidInput(
            "missing files: "
            + ", ".join(missing)
            + " (certificates: silobridge pki demo --dir DIR --parties ...)"
        )
    (root / LOG_DIR).mkdir(parents=True, exist_ok=True)
    ensure_not_running(root)
    for name, content in plan.get("files", {}).items():
        (root / name).write_text(content, encoding="utf-8")
    for token in plan.get("tokens", []):
        write_token(Path(token))
    inherited = _inherited_env(base_env)
    processes = _assign_free_ports(plan["processes"])
    cluster = LocalCluster(root, [], dict(plan.get("endpoints", {})), plan.get("party_id"))
    try:
        for spec in processes:
            argv = _resolve_argv(list(spec["argv"]))
            log_path = root / LOG_DIR / f"{spec['name']}.log"
            env = {k: str(v) for k, v in spec["env"].items()}
            proc = _spawn(argv, env, inherited, log_path)
            ready = dict(spec["ready"])
            url = f"http://{ready['http']}" if "http" in ready else None
            cluster._popen[spec["name"]] = proc
            cluster.records.append(
                ProcessRecord(
                    spec["name"],
                    proc.pid,
                    argv,
                    str(log_path),
                    ready,
                    _start_time(proc.pid),
                    url,
                    env,
                    spec.get("service"),
                )
            )
        cluster.write_state()
    except BaseException:
        cluster.stop(grace_s=2)
        raise
    if wait:
        cluster.wait_ready(ready_timeout_s)
        _remember_flow_token(cluster, cluster.records)
    return cluster


def ensure_not_running(root: Path) -> None:
    """Refuse to start a second cluster from the same data dir while a process of the first lives."""
    if (root / STATE_FILE).exists():
        existing = LocalCluster.attach(root)
        if any(existing.alive(r) for r in existing.records):
            raise InvalidInput(f"a cluster is already running from {root}; run silobridge cluster down first")


def _inherited_env(base_env: Mapping[str, str] | None) -> dict[str, str]:
    """What a process inherits: ``base_env`` (default: ours) without any ``SILOBRIDGE_*`` variable."""
    inherited = dict(os.environ if base_env is None else base_env)
    return {k: v for k, v in inherited.items() if not k.startswith("SILOBRIDGE_")}


def _spawn(
    argv: list[str], env: Mapping[str, str], inherited: Mapping[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """One process in its own session, its output appended to ``log_path``."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            argv,
            env={**inherited, "PYTHONUNBUFFERED": "1", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _remember_flow_token(cluster: LocalCluster, records: list[ProcessRecord]) -> None:
    """Let drivers in this process reach the started flow with its admin token (bootstrap file)."""
    for r in records:
        if r.service != "flow" or r.http_url is None or r.env is None:
            continue
        url, env = r.http_url, r.env
        if env.get("SILOBRIDGE_ADMIN_TOKEN_FILE"):
            credentials.remember(
                url, credentials.read_token_file(Path(env["SILOBRIDGE_ADMIN_TOKEN_FILE"])), cluster.party_id
            )
        elif env.get("SILOBRIDGE_DATA_DIR"):
            credentials.remember_bootstrap(url, Path(env["SILOBRIDGE_DATA_DIR"]), cluster.party_id)


def _resolve_argv(argv: list[str]) -> list[str]:
    """``python`` -> this interpreter; other programs: next to it (venv scripts) or on PATH."""
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    sibling = Path(sys.executable).parent / argv[0]
    if sibling.exists():
        return [str(sibling), *argv[1:]]
    found = shutil.which(argv[0])
    if found is None:
        raise InvalidInput(f"program {argv[0]!r} not found next to {sys.executable} or on PATH")
    return [found, *argv[1:]]


def _assign_free_ports(processes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every ``http`` readiness address with port 0 a free port, and tell the process."""
    out: list[dict[str, Any]] = []
    held: list[socket.socket] = []
    try:
        for spec in processes:
            spec = {**spec, "env": dict(spec["env"]), "ready": dict(spec["ready"])}
            if "http" in spec["ready"]:
                host, _, port = spec["ready"]["http"].rpartition(":")
                if int(port) == 0:
                    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    sock.bind((host, 0))
                    held.append(sock)  # keep bound until all are chosen, so none repeats
                    port = str(sock.getsockname()[1])
                    spec["ready"]["http"] = f"{host}:{port}"
                    spec["env"]["SILOBRIDGE_HTTP_PORT"] = port
            out.append(spec)
    finally:
        for sock in held:
            sock.close()
    return out


def _is_ready(ready: Mapping[str, str], timeout_s: float) -> bool:
    if "http" in ready:
        try:
            with httpx.Client(trust_env=False, timeout=timeout_s) as client:
                return client.get(f"http://{ready['http']}{ready.get('path', '/readyz')}").status_code == 200
        except httpx.HTTPError:
            return False
    if "file" in ready:
        return Path(ready["file"]).exists()
    if "tcp" in ready:
        host, _, port = ready["tcp"].rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout_s):
                return True
        except OSError:
            return False
    return True


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks); None where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _pid_is(pid: int, start_time: str | None) -> bool:
    """Is ``pid`` alive and still the process we started (not a reused pid)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    if start_time is None:
        return True
    current = _start_time(pid)
    if current is None:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return current == start_time and state != "Z"


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

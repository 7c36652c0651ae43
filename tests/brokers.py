"""The brokers and databases the tests use, where they are, and what happens when one is absent.

Tests that need one carry its marker (``rabbitmq``, ``pulsar``, ``postgres``). When it does not
answer, the test is skipped with the reason, unless ``SILOBRIDGE_REQUIRE_BROKERS`` names it
(``.ci/run`` sets ``rabbitmq,postgres,pulsar``): then the test fails and names the broker, so a
CI run can never pass with a broker suite that did not run. ``make services`` starts all three.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Broker:
    name: str
    url: str
    default_port: int
    variable: str

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or self.default_port


AMQP_URL = os.environ.get("SILOBRIDGE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
PULSAR_URL = os.environ.get("SILOBRIDGE_TEST_PULSAR_URL", "pulsar://127.0.0.1:6650")
PULSAR_ADMIN_URL = os.environ.get("SILOBRIDGE_TEST_PULSAR_ADMIN_URL", "http://127.0.0.1:8080")
POSTGRES_URL = os.environ.get("SILOBRIDGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("SILOBRIDGE_TEST_MYSQL_URL", "mysql://silobridge@127.0.0.1:3306/test")
MYSQL_PASSWORD = os.environ.get("SILOBRIDGE_TEST_MYSQL_PASSWORD", "silobridge")

BROKERS = {
    b.name: b
    for b in (
        Broker("rabbitmq", AMQP_URL, 5672, "SILOBRIDGE_TEST_AMQP_URL"),
        Broker("pulsar", PULSAR_URL, 6650, "SILOBRIDGE_TEST_PULSAR_URL"),
        Broker("postgres", POSTGRES_URL, 5432, "SILOBRIDGE_TEST_POSTGRES_URL"),
        Broker("mysql", MYSQL_URL, 3306, "SILOBRIDGE_TEST_MYSQL_URL"),
    )
}


def required() -> set[str]:
    names = {n.strip() for n in os.environ.get("SILOBRIDGE_REQUIRE_BROKERS", "").split(",") if n.strip()}
    unknown = names - BROKERS.keys()
    if unknown:
        raise ValueError(f"SILOBRIDGE_REQUIRE_BROKERS names unknown brokers {sorted(unknown)}")
    return names


def unreachable_reason(name: str) -> str | None:
    """None when something accepts TCP connections at the broker's address, else why not."""
    broker = BROKERS[name]
    host, port = broker.address
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return None
    except OSError as exc:
        return f"nothing answers at {host}:{port} ({exc.strerror or exc}); run `make services` or set {broker.variable}"


@cache
def first_reason(name: str) -> str | None:
    """The reachability seen by the first test that asked (a broker restart test must not turn
    later tests into skips)."""
    return unreachable_reason(name)


SERVICES_SH = Path(__file__).parents[1] / "deploy" / "dev" / "services.sh"


def broker_service(verb: str, name: str) -> float:
    """``deploy/dev/services.sh <verb> <name>``: start, stop or restart the local dev broker;
    returns the seconds it took."""
    t0 = time.monotonic()
    done = subprocess.run([str(SERVICES_SH), verb, name], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"{verb} {name} failed: {done.stdout}{done.stderr}"
    return time.monotonic() - t0


def restart_broker(name: str) -> float:
    """Stop and start the local dev broker; returns the outage in seconds."""
    return broker_service("restart", name)

"""A process that used the Pulsar bus and closed it exits 0, every time.

pulsar-client (3.x) aborts the interpreter at exit (SIGABRT, "terminate called without an active
exception") in about one run in eight when the client logs through a Python ``logging.Logger``:
its shutdown thread calls back into Python while the client is torn down. CI saw it as
cluster-manager and flow exiting -6 after a Pulsar job. The bus therefore gives the client its
C++ console logger; this test runs the whole open/publish/consume/close/exit cycle in fresh
interpreters and counts deaths by a signal (with the Python logger: 6 in 40).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from brokers import PULSAR_URL
from contract_brokers import unique_prefix

pytestmark = pytest.mark.pulsar

RUNS = 30

CYCLE = textwrap.dedent(
    """
    import asyncio, sys
    from silobridge.bus.pulsar import PulsarBus

    async def main(url, prefix):
        bus = PulsarBus(url, prefix=prefix)
        await bus.start()
        got = asyncio.Event()

        async def handle(msg):
            got.set()

        await bus.declare_group("cluster.#", "g")
        await bus.subscribe("cluster.#", handle, group="g")
        await bus.publish("cluster.rpc", b"x")
        await asyncio.wait_for(got.wait(), 20)
        await bus.delete_group("g")
        await bus.close()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def test_processes_that_closed_the_bus_exit_cleanly() -> None:
    codes = []
    for _ in range(RUNS):
        proc = subprocess.run(
            [sys.executable, "-c", CYCLE, PULSAR_URL, unique_prefix("x")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        codes.append((proc.returncode, proc.stderr.strip().splitlines()[-1:]))
    failed = [(code, tail) for code, tail in codes if code != 0]
    assert not failed, f"{len(failed)} of {RUNS} runs did not exit 0: {failed[:3]}"

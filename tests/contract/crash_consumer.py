"""A consumer process for the crash tests: applies an effect once per message id, or hangs at a
chosen point so that the test can SIGKILL it before it acknowledges.

Effect: a line ``<message_id>`` appended (and fsynced) to ``<state>/effects.log``; idempotency via
a :class:`~silobridge.bus.dedup.Deduplicator` persisted in ``<state>/dedup.sqlite``. Every
delivery is reported as a JSON line in ``<state>/deliveries.log`` for the test to read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

from silobridge.bus.base import Message
from silobridge.bus.dedup import Deduplicator
from silobridge.bus.factory import create_bus


def report(state: Path, **event: object) -> None:
    with (state / "deliveries.log").open("a") as f:
        f.write(json.dumps({"pid": os.getpid(), **event}) + "\n")
        f.flush()
        os.fsync(f.fileno())


async def run(args: argparse.Namespace) -> None:
    state = Path(args.state)
    dedup = Deduplicator(path=state / "dedup.sqlite")
    handled = asyncio.Event()
    hang = asyncio.Event()  # never set: a hanging handler never returns, so never acks

    async def handle(msg: Message) -> None:
        report(
            state, event="delivery", id=msg.message_id, redelivered=msg.redelivered, count=msg.delivery_count
        )
        if args.mode == "hang-before-effect":
            report(state, event="hanging", id=msg.message_id)
            await hang.wait()
        if dedup.seen(msg.message_id):
            report(state, event="duplicate", id=msg.message_id)
        else:
            with (state / "effects.log").open("a") as f:
                f.write(msg.message_id + "\n")
                f.flush()
                os.fsync(f.fileno())
            dedup.mark(msg.message_id)
            report(state, event="applied", id=msg.message_id)
        if args.mode == "hang-after-effect":
            report(state, event="hanging", id=msg.message_id)
            await hang.wait()
        handled.set()

    bus = create_bus(args.url, prefix=args.prefix)
    await bus.start()
    await bus.subscribe(args.pattern, handle, group=args.group, prefetch=1)
    report(state, event="ready")
    await handled.wait()
    await bus.close()  # the handler returned, so its ack is on the wire before the channel closes
    report(state, event="exit")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--pattern", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument(
        "--mode", choices=["normal", "hang-before-effect", "hang-after-effect"], default="normal"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

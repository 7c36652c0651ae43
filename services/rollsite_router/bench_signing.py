"""``python -m rollsite_router.bench_signing`` (``make bench-signing``): what signing and the replay
record cost per message, side by side with the router's path without them, in one process.

For payloads of 1 KiB, 64 KiB and 1 MiB: the sender's split alone vs split + sign, and the
receiver's reassembly alone vs revocation lookup + signature check + time window + the on-disk
dedup record (seen + mark) + reassembly. Interleaved rounds, median messages/s; the machine and
its load are written next to the figures (bench-results/signing.{json,md}).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from rollsite_router import chunking, replay, signing
from rollsite_router.replay import ReplayRecord
from silobridge import pki
from silobridge.bench.machine import describe
from silobridge.bench.timing import interleaved
from silobridge.federation.bus_transport import build_envelope
from silobridge.federation.v1 import envelope_pb2 as env_pb

SIZES = (1024, 64 * 1024, 1024 * 1024)
PER_ROUND = 200
ROUNDS = 7
CHUNK = 1024 * 1024


def _envelope(size: int) -> env_pb.Envelope:
    return build_envelope(
        src_party=9999, src_role="guest", dst_party=10000, dst_role="host",
        channel=env_pb.CHANNEL_FEDERATION, payload=os.urandom(size), session="bench.lr.1", name="g", tag="0",
    )  # fmt: skip


def run(out_dir: Path) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        pki.ensure_pki(d, [9999])
        files = pki.party_files(d, 9999)
        signer = signing.Signer(files.key.read_bytes())
        cert = pki.peer_certificate(files.cert.read_bytes())
        record = ReplayRecord(d / replay.STATE_FILE, retention_s=3600)
        revoked: frozenset[int] = frozenset({1, 2, 3})
        for size in SIZES:
            env = _envelope(size)
            signed = chunking.split(env, CHUNK)
            signer.sign(signed, time.time_ns())
            counter = [0]

            def send_plain(env: env_pb.Envelope = env) -> None:
                for _ in range(PER_ROUND):
                    chunking.split(env, CHUNK)

            def send_signed(env: env_pb.Envelope = env) -> None:
                for _ in range(PER_ROUND):
                    signer.sign(chunking.split(env, CHUNK), time.time_ns())

            def receive_plain(chunk: env_pb.Envelope = signed[0]) -> None:
                r = chunking.Reassembler(max_payload_bytes=2**26, max_inflight_bytes=2**28, timeout_s=60)
                for i in range(PER_ROUND):
                    r.add(("p", i), chunk)

            def receive_checked(
                chunk: env_pb.Envelope = signed[0], counter: list[int] = counter, prefix: int = size
            ) -> None:
                r = chunking.Reassembler(max_payload_bytes=2**26, max_inflight_bytes=2**28, timeout_s=60)
                for i in range(PER_ROUND):
                    assert cert.serial not in revoked
                    signing.verify(cert.public_key, chunk)
                    replay.check_window(chunk, 300, time.time())
                    counter[0] += 1
                    key = f"{prefix}:{counter[0]}"
                    if not record.seen(key):
                        r.add(("p", i), chunk)
                        record.mark(key)

            m = interleaved(
                {
                    "send": (PER_ROUND, send_plain),
                    "send+sign": (PER_ROUND, send_signed),
                    "receive": (PER_ROUND, receive_plain),
                    "receive+checks": (PER_ROUND, receive_checked),
                },
                ROUNDS,
            )
            med = {k: m.median(k) for k in m.rates}
            rows.append(
                {
                    "payload_bytes": size,
                    "msgs_per_s": {k: round(v) for k, v in med.items()},
                    "sign_us": round(1e6 / med["send+sign"] - 1e6 / med["send"], 1),
                    "checks_us": round(1e6 / med["receive+checks"] - 1e6 / med["receive"], 1),
                }
            )
        record.close()
    result: dict[str, Any] = {"machine": describe(), "load": os.getloadavg(), "rows": rows}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "signing.json").write_text(json.dumps(result, indent=2))
    lines = [
        "| payload | send msg/s | send+sign msg/s | sign cost | receive msg/s | receive+checks msg/s | checks cost |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        r = row["msgs_per_s"]
        lines.append(
            f"| {row['payload_bytes']} B | {r['send']} | {r['send+sign']} | {row['sign_us']} µs | "
            f"{r['receive']} | {r['receive+checks']} | {row['checks_us']} µs |"
        )
    (out_dir / "signing.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps({**result["machine"], "load": result["load"]}))
    return result


if __name__ == "__main__":
    run(Path("bench-results"))

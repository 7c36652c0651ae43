"""Batch public-key encryption throughput through the Ray backend, 1..cores workers.

Each Ray worker process builds its fixed-base table once (warm-up, excluded from the timing, as
it is once per key per worker in production). The curve is recorded so the same command on a
bigger machine shows how far it scales.

Worker counts are interleaved round by round. The headline ``speedup`` and ``ops_per_s`` are the
medians of the rounds. The best round of each worker count is recorded next to them
(``speedup_best``): on a shared machine other processes can only take cores away, so the best round
shows capacity, but a best-of is not a headline figure.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import numpy as np

from silobridge.crypto import PublicKey, generate_keypair


def worker_counts(cores: int) -> list[int]:
    counts = [1]
    while counts[-1] * 2 <= cores:
        counts.append(counts[-1] * 2)
    if counts[-1] != cores:
        counts.append(cores)
    return counts


def run(
    bits: int = 2048, *, per_worker_items: int = 600, rounds: int = 5, cores: int | None = None
) -> dict[str, Any]:
    from silobridge.compute.ray_backend import RayBackend

    cores = cores or os.cpu_count() or 1
    holder_pk, _ = generate_keypair(bits)
    pub = PublicKey(holder_pk.n)
    t0 = time.perf_counter()
    main = RayBackend(num_cpus=cores)
    start_s = time.perf_counter() - t0
    try:
        # Warm every worker process: one chunk per core, each long enough to land on its own worker.
        t0 = time.perf_counter()
        pub.encrypt_vector(np.arange(16 * cores * 4), compute=main)
        warm_s = time.perf_counter() - t0
        counts = worker_counts(cores)
        items = per_worker_items * max(counts)
        x = np.random.default_rng(0).integers(-(2**53), 2**53, size=items)
        backends = [RayBackend(workers=w) for w in counts]  # same Ray session, w chunks at a time
        rates: list[list[float]] = [[] for _ in counts]
        for r in range(rounds):  # interleaved, so load drift hits every worker count alike
            order = range(len(counts)) if r % 2 == 0 else reversed(range(len(counts)))
            for i in order:
                t0 = time.perf_counter()
                pub.encrypt_vector(x, compute=backends[i])
                rates[i].append(items / (time.perf_counter() - t0))
        medians = [statistics.median(s) for s in rates]
        best = [max(s) for s in rates]
        return {
            "key_bits": bits,
            "operation": "encrypt_public",
            "items": items,
            "workers": counts,
            "estimator": "median of interleaved rounds (best round kept as speedup_best)",
            "ops_per_s": [round(r, 1) for r in medians],
            "speedup": [round(r / medians[0], 3) for r in medians],
            "ops_per_s_best": [round(r, 1) for r in best],
            "speedup_best": [round(r / best[0], 3) for r in best],
            "samples_ops_per_s": [[round(v, 1) for v in s] for s in rates],
            "ray_start_s": round(start_s, 2),
            "warm_up_s": round(warm_s, 2),
        }
    finally:
        main.close()

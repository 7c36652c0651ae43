"""Benchmarks of the Paillier engine against python-paillier, run by ``make bench``.

``python -m silobridge.bench`` measures both engines side by side in one process (interleaved
rounds, median throughput), the Ray scaling curve and a Hetero LR epoch, then writes
``bench-results/paillier.json`` and ``bench-results/paillier.md``.
"""

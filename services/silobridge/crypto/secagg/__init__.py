"""Secure aggregation (Bonawitz et al. 2017): the aggregator learns the sum of the clients'
vectors and nothing else, and can still finish a round when clients drop, down to a threshold.

``SecAggClient`` and ``SecAggServer`` hold the protocol's state and turn each received message
into the next one; they never touch the transport, so any exchange (the federation API, a
benchmark) can drive them. See docs/algorithms.md for what the aggregator learns.
"""

from silobridge.crypto.secagg.client import SecAggClient
from silobridge.crypto.secagg.server import SecAggServer

__all__ = ["SecAggClient", "SecAggServer"]

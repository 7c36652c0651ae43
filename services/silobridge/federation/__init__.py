"""Federation API: what an algorithm author sees (``ctx.send`` / ``ctx.recv`` with typed values).

The generated protobuf contracts of this domain live in ``silobridge.federation.v1``.
"""

from silobridge.federation.context import Federation, TaskContext

__all__ = ["Federation", "TaskContext"]

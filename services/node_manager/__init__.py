"""node-manager: one per compute host. Stores table partitions and runs tasks.

Consumes ``node.<node_id>.cmd`` (NodeCommand), reports on ``flow.events`` (TaskEvent) and keeps
itself registered with the cluster-manager over ``cluster.rpc``.
"""

from node_manager.service import NodeManagerService
from node_manager.settings import NodeManagerSettings

__all__ = ["NodeManagerService", "NodeManagerSettings"]

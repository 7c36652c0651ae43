"""cluster-manager: the party's compute inventory (nodes, compute sessions, table metadata).

Serves ``cluster.rpc`` (ClusterRequest -> ClusterReply) and publishes ``cluster.events``.
"""

from cluster_manager.service import ClusterManagerService
from cluster_manager.settings import ClusterManagerSettings

__all__ = ["ClusterManagerService", "ClusterManagerSettings"]

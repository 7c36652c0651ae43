"""Pick the store named by the settings."""

from __future__ import annotations

from cluster_manager.memory_store import MemoryClusterStore
from cluster_manager.settings import ClusterManagerSettings
from cluster_manager.sqlite_store import SqliteClusterStore
from cluster_manager.store import ClusterStore


def create_store(settings: ClusterManagerSettings) -> ClusterStore:
    if settings.store == "memory":
        return MemoryClusterStore()
    return SqliteClusterStore(settings.data_dir / settings.db_file)

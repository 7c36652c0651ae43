"""The cluster-manager's state behind a small interface: nodes, compute sessions, table metadata.

Records are the protobuf messages themselves, so every backend stores exactly what goes on the
wire. ``memory_store`` is the in-process twin of ``sqlite_store``; both return copies, never
references into their state.
"""

from __future__ import annotations

import abc

from silobridge.cluster.v1 import cluster_pb2 as pb


class ClusterStore(abc.ABC):
    @abc.abstractmethod
    def put_node(self, node: pb.NodeInfo) -> None: ...

    @abc.abstractmethod
    def get_node(self, node_id: str) -> pb.NodeInfo | None: ...

    @abc.abstractmethod
    def list_nodes(self) -> list[pb.NodeInfo]:
        """All nodes, ordered by node id."""

    @abc.abstractmethod
    def put_session(self, session: pb.ComputeSession) -> None: ...

    @abc.abstractmethod
    def get_session(self, session_id: str) -> pb.ComputeSession | None: ...

    @abc.abstractmethod
    def delete_session(self, session_id: str) -> bool:
        """True when the session existed."""

    @abc.abstractmethod
    def list_sessions(self) -> list[pb.ComputeSession]:
        """All sessions, ordered by session id."""

    @abc.abstractmethod
    def put_table(self, table: pb.TableMeta) -> None: ...

    @abc.abstractmethod
    def get_table(self, namespace: str, name: str) -> pb.TableMeta | None: ...

    @abc.abstractmethod
    def delete_table(self, namespace: str, name: str) -> bool:
        """True when the table existed."""

    @abc.abstractmethod
    def list_tables(self, namespace: str = "") -> list[pb.TableMeta]:
        """Tables of one namespace (all when empty), ordered by namespace then name."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files and connections."""

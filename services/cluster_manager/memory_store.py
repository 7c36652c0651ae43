"""In-memory twin of the SQLite store (unit tests, single-process demo without persistence)."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import Message

from cluster_manager.store import ClusterStore
from silobridge.cluster.v1 import cluster_pb2 as pb

M = TypeVar("M", bound=Message)


def _copy(msg: M) -> M:
    out = type(msg)()
    out.CopyFrom(msg)
    return out


class MemoryClusterStore(ClusterStore):
    def __init__(self) -> None:
        self._nodes: dict[str, pb.NodeInfo] = {}
        self._sessions: dict[str, pb.ComputeSession] = {}
        self._tables: dict[tuple[str, str], pb.TableMeta] = {}

    def put_node(self, node: pb.NodeInfo) -> None:
        self._nodes[node.node_id] = _copy(node)

    def get_node(self, node_id: str) -> pb.NodeInfo | None:
        node = self._nodes.get(node_id)
        return None if node is None else _copy(node)

    def list_nodes(self) -> list[pb.NodeInfo]:
        return [_copy(self._nodes[k]) for k in sorted(self._nodes)]

    def put_session(self, session: pb.ComputeSession) -> None:
        self._sessions[session.session_id] = _copy(session)

    def get_session(self, session_id: str) -> pb.ComputeSession | None:
        s = self._sessions.get(session_id)
        return None if s is None else _copy(s)

    def delete_session(self, session_id: str) -> bool:
        return self._sessions.pop(session_id, None) is not None

    def list_sessions(self) -> list[pb.ComputeSession]:
        return [_copy(self._sessions[k]) for k in sorted(self._sessions)]

    def put_table(self, table: pb.TableMeta) -> None:
        self._tables[(table.namespace, table.name)] = _copy(table)

    def get_table(self, namespace: str, name: str) -> pb.TableMeta | None:
        t = self._tables.get((namespace, name))
        return None if t is None else _copy(t)

    def delete_table(self, namespace: str, name: str) -> bool:
        return self._tables.pop((namespace, name), None) is not None

    def list_tables(self, namespace: str = "") -> list[pb.TableMeta]:
        keys = sorted(k for k in self._tables if not namespace or k[0] == namespace)
        return [_copy(self._tables[k]) for k in keys]

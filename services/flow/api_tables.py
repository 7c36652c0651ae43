"""REST routes of bound tables: bind one that stays at its source, describe one.

Binding needs the ``data`` permission (roles data-owner and admin). flow checks the request's
shape (a DSN without a password, a secret *reference*) before anything leaves it; the
node-manager then checks its allow-list, reaches the source and registers the metadata with the
cluster-manager. A refusal at either registers nothing.

No ``from __future__ import annotations`` here: FastAPI reads the route signatures' annotations.
"""

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from flow import views
from flow.auth import Permission, Principal, requirement
from silobridge.bus.base import check_word
from silobridge.cluster.v1 import cluster_pb2
from silobridge.errors import NotFound, RetryableError
from silobridge.node.v1 import node_pb2
from silobridge.sources.access import check_secret_ref, parse_dsn
from silobridge.sources.base import FILE_KINDS, SQL_KINDS, check_kind
from silobridge.sources.sql import check_query

if TYPE_CHECKING:
    from flow.api import ApiBackend

BIND_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A malformed binding (kind, location, query, secret reference, columns)"},
    403: {"description": "The role may not bind, or the node-manager's bind_allow does not list the source"},
    404: {"description": "The bound path does not exist"},
    409: {"description": "The name is taken (bind with replace to rebind it)"},
    503: {"description": "No node-manager is alive, or the database does not answer"},
}
DESCRIBE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The namespace or name is not a word of [A-Za-z0-9_-]"},
    404: {"description": "No such table at this party"},
}


class Binding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    namespace: str = Field(..., min_length=1, max_length=64)
    name: str = Field(..., min_length=1, max_length=64)
    kind: str = Field(..., description="parquet, csv, postgresql or mysql")
    location: str = Field(
        ...,
        min_length=1,
        max_length=4096,
        description="a file or directory path, or a database URL without password",
    )
    query: str = Field("", max_length=16384, description="SQL: a table name or one SELECT query")
    secret_ref: str = Field("", max_length=1024, description="the password as env:NAME or file:/path")
    id_column: str = Field(..., min_length=1, max_length=256)
    label_column: str = Field("", max_length=256)
    replace: bool = Field(False, description="rebind an existing bound table of that name")

    def to_command(self) -> node_pb2.BindTable:
        """The node command, after the checks that need no source (nothing leaves flow otherwise)."""
        check_word(self.namespace, "namespace")
        check_word(self.name, "table name")
        kind = check_kind(self.kind)
        check_secret_ref(self.secret_ref)
        if kind in SQL_KINDS:
            parse_dsn(kind, self.location)
            check_query(self.query)
        return node_pb2.BindTable(
            table=node_pb2.TableRef(namespace=self.namespace, name=self.name),
            source=cluster_pb2.TableSource(
                kind=kind,
                location=self.location,
                query=self.query if kind not in FILE_KINDS else "",
                secret_ref=self.secret_ref,
            ),
            id_column=self.id_column,
            label_column=self.label_column,
            replace=self.replace,
        )


async def choose_node(deps: "ApiBackend") -> cluster_pb2.NodeInfo:
    """The least busy live node-manager of this party."""
    nodes = [n for n in await deps.cluster.list_nodes() if n.state != cluster_pb2.NODE_STATE_LOST]
    if not nodes:
        raise RetryableError(f"no node-manager is alive at party {deps.settings.party_id}")
    return min(nodes, key=lambda n: (n.running_tasks, n.node_id))


def tables_router(deps: "ApiBackend") -> APIRouter:
    router = APIRouter()
    Reader = Annotated[Principal, Depends(requirement(lambda: deps.store, Permission.READ))]
    DataOwner = Annotated[Principal, Depends(requirement(lambda: deps.store, Permission.DATA))]

    @router.post("/v1/tables/bind", status_code=201, tags=["data"], responses=BIND_ERRORS)
    async def bind(body: Binding, _: DataOwner) -> dict[str, Any]:
        """Register a table that stays in this party's database or files (read at run time)."""
        cmd = body.to_command()
        node = await choose_node(deps)
        meta = await deps.cluster.bind_table(node.node_id, cmd)
        return {"table": views.table_meta(meta), "node_id": node.node_id}

    @router.get("/v1/tables/{namespace}/{name}", tags=["data"], responses=DESCRIBE_ERRORS)
    async def describe(namespace: str, name: str, _: Reader) -> dict[str, Any]:
        """One table's schema, rows, partitions and, when bound, its source and fingerprint."""
        check_word(namespace, "namespace")
        check_word(name, "table name")
        meta = await deps.cluster.table_meta(namespace, name)
        if meta is None:
            raise NotFound(f"no table {namespace}.{name} at party {deps.settings.party_id}")
        return {"table": views.table_meta(meta)}

    return router

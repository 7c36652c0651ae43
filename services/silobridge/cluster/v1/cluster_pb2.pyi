from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NodeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_STATE_UNSPECIFIED: _ClassVar[NodeState]
    NODE_STATE_ALIVE: _ClassVar[NodeState]
    NODE_STATE_LOST: _ClassVar[NodeState]
NODE_STATE_UNSPECIFIED: NodeState
NODE_STATE_ALIVE: NodeState
NODE_STATE_LOST: NodeState

class NodeInfo(_message.Message):
    __slots__ = ("node_id", "host", "cpus", "memory_bytes", "state", "running_tasks", "last_heartbeat_unix", "ray_address")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    CPUS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RUNNING_TASKS_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_UNIX_FIELD_NUMBER: _ClassVar[int]
    RAY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    host: str
    cpus: int
    memory_bytes: int
    state: NodeState
    running_tasks: int
    last_heartbeat_unix: float
    ray_address: str
    def __init__(self, node_id: _Optional[str] = ..., host: _Optional[str] = ..., cpus: _Optional[int] = ..., memory_bytes: _Optional[int] = ..., state: _Optional[_Union[NodeState, str]] = ..., running_tasks: _Optional[int] = ..., last_heartbeat_unix: _Optional[float] = ..., ray_address: _Optional[str] = ...) -> None: ...

class RegisterNode(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: NodeInfo
    def __init__(self, node: _Optional[_Union[NodeInfo, _Mapping]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("node_id", "running_tasks")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RUNNING_TASKS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    running_tasks: int
    def __init__(self, node_id: _Optional[str] = ..., running_tasks: _Optional[int] = ...) -> None: ...

class ComputeSession(_message.Message):
    __slots__ = ("session_id", "node_ids", "deadline_unix", "cpus")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_UNIX_FIELD_NUMBER: _ClassVar[int]
    CPUS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    node_ids: _containers.RepeatedScalarFieldContainer[str]
    deadline_unix: float
    cpus: int
    def __init__(self, session_id: _Optional[str] = ..., node_ids: _Optional[_Iterable[str]] = ..., deadline_unix: _Optional[float] = ..., cpus: _Optional[int] = ...) -> None: ...

class AllocateSession(_message.Message):
    __slots__ = ("session_id", "cpus", "timeout_s", "prefer_tables")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CPUS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    PREFER_TABLES_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    cpus: int
    timeout_s: float
    prefer_tables: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, session_id: _Optional[str] = ..., cpus: _Optional[int] = ..., timeout_s: _Optional[float] = ..., prefer_tables: _Optional[_Iterable[str]] = ...) -> None: ...

class ReleaseSession(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class ColumnSchema(_message.Message):
    __slots__ = ("name", "dtype")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    dtype: str
    def __init__(self, name: _Optional[str] = ..., dtype: _Optional[str] = ...) -> None: ...

class PartitionMeta(_message.Message):
    __slots__ = ("index", "node_id", "rows")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    index: int
    node_id: str
    rows: int
    def __init__(self, index: _Optional[int] = ..., node_id: _Optional[str] = ..., rows: _Optional[int] = ...) -> None: ...

class TableMeta(_message.Message):
    __slots__ = ("namespace", "name", "columns", "id_column", "label_column", "partitions", "rows", "created_unix", "source", "source_version")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ID_COLUMN_FIELD_NUMBER: _ClassVar[int]
    LABEL_COLUMN_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    columns: _containers.RepeatedCompositeFieldContainer[ColumnSchema]
    id_column: str
    label_column: str
    partitions: _containers.RepeatedCompositeFieldContainer[PartitionMeta]
    rows: int
    created_unix: float
    source: TableSource
    source_version: str
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ..., columns: _Optional[_Iterable[_Union[ColumnSchema, _Mapping]]] = ..., id_column: _Optional[str] = ..., label_column: _Optional[str] = ..., partitions: _Optional[_Iterable[_Union[PartitionMeta, _Mapping]]] = ..., rows: _Optional[int] = ..., created_unix: _Optional[float] = ..., source: _Optional[_Union[TableSource, _Mapping]] = ..., source_version: _Optional[str] = ...) -> None: ...

class TableSource(_message.Message):
    __slots__ = ("kind", "location", "query", "secret_ref")
    KIND_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    SECRET_REF_FIELD_NUMBER: _ClassVar[int]
    kind: str
    location: str
    query: str
    secret_ref: str
    def __init__(self, kind: _Optional[str] = ..., location: _Optional[str] = ..., query: _Optional[str] = ..., secret_ref: _Optional[str] = ...) -> None: ...

class GetTableMeta(_message.Message):
    __slots__ = ("namespace", "name")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListTables(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    def __init__(self, namespace: _Optional[str] = ...) -> None: ...

class DeleteTableMeta(_message.Message):
    __slots__ = ("namespace", "name")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListNodes(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message", "retryable")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    retryable: bool
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., retryable: _Optional[bool] = ...) -> None: ...

class ClusterRequest(_message.Message):
    __slots__ = ("register_node", "heartbeat", "allocate_session", "release_session", "put_table_meta", "get_table_meta", "list_tables", "list_nodes", "delete_table_meta")
    REGISTER_NODE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    ALLOCATE_SESSION_FIELD_NUMBER: _ClassVar[int]
    RELEASE_SESSION_FIELD_NUMBER: _ClassVar[int]
    PUT_TABLE_META_FIELD_NUMBER: _ClassVar[int]
    GET_TABLE_META_FIELD_NUMBER: _ClassVar[int]
    LIST_TABLES_FIELD_NUMBER: _ClassVar[int]
    LIST_NODES_FIELD_NUMBER: _ClassVar[int]
    DELETE_TABLE_META_FIELD_NUMBER: _ClassVar[int]
    register_node: RegisterNode
    heartbeat: Heartbeat
    allocate_session: AllocateSession
    release_session: ReleaseSession
    put_table_meta: TableMeta
    get_table_meta: GetTableMeta
    list_tables: ListTables
    list_nodes: ListNodes
    delete_table_meta: DeleteTableMeta
    def __init__(self, register_node: _Optional[_Union[RegisterNode, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., allocate_session: _Optional[_Union[AllocateSession, _Mapping]] = ..., release_session: _Optional[_Union[ReleaseSession, _Mapping]] = ..., put_table_meta: _Optional[_Union[TableMeta, _Mapping]] = ..., get_table_meta: _Optional[_Union[GetTableMeta, _Mapping]] = ..., list_tables: _Optional[_Union[ListTables, _Mapping]] = ..., list_nodes: _Optional[_Union[ListNodes, _Mapping]] = ..., delete_table_meta: _Optional[_Union[DeleteTableMeta, _Mapping]] = ...) -> None: ...

class NodeList(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ...) -> None: ...

class TableList(_message.Message):
    __slots__ = ("tables",)
    TABLES_FIELD_NUMBER: _ClassVar[int]
    tables: _containers.RepeatedCompositeFieldContainer[TableMeta]
    def __init__(self, tables: _Optional[_Iterable[_Union[TableMeta, _Mapping]]] = ...) -> None: ...

class ClusterReply(_message.Message):
    __slots__ = ("error", "node", "session", "table", "nodes", "tables", "ok", "table_data")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    TABLE_DATA_FIELD_NUMBER: _ClassVar[int]
    error: Error
    node: NodeInfo
    session: ComputeSession
    table: TableMeta
    nodes: NodeList
    tables: TableList
    ok: bool
    table_data: bytes
    def __init__(self, error: _Optional[_Union[Error, _Mapping]] = ..., node: _Optional[_Union[NodeInfo, _Mapping]] = ..., session: _Optional[_Union[ComputeSession, _Mapping]] = ..., table: _Optional[_Union[TableMeta, _Mapping]] = ..., nodes: _Optional[_Union[NodeList, _Mapping]] = ..., tables: _Optional[_Union[TableList, _Mapping]] = ..., ok: _Optional[bool] = ..., table_data: _Optional[bytes] = ...) -> None: ...

class ClusterEvent(_message.Message):
    __slots__ = ("session_expired", "node_lost")
    SESSION_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    NODE_LOST_FIELD_NUMBER: _ClassVar[int]
    session_expired: ComputeSession
    node_lost: NodeInfo
    def __init__(self, session_expired: _Optional[_Union[ComputeSession, _Mapping]] = ..., node_lost: _Optional[_Union[NodeInfo, _Mapping]] = ...) -> None: ...

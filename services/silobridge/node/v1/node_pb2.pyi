from google.protobuf import struct_pb2 as _struct_pb2
from silobridge.cluster.v1 import cluster_pb2 as _cluster_pb2
from silobridge.federation.v1 import values_pb2 as _values_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATE_UNSPECIFIED: _ClassVar[TaskState]
    TASK_STATE_WAITING: _ClassVar[TaskState]
    TASK_STATE_RUNNING: _ClassVar[TaskState]
    TASK_STATE_SUCCEEDED: _ClassVar[TaskState]
    TASK_STATE_FAILED: _ClassVar[TaskState]
    TASK_STATE_CANCELLED: _ClassVar[TaskState]
TASK_STATE_UNSPECIFIED: TaskState
TASK_STATE_WAITING: TaskState
TASK_STATE_RUNNING: TaskState
TASK_STATE_SUCCEEDED: TaskState
TASK_STATE_FAILED: TaskState
TASK_STATE_CANCELLED: TaskState

class TableRef(_message.Message):
    __slots__ = ("namespace", "name")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RoleParties(_message.Message):
    __slots__ = ("role", "party_ids")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PARTY_IDS_FIELD_NUMBER: _ClassVar[int]
    role: str
    party_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, role: _Optional[str] = ..., party_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class RunTask(_message.Message):
    __slots__ = ("job_id", "task_name", "attempt", "component", "role", "party_id", "parties", "params", "input_tables", "input_models", "output_namespace", "timeout_s", "compute_session")
    class InputTablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: TableRef
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[TableRef, _Mapping]] = ...) -> None: ...
    class InputModelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _values_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_values_pb2.Value, _Mapping]] = ...) -> None: ...
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    PARTIES_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TABLES_FIELD_NUMBER: _ClassVar[int]
    INPUT_MODELS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_SESSION_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    task_name: str
    attempt: int
    component: str
    role: str
    party_id: int
    parties: _containers.RepeatedCompositeFieldContainer[RoleParties]
    params: _struct_pb2.Struct
    input_tables: _containers.MessageMap[str, TableRef]
    input_models: _containers.MessageMap[str, _values_pb2.Value]
    output_namespace: str
    timeout_s: float
    compute_session: str
    def __init__(self, job_id: _Optional[str] = ..., task_name: _Optional[str] = ..., attempt: _Optional[int] = ..., component: _Optional[str] = ..., role: _Optional[str] = ..., party_id: _Optional[int] = ..., parties: _Optional[_Iterable[_Union[RoleParties, _Mapping]]] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., input_tables: _Optional[_Mapping[str, TableRef]] = ..., input_models: _Optional[_Mapping[str, _values_pb2.Value]] = ..., output_namespace: _Optional[str] = ..., timeout_s: _Optional[float] = ..., compute_session: _Optional[str] = ...) -> None: ...

class CancelTask(_message.Message):
    __slots__ = ("job_id", "task_name", "attempt", "reason")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    task_name: str
    attempt: int
    reason: str
    def __init__(self, job_id: _Optional[str] = ..., task_name: _Optional[str] = ..., attempt: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class StoreTable(_message.Message):
    __slots__ = ("table", "csv", "id_column", "label_column", "partitions")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    CSV_FIELD_NUMBER: _ClassVar[int]
    ID_COLUMN_FIELD_NUMBER: _ClassVar[int]
    LABEL_COLUMN_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    table: TableRef
    csv: bytes
    id_column: str
    label_column: str
    partitions: int
    def __init__(self, table: _Optional[_Union[TableRef, _Mapping]] = ..., csv: _Optional[bytes] = ..., id_column: _Optional[str] = ..., label_column: _Optional[str] = ..., partitions: _Optional[int] = ...) -> None: ...

class BindTable(_message.Message):
    __slots__ = ("table", "source", "id_column", "label_column", "replace")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ID_COLUMN_FIELD_NUMBER: _ClassVar[int]
    LABEL_COLUMN_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    table: TableRef
    source: _cluster_pb2.TableSource
    id_column: str
    label_column: str
    replace: bool
    def __init__(self, table: _Optional[_Union[TableRef, _Mapping]] = ..., source: _Optional[_Union[_cluster_pb2.TableSource, _Mapping]] = ..., id_column: _Optional[str] = ..., label_column: _Optional[str] = ..., replace: _Optional[bool] = ...) -> None: ...

class UploadChunk(_message.Message):
    __slots__ = ("upload_id", "offset", "data", "last", "abort")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    ABORT_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    offset: int
    data: bytes
    last: StoreTable
    abort: bool
    def __init__(self, upload_id: _Optional[str] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ..., last: _Optional[_Union[StoreTable, _Mapping]] = ..., abort: _Optional[bool] = ...) -> None: ...

class DeleteTable(_message.Message):
    __slots__ = ("table",)
    TABLE_FIELD_NUMBER: _ClassVar[int]
    table: TableRef
    def __init__(self, table: _Optional[_Union[TableRef, _Mapping]] = ...) -> None: ...

class ReadTable(_message.Message):
    __slots__ = ("table",)
    TABLE_FIELD_NUMBER: _ClassVar[int]
    table: TableRef
    def __init__(self, table: _Optional[_Union[TableRef, _Mapping]] = ...) -> None: ...

class NodeCommand(_message.Message):
    __slots__ = ("run_task", "cancel_task", "store_table", "delete_table", "bind_table", "upload_chunk", "read_table")
    RUN_TASK_FIELD_NUMBER: _ClassVar[int]
    CANCEL_TASK_FIELD_NUMBER: _ClassVar[int]
    STORE_TABLE_FIELD_NUMBER: _ClassVar[int]
    DELETE_TABLE_FIELD_NUMBER: _ClassVar[int]
    BIND_TABLE_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_CHUNK_FIELD_NUMBER: _ClassVar[int]
    READ_TABLE_FIELD_NUMBER: _ClassVar[int]
    run_task: RunTask
    cancel_task: CancelTask
    store_table: StoreTable
    delete_table: DeleteTable
    bind_table: BindTable
    upload_chunk: UploadChunk
    read_table: ReadTable
    def __init__(self, run_task: _Optional[_Union[RunTask, _Mapping]] = ..., cancel_task: _Optional[_Union[CancelTask, _Mapping]] = ..., store_table: _Optional[_Union[StoreTable, _Mapping]] = ..., delete_table: _Optional[_Union[DeleteTable, _Mapping]] = ..., bind_table: _Optional[_Union[BindTable, _Mapping]] = ..., upload_chunk: _Optional[_Union[UploadChunk, _Mapping]] = ..., read_table: _Optional[_Union[ReadTable, _Mapping]] = ...) -> None: ...

class MetricPoint(_message.Message):
    __slots__ = ("name", "step", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    step: int
    value: float
    def __init__(self, name: _Optional[str] = ..., step: _Optional[int] = ..., value: _Optional[float] = ...) -> None: ...

class TaskEvent(_message.Message):
    __slots__ = ("job_id", "task_name", "attempt", "party_id", "role", "state", "message", "metrics", "output_tables", "model", "progress", "node_id", "time_unix", "summary", "retryable")
    class OutputTablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: TableRef
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[TableRef, _Mapping]] = ...) -> None: ...
    class SummaryEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TABLES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    task_name: str
    attempt: int
    party_id: int
    role: str
    state: TaskState
    message: str
    metrics: _containers.RepeatedCompositeFieldContainer[MetricPoint]
    output_tables: _containers.MessageMap[str, TableRef]
    model: _values_pb2.Value
    progress: float
    node_id: str
    time_unix: float
    summary: _containers.ScalarMap[str, float]
    retryable: bool
    def __init__(self, job_id: _Optional[str] = ..., task_name: _Optional[str] = ..., attempt: _Optional[int] = ..., party_id: _Optional[int] = ..., role: _Optional[str] = ..., state: _Optional[_Union[TaskState, str]] = ..., message: _Optional[str] = ..., metrics: _Optional[_Iterable[_Union[MetricPoint, _Mapping]]] = ..., output_tables: _Optional[_Mapping[str, TableRef]] = ..., model: _Optional[_Union[_values_pb2.Value, _Mapping]] = ..., progress: _Optional[float] = ..., node_id: _Optional[str] = ..., time_unix: _Optional[float] = ..., summary: _Optional[_Mapping[str, float]] = ..., retryable: _Optional[bool] = ...) -> None: ...

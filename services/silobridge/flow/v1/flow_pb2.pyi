from google.protobuf import struct_pb2 as _struct_pb2
from silobridge.node.v1 import node_pb2 as _node_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_PROPOSED: _ClassVar[JobState]
    JOB_STATE_ACCEPTED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_STOPPED: _ClassVar[JobState]
    JOB_STATE_REFUSED: _ClassVar[JobState]
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_PROPOSED: JobState
JOB_STATE_ACCEPTED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_STOPPED: JobState
JOB_STATE_REFUSED: JobState

class RoleParams(_message.Message):
    __slots__ = ("role", "party_id", "params")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    role: str
    party_id: int
    params: _struct_pb2.Struct
    def __init__(self, role: _Optional[str] = ..., party_id: _Optional[int] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ComponentSpec(_message.Message):
    __slots__ = ("name", "component", "needs", "params", "role_params", "inputs")
    class InputsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    NEEDS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    ROLE_PARAMS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    component: str
    needs: _containers.RepeatedScalarFieldContainer[str]
    params: _struct_pb2.Struct
    role_params: _containers.RepeatedCompositeFieldContainer[RoleParams]
    inputs: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., component: _Optional[str] = ..., needs: _Optional[_Iterable[str]] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., role_params: _Optional[_Iterable[_Union[RoleParams, _Mapping]]] = ..., inputs: _Optional[_Mapping[str, str]] = ...) -> None: ...

class JobSpec(_message.Message):
    __slots__ = ("job_id", "initiator_party_id", "parties", "components", "timeout_s")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    INITIATOR_PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    PARTIES_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    initiator_party_id: int
    parties: _containers.RepeatedCompositeFieldContainer[_node_pb2.RoleParties]
    components: _containers.RepeatedCompositeFieldContainer[ComponentSpec]
    timeout_s: float
    def __init__(self, job_id: _Optional[str] = ..., initiator_party_id: _Optional[int] = ..., parties: _Optional[_Iterable[_Union[_node_pb2.RoleParties, _Mapping]]] = ..., components: _Optional[_Iterable[_Union[ComponentSpec, _Mapping]]] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class ProposeJob(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: JobSpec
    def __init__(self, spec: _Optional[_Union[JobSpec, _Mapping]] = ...) -> None: ...

class AcceptJob(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RefuseJob(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class StartJob(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StopJob(_message.Message):
    __slots__ = ("reason", "state")
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    reason: str
    state: JobState
    def __init__(self, reason: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ...) -> None: ...

class TaskStatus(_message.Message):
    __slots__ = ("task_name", "state", "message")
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    task_name: str
    state: _node_pb2.TaskState
    message: str
    def __init__(self, task_name: _Optional[str] = ..., state: _Optional[_Union[_node_pb2.TaskState, str]] = ..., message: _Optional[str] = ...) -> None: ...

class JobStatus(_message.Message):
    __slots__ = ("state", "tasks", "message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: JobState
    tasks: _containers.RepeatedCompositeFieldContainer[TaskStatus]
    message: str
    def __init__(self, state: _Optional[_Union[JobState, str]] = ..., tasks: _Optional[_Iterable[_Union[TaskStatus, _Mapping]]] = ..., message: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("job_ids",)
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    job_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, job_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ControlMessage(_message.Message):
    __slots__ = ("job_id", "from_party_id", "propose", "accept", "refuse", "start", "stop", "status", "heartbeat")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    PROPOSE_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_FIELD_NUMBER: _ClassVar[int]
    REFUSE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    from_party_id: int
    propose: ProposeJob
    accept: AcceptJob
    refuse: RefuseJob
    start: StartJob
    stop: StopJob
    status: JobStatus
    heartbeat: Heartbeat
    def __init__(self, job_id: _Optional[str] = ..., from_party_id: _Optional[int] = ..., propose: _Optional[_Union[ProposeJob, _Mapping]] = ..., accept: _Optional[_Union[AcceptJob, _Mapping]] = ..., refuse: _Optional[_Union[RefuseJob, _Mapping]] = ..., start: _Optional[_Union[StartJob, _Mapping]] = ..., stop: _Optional[_Union[StopJob, _Mapping]] = ..., status: _Optional[_Union[JobStatus, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...

from silobridge.federation.v1 import envelope_pb2 as _envelope_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobAdmission(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_ADMISSION_UNSPECIFIED: _ClassVar[JobAdmission]
    JOB_ADMISSION_OPEN: _ClassVar[JobAdmission]
    JOB_ADMISSION_CLOSED: _ClassVar[JobAdmission]
JOB_ADMISSION_UNSPECIFIED: JobAdmission
JOB_ADMISSION_OPEN: JobAdmission
JOB_ADMISSION_CLOSED: JobAdmission

class Ack(_message.Message):
    __slots__ = ("message_id", "chunk_index", "ok", "error")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_INDEX_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    chunk_index: int
    ok: bool
    error: str
    def __init__(self, message_id: _Optional[str] = ..., chunk_index: _Optional[int] = ..., ok: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class TransferRequest(_message.Message):
    __slots__ = ("envelope",)
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    envelope: _envelope_pb2.Envelope
    def __init__(self, envelope: _Optional[_Union[_envelope_pb2.Envelope, _Mapping]] = ...) -> None: ...

class TransferResponse(_message.Message):
    __slots__ = ("ack",)
    ACK_FIELD_NUMBER: _ClassVar[int]
    ack: Ack
    def __init__(self, ack: _Optional[_Union[Ack, _Mapping]] = ...) -> None: ...

class JobAdmissionUpdate(_message.Message):
    __slots__ = ("job_id", "admission")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ADMISSION_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    admission: JobAdmission
    def __init__(self, job_id: _Optional[str] = ..., admission: _Optional[_Union[JobAdmission, str]] = ...) -> None: ...

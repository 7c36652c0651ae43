from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModelKey(_message.Message):
    __slots__ = ("job_id", "task")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    task: str
    def __init__(self, job_id: _Optional[str] = ..., task: _Optional[str] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("request_id", "model", "ids")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model: ModelKey
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., model: _Optional[_Union[ModelKey, _Mapping]] = ..., ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ScoreError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ScoreReply(_message.Message):
    __slots__ = ("request_id", "partial_scores", "missing_ids", "error", "leaf_masks")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_SCORES_FIELD_NUMBER: _ClassVar[int]
    MISSING_IDS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    LEAF_MASKS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    partial_scores: _containers.RepeatedScalarFieldContainer[float]
    missing_ids: _containers.RepeatedScalarFieldContainer[str]
    error: ScoreError
    leaf_masks: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, request_id: _Optional[str] = ..., partial_scores: _Optional[_Iterable[float]] = ..., missing_ids: _Optional[_Iterable[str]] = ..., error: _Optional[_Union[ScoreError, _Mapping]] = ..., leaf_masks: _Optional[_Iterable[bytes]] = ...) -> None: ...

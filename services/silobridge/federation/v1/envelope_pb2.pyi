import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_GUEST: _ClassVar[Role]
    ROLE_HOST: _ClassVar[Role]
    ROLE_ARBITER: _ClassVar[Role]

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CHANNEL_FEDERATION: _ClassVar[Channel]
    CHANNEL_CONTROL: _ClassVar[Channel]
    CHANNEL_SERVING: _ClassVar[Channel]
ROLE_UNSPECIFIED: Role
ROLE_GUEST: Role
ROLE_HOST: Role
ROLE_ARBITER: Role
CHANNEL_UNSPECIFIED: Channel
CHANNEL_FEDERATION: Channel
CHANNEL_CONTROL: Channel
CHANNEL_SERVING: Channel

class PartyRef(_message.Message):
    __slots__ = ("party_id", "role")
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    party_id: int
    role: Role
    def __init__(self, party_id: _Optional[int] = ..., role: _Optional[_Union[Role, str]] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("message_id", "src", "dst", "channel", "session", "name", "tag", "sequence", "chunk_index", "chunk_count", "payload_digest", "payload_size", "sent_at", "payload", "signature")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SRC_FIELD_NUMBER: _ClassVar[int]
    DST_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_INDEX_FIELD_NUMBER: _ClassVar[int]
    CHUNK_COUNT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_DIGEST_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_SIZE_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    src: PartyRef
    dst: PartyRef
    channel: Channel
    session: str
    name: str
    tag: str
    sequence: int
    chunk_index: int
    chunk_count: int
    payload_digest: bytes
    payload_size: int
    sent_at: _timestamp_pb2.Timestamp
    payload: bytes
    signature: bytes
    def __init__(self, message_id: _Optional[str] = ..., src: _Optional[_Union[PartyRef, _Mapping]] = ..., dst: _Optional[_Union[PartyRef, _Mapping]] = ..., channel: _Optional[_Union[Channel, str]] = ..., session: _Optional[str] = ..., name: _Optional[str] = ..., tag: _Optional[str] = ..., sequence: _Optional[int] = ..., chunk_index: _Optional[int] = ..., chunk_count: _Optional[int] = ..., payload_digest: _Optional[bytes] = ..., payload_size: _Optional[int] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., payload: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

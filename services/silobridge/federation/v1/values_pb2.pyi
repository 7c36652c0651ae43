from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    D_TYPE_UNSPECIFIED: _ClassVar[DType]
    D_TYPE_FLOAT64: _ClassVar[DType]
    D_TYPE_FLOAT32: _ClassVar[DType]
    D_TYPE_INT64: _ClassVar[DType]
    D_TYPE_INT32: _ClassVar[DType]
    D_TYPE_BOOL: _ClassVar[DType]
    D_TYPE_UINT8: _ClassVar[DType]
D_TYPE_UNSPECIFIED: DType
D_TYPE_FLOAT64: DType
D_TYPE_FLOAT32: DType
D_TYPE_INT64: DType
D_TYPE_INT32: DType
D_TYPE_BOOL: DType
D_TYPE_UINT8: DType

class Tensor(_message.Message):
    __slots__ = ("dtype", "shape", "data")
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    dtype: DType
    shape: _containers.RepeatedScalarFieldContainer[int]
    data: bytes
    def __init__(self, dtype: _Optional[_Union[DType, str]] = ..., shape: _Optional[_Iterable[int]] = ..., data: _Optional[bytes] = ...) -> None: ...

class PaillierPublicKey(_message.Message):
    __slots__ = ("n",)
    N_FIELD_NUMBER: _ClassVar[int]
    n: bytes
    def __init__(self, n: _Optional[bytes] = ...) -> None: ...

class PaillierVector(_message.Message):
    __slots__ = ("key_fingerprint", "width", "count", "data", "exponents", "shape", "pack_slots", "pack_bits")
    KEY_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EXPONENTS_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    PACK_SLOTS_FIELD_NUMBER: _ClassVar[int]
    PACK_BITS_FIELD_NUMBER: _ClassVar[int]
    key_fingerprint: bytes
    width: int
    count: int
    data: bytes
    exponents: _containers.RepeatedScalarFieldContainer[int]
    shape: _containers.RepeatedScalarFieldContainer[int]
    pack_slots: int
    pack_bits: int
    def __init__(self, key_fingerprint: _Optional[bytes] = ..., width: _Optional[int] = ..., count: _Optional[int] = ..., data: _Optional[bytes] = ..., exponents: _Optional[_Iterable[int]] = ..., shape: _Optional[_Iterable[int]] = ..., pack_slots: _Optional[int] = ..., pack_bits: _Optional[int] = ...) -> None: ...

class Scalar(_message.Message):
    __slots__ = ("float_value", "int_value", "string_value", "bool_value")
    FLOAT_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    float_value: float
    int_value: int
    string_value: str
    bool_value: bool
    def __init__(self, float_value: _Optional[float] = ..., int_value: _Optional[int] = ..., string_value: _Optional[str] = ..., bool_value: _Optional[bool] = ...) -> None: ...

class BytesList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, values: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ValueMap(_message.Message):
    __slots__ = ("items",)
    class ItemsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.MessageMap[str, Value]
    def __init__(self, items: _Optional[_Mapping[str, Value]] = ...) -> None: ...

class ValueList(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Value]
    def __init__(self, items: _Optional[_Iterable[_Union[Value, _Mapping]]] = ...) -> None: ...

class Value(_message.Message):
    __slots__ = ("tensor", "paillier_vector", "scalar", "paillier_public_key", "bytes_list", "map", "list")
    TENSOR_FIELD_NUMBER: _ClassVar[int]
    PAILLIER_VECTOR_FIELD_NUMBER: _ClassVar[int]
    SCALAR_FIELD_NUMBER: _ClassVar[int]
    PAILLIER_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    BYTES_LIST_FIELD_NUMBER: _ClassVar[int]
    MAP_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    tensor: Tensor
    paillier_vector: PaillierVector
    scalar: Scalar
    paillier_public_key: PaillierPublicKey
    bytes_list: BytesList
    map: ValueMap
    list: ValueList
    def __init__(self, tensor: _Optional[_Union[Tensor, _Mapping]] = ..., paillier_vector: _Optional[_Union[PaillierVector, _Mapping]] = ..., scalar: _Optional[_Union[Scalar, _Mapping]] = ..., paillier_public_key: _Optional[_Union[PaillierPublicKey, _Mapping]] = ..., bytes_list: _Optional[_Union[BytesList, _Mapping]] = ..., map: _Optional[_Union[ValueMap, _Mapping]] = ..., list: _Optional[_Union[ValueList, _Mapping]] = ...) -> None: ...

"""Python values <-> the typed ``Value`` protobuf. The only way values cross a party boundary.

Supported: numpy arrays (float64/float32/int64/int32/bool/uint8), Python scalars, strings,
lists of bytes, dicts and lists of those, Paillier public keys and encrypted vectors.
Decoding checks sizes and shapes and refuses ciphertexts under a key the receiver does not trust.
No pickle anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from silobridge.errors import CryptoError, IntegrityError, InvalidInput
from silobridge.federation.v1 import values_pb2 as pb

MAX_TENSOR_DIMS = 8
MAX_DEPTH = 16

_DTYPES: dict[int, np.dtype[Any]] = {
    pb.D_TYPE_FLOAT64: np.dtype("<f8"),
    pb.D_TYPE_FLOAT32: np.dtype("<f4"),
    pb.D_TYPE_INT64: np.dtype("<i8"),
    pb.D_TYPE_INT32: np.dtype("<i4"),
    pb.D_TYPE_BOOL: np.dtype("?"),
    pb.D_TYPE_UINT8: np.dtype("u1"),
}
_CODES = {v.str if v.str != "|b1" else "?": k for k, v in _DTYPES.items()}


def _dtype_code(dtype: np.dtype[Any]) -> int:
    key = "?" if dtype == np.bool_ else dtype.newbyteorder("<").str if dtype.itemsize > 1 else dtype.str
    if key not in _CODES:
        raise InvalidInput(f"cannot send a numpy array of dtype {dtype}")
    return _CODES[key]


def encode(value: Any, _depth: int = 0) -> pb.Value:
    if _depth > MAX_DEPTH:
        raise InvalidInput("value nests too deeply to send")
    crypto = _crypto_value(value)
    if crypto is not None:
        return crypto
    if isinstance(value, np.ndarray) and value.dtype.kind == "U":
        return encode([str(v) for v in value.ravel()], _depth)
    if isinstance(value, np.ndarray):
        code = _dtype_code(value.dtype)
        arr = np.ascontiguousarray(value, dtype=_DTYPES[code])
        return pb.Value(tensor=pb.Tensor(dtype=code, shape=list(arr.shape), data=arr.tobytes()))  # type: ignore[arg-type]
    if isinstance(value, bool | np.bool_):
        return pb.Value(scalar=pb.Scalar(bool_value=bool(value)))
    if isinstance(value, int | np.integer):
        return pb.Value(scalar=pb.Scalar(int_value=int(value)))
    if isinstance(value, float | np.floating):
        return pb.Value(scalar=pb.Scalar(float_value=float(value)))
    if isinstance(value, str):
        return pb.Value(scalar=pb.Scalar(string_value=value))
    if isinstance(value, Mapping):
        vm = pb.ValueMap()
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidInput("only string keys can be sent in a map")
            vm.items[k].CopyFrom(encode(v, _depth + 1))
        return pb.Value(map=vm)
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, bytes) for v in value):
            return pb.Value(bytes_list=pb.BytesList(values=list(value)))
        return pb.Value(list=pb.ValueList(items=[encode(v, _depth + 1) for v in value]))
    raise InvalidInput(f"cannot send a value of type {type(value).__name__}")


def _crypto_value(value: Any) -> pb.Value | None:
    """Paillier keys and ciphertext vectors of the engine (imported only when one is sent)."""
    module = type(value).__module__
    if not module.startswith("silobridge.crypto"):
        return None
    from silobridge.crypto import EncryptedVector, PublicKey

    if isinstance(value, PublicKey):
        return pb.Value(paillier_public_key=value.to_proto())
    if isinstance(value, EncryptedVector):
        # to_proto refuses ciphertexts that were computed but never re-randomised.
        return pb.Value(paillier_vector=value.to_proto())
    raise InvalidInput(
        f"cannot send a {type(value).__name__}: only public keys and ciphertexts leave a party"
    )


class KeyRing:
    """Public keys this task trusts for incoming ciphertexts, by fingerprint."""

    def __init__(self) -> None:
        self._keys: dict[bytes, Any] = {}

    def trust(self, public_key: Any) -> None:
        self._keys[public_key.fingerprint()] = public_key

    def get(self, fingerprint: bytes) -> Any:
        try:
            return self._keys[fingerprint]
        except KeyError:
            raise CryptoError(
                "received ciphertexts under a public key this task does not trust "
                f"(fingerprint {fingerprint[:8].hex()}): the key sizes or key exchange do not match"
            ) from None


def decode(value: pb.Value, keys: KeyRing | None = None, _depth: int = 0) -> Any:
    if _depth > MAX_DEPTH:
        raise IntegrityError("received value nests too deeply")
    kind = value.WhichOneof("kind")
    if kind == "tensor":
        return _decode_tensor(value.tensor)
    if kind == "scalar":
        which = value.scalar.WhichOneof("value")
        if which is None:
            raise IntegrityError("received an empty scalar")
        return getattr(value.scalar, which)
    if kind == "bytes_list":
        return list(value.bytes_list.values)
    if kind == "map":
        return {k: decode(v, keys, _depth + 1) for k, v in value.map.items.items()}
    if kind == "list":
        return [decode(v, keys, _depth + 1) for v in value.list.items]
    if kind == "paillier_public_key":
        from silobridge.crypto import PublicKey

        return PublicKey.from_proto(value.paillier_public_key)
    if kind == "paillier_vector":
        from silobridge.crypto import EncryptedVector

        ring = keys or KeyRing()
        pk = ring.get(bytes(value.paillier_vector.key_fingerprint))
        return EncryptedVector.from_proto(value.paillier_vector, pk)
    raise IntegrityError("received a value of no known kind")


def _decode_tensor(t: pb.Tensor) -> np.ndarray:
    if t.dtype not in _DTYPES:
        raise IntegrityError(f"received a tensor with unknown dtype code {t.dtype}")
    if len(t.shape) > MAX_TENSOR_DIMS or any(d < 0 for d in t.shape):
        raise IntegrityError(f"received a tensor with invalid shape {list(t.shape)}")
    dtype = _DTYPES[t.dtype]
    count = math.prod(t.shape)
    if count * dtype.itemsize != len(t.data):
        raise IntegrityError(
            f"received tensor data of {len(t.data)} bytes for shape {list(t.shape)} of {dtype.name}"
        )
    return np.frombuffer(t.data, dtype=dtype).reshape(tuple(t.shape)).copy()


def to_bytes(value: Any) -> bytes:
    return encode(value).SerializeToString()


def from_bytes(data: bytes, keys: KeyRing | None = None) -> Any:
    msg = pb.Value()
    try:
        msg.ParseFromString(data)
    except Exception:  # protobuf's DecodeError
        raise IntegrityError("received bytes are not a valid Value message") from None
    return decode(msg, keys)

"""Envelope signatures: the sending router signs, the receiving router verifies, the audit keeps it.

The key is the router's TLS key, so the signature is bound to the certificate the peer presents
on the mutual-TLS stream (and whose party id must equal the envelope's source). What is signed
is :func:`signed_header`: a domain tag and every header field but the chunking (``chunk_index``,
``chunk_count``), ``payload`` and ``signature``, each length-prefixed. ``payload_digest``
(SHA-256 of the whole payload) and ``payload_size`` bind the payload, so one signature per message
covers all its chunks (and the reassembled whole), and the receiver checks the digest after
reassembly. ``sent_at`` is signed too: the receiving router refuses envelopes
outside its time window, so a recorded envelope cannot be replayed later, and a new message id
cannot be put on an old one without breaking the signature.

An audit record carries ``signed_header`` and ``signature`` (hex) and the signer's certificate
fingerprint: with that certificate anyone can check later, with :func:`verify_record`, which
party sent which header, payload digest included.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from google.protobuf.timestamp_pb2 import Timestamp

from silobridge.errors import InvalidInput, PermissionDenied
from silobridge.federation.v1 import envelope_pb2 as env_pb
from silobridge.pki import peer_certificate

DOMAIN = b"silobridge-envelope-signature-v1"
MAX_SIGNATURE_BYTES = 128  # a DER ECDSA P-256 signature is at most 72, Ed25519 64
MAX_SIGNED_HEADER_BYTES = 4096
_ECDSA = ec.ECDSA(hashes.SHA256())


class BadSignature(PermissionDenied):
    """An envelope without a valid signature of its source party."""


def signed_header(env: env_pb.Envelope) -> bytes:
    """The exact bytes signed for ``env``: the same for every chunk of one message."""
    sent = env.sent_at
    fields: Sequence[bytes | str | int] = (
        env.message_id,
        env.src.party_id,
        env.src.role,
        env.dst.party_id,
        env.dst.role,
        env.channel,
        env.session,
        env.name,
        env.tag,
        env.sequence,
        env.payload_digest,
        env.payload_size,
        sent.seconds,
        sent.nanos,
    )
    out = [DOMAIN]
    for value in fields:
        raw = value if isinstance(value, bytes) else str(value).encode()
        out.append(struct.pack(">I", len(raw)))
        out.append(raw)
    return b"".join(out)


def parse_signed_header(data: bytes) -> list[bytes]:
    """The fields of a :func:`signed_header` (for a reader of an audit record)."""
    if not data.startswith(DOMAIN) or len(data) > MAX_SIGNED_HEADER_BYTES:
        raise InvalidInput("not a silobridge signed envelope header")
    fields, pos = [], len(DOMAIN)
    while pos < len(data):
        if pos + 4 > len(data):
            raise InvalidInput("truncated signed header")
        (n,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if pos + n > len(data):
            raise InvalidInput("truncated signed header")
        fields.append(data[pos : pos + n])
        pos += n
    return fields


class Signer:
    """Signs outbound envelopes with this router's private key (PEM, as the TLS material has it)."""

    def __init__(self, key_pem: bytes) -> None:
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise InvalidInput("the router key must be an EC or Ed25519 key to sign envelopes")
        self._key = key

    def sign(self, chunks: Sequence[env_pb.Envelope], sent_at_ns: int) -> bytes:
        """Stamp ``sent_at`` and one signature on every chunk of one message (as split them)."""
        sent = Timestamp()
        sent.FromNanoseconds(sent_at_ns)
        for chunk in chunks:
            chunk.sent_at.CopyFrom(sent)
        data = signed_header(chunks[0])
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            signature = self._key.sign(data, _ECDSA)
        else:
            signature = self._key.sign(data)
        for chunk in chunks:
            chunk.signature = signature
        return signature


def verify(public_key: CertificatePublicKeyTypes, env: env_pb.Envelope) -> None:
    """Raise :class:`BadSignature` unless ``env`` carries a valid signature by ``public_key``."""
    if not env.signature:
        raise BadSignature(
            f"envelope {env.message_id[:128]} is not signed",
            public_message="envelope is not signed: upgrade your router",
        )
    if len(env.signature) > MAX_SIGNATURE_BYTES:
        raise BadSignature(f"signature of {len(env.signature)} bytes", public_message="invalid signature")
    _verify_bytes(public_key, signed_header(env), env.signature, env.message_id[:128])


def verify_record(cert_pem: bytes, signed_header_hex: str, signature_hex: str) -> list[bytes]:
    """Check an audit record against the sender's certificate; returns the signed fields."""
    cert = peer_certificate(cert_pem)
    data, signature = bytes.fromhex(signed_header_hex), bytes.fromhex(signature_hex)
    fields = parse_signed_header(data)
    _verify_bytes(cert.public_key, data, signature, fields[0].decode(errors="replace") if fields else "")
    return fields


def _verify_bytes(public_key: CertificatePublicKeyTypes, data: bytes, signature: bytes, what: str) -> None:
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, _ECDSA)
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        else:
            raise InvalidSignature
    except InvalidSignature:
        raise BadSignature(
            f"envelope {what}: signature does not verify against the sender's certificate",
            public_message="invalid envelope signature",
        ) from None

"""The audit log of cross-party traffic (logger ``silobridge.audit``): who sent what, never the payload.

Each delivered or sent envelope is one record with its routing fields, size, payload digest, the
sender's signature, the exact signed header and the fingerprint of the signing certificate, so
that who sent what can be shown to a third party later (:func:`rollsite_router.signing.verify_record`).
Refusals that say something about a peer's honesty (revoked certificate, bad signature, spoofed
source, ...) are recorded too, with the reason.
"""

from __future__ import annotations

import logging

from rollsite_router.signing import signed_header
from silobridge.federation.v1 import envelope_pb2 as env_pb

audit = logging.getLogger("silobridge.audit")


def record_message(
    direction: str, peer: str, env: env_pb.Envelope, size: int, *, signer_sha256: str, topic: str = ""
) -> None:
    digest = env.payload_digest.hex()
    signature = env.signature.hex()
    audit.info(
        "cross-party %s peer=%s src=%s dst=%s channel=%s session=%s name=%s tag=%s size=%d sha256=%s id=%s sig=%s",
        direction,
        peer,
        env.src.party_id,
        env.dst.party_id,
        env_pb.Channel.Name(env.channel),
        env.session,
        env.name,
        env.tag,
        size,
        digest,
        env.message_id,
        signature[:16],
        extra={
            "event": f"audit_{direction}",
            "peer": peer,
            "topic": topic,
            "size": size,
            "digest": digest,
            "message_id": env.message_id,
            "direction": direction,
            "src_party": env.src.party_id,
            "dst_party": env.dst.party_id,
            "session": env.session,
            "var_name": env.name,
            "tag": env.tag,
            "signature": signature,
            "signed_header": signed_header(env).hex(),
            "signer_cert_sha256": signer_sha256,
        },
    )


def record_refusal(
    peer: str, address: str, cert_sha256: str, env: env_pb.Envelope, reason: str, detail: str
) -> None:
    audit.warning(
        "cross-party refused peer=%s (%s) src=%s dst=%s id=%s reason=%s: %s",
        peer,
        address,
        env.src.party_id,
        env.dst.party_id,
        env.message_id[:128],
        reason,
        detail,
        extra={
            "event": "audit_refused",
            "peer": peer,
            "direction": "in",
            "reason": reason,
            "message_id": env.message_id[:128],
            "src_party": env.src.party_id,
            "dst_party": env.dst.party_id,
            "session": env.session[:256],
            "signature": env.signature[:128].hex(),
            "signer_cert_sha256": cert_sha256,
        },
    )

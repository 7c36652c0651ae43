"""Acks across the boundary: public messages only, and retryable vs permanent kept apart."""

from __future__ import annotations

import pytest

from rollsite_router.protocol import error_ack, error_from_ack
from rollsite_router.settings import RouterSettings
from silobridge.config import SettingsError, load_settings
from silobridge.errors import BusUnavailable, IntegrityError, PermanentError, PermissionDenied, RetryableError
from silobridge.federation.v1 import envelope_pb2 as env_pb


def test_refusals_keep_their_kind_and_hide_internals():
    chunk = env_pb.Envelope(message_id="m1", chunk_index=2)
    ack = error_ack(chunk, PermissionDenied("party 5 at 10.0.0.9 spoofed", public_message="source mismatch"))
    assert (ack.ok, ack.message_id, ack.chunk_index) == (False, "m1", 2)
    assert ack.error == "permission_denied: source mismatch"
    assert isinstance(error_from_ack(ack, 7), PermissionDenied)

    busy = error_from_ack(error_ack(chunk, BusUnavailable("broker down at amqp://secret@host")), 7)
    assert isinstance(busy, RetryableError)
    assert isinstance(error_from_ack(error_ack(chunk, IntegrityError("bad digest")), 7), IntegrityError)
    internal = error_ack(chunk, RuntimeError("/srv/secret/path exploded"))
    assert internal.error == "internal: internal error"
    assert isinstance(error_from_ack(internal, 7), PermanentError)


def test_settings_need_certificates(tmp_path):
    with pytest.raises(SettingsError, match="SILOBRIDGE_CERT_DIR"):
        load_settings(RouterSettings, {})
    s = load_settings(RouterSettings, {"SILOBRIDGE_CERT_DIR": str(tmp_path), "SILOBRIDGE_PARTY_ID": "10000"})
    assert s.cert_path == tmp_path / "party-10000.crt"
    assert s.max_grpc_message_bytes > s.chunk_bytes == 1024 * 1024
    with pytest.raises(SettingsError, match="SILOBRIDGE_CHUNK_BYTES"):
        load_settings(RouterSettings, {"SILOBRIDGE_CERT_DIR": str(tmp_path), "SILOBRIDGE_CHUNK_BYTES": "10"})

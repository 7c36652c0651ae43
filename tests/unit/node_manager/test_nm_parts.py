"""Small parts of the node-manager: settings, the cancellable federation."""

from __future__ import annotations

import threading
import time

import pytest

from node_manager.guarded_federation import GuardedFederation, TaskCancelled
from node_manager.settings import NodeManagerSettings, default_node_id
from silobridge.config import SettingsError, load_settings
from silobridge.errors import RequestTimeout
from silobridge.federation.local import LocalHub


def test_node_id_defaults_to_host_and_party() -> None:
    assert default_node_id("gpu-07.bank.internal", 10000) == "gpu-07-p10000"
    settings = load_settings(NodeManagerSettings, {"SILOBRIDGE_PARTY_ID": "42"})
    assert settings.node_id.endswith("-p42")
    explicit = load_settings(NodeManagerSettings, {"SILOBRIDGE_NODE_ID": "n1"})
    assert explicit.node_id == "n1"


def test_bad_settings_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="SILOBRIDGE_NODE_ID"):
        load_settings(NodeManagerSettings, {"SILOBRIDGE_NODE_ID": "a.b"})
    with pytest.raises(SettingsError, match="SILOBRIDGE_COMPUTE_BACKEND"):
        load_settings(NodeManagerSettings, {"SILOBRIDGE_COMPUTE_BACKEND": "spark"})


def test_guarded_recv_gets_late_values_and_stops_on_cancel() -> None:
    hub = LocalHub()
    sender, receiver = hub.federation(1), GuardedFederation(hub.federation(2), poll_s=0.05)
    threading.Timer(0.2, lambda: sender.send(2, "guest", "x", "t", b"late")).start()
    assert receiver.recv(1, "x", "t", timeout=5) == b"late"  # arrives after several slices
    with pytest.raises(RequestTimeout, match="in 0s"):
        receiver.recv(1, "never", "t", timeout=0.2)
    threading.Timer(0.1, lambda: receiver.cancel("task cancelled: stop")).start()
    start = time.monotonic()
    with pytest.raises(TaskCancelled, match="stop"):
        receiver.recv(1, "never", "t", timeout=60)
    assert time.monotonic() - start < 1.0
    with pytest.raises(TaskCancelled):
        receiver.send(1, "guest", "y", "t", b"")

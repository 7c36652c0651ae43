"""What a node-manager asks Ray for, and what a rendered `ray start` command line says."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from node_manager import service as nm_service
from node_manager.settings import NodeManagerSettings
from silobridge.config import load_settings


def requested_ray_resource(
    settings: NodeManagerSettings, monkeypatch: pytest.MonkeyPatch
) -> dict[str, float]:
    """What the node-manager's own code asks Ray for (its compute backend's resources)."""
    seen: dict[str, Any] = {}
    monkeypatch.setattr(nm_service, "create_compute", lambda name, **kw: seen.update(name=name, **kw))
    nm_service.NodeManagerService._make_compute(SimpleNamespace(settings=settings, node_id=settings.node_id))  # type: ignore[arg-type]
    assert seen["name"] == "ray" and seen["address"] == settings.ray_address
    return dict(seen["resources"])


def node_advertises_what_it_requests(
    manager_env: dict[str, str], node_argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[NodeManagerSettings, dict[str, str]]:
    """Assert that the Ray node started by ``node_argv`` advertises every resource the node-manager
    started with ``manager_env`` asks for; its settings and the node's flags for further checks."""
    settings = load_settings(NodeManagerSettings, manager_env)
    wanted = requested_ray_resource(settings, monkeypatch)
    flags = ray_flags(node_argv)
    advertised = json.loads(flags["--resources"])
    assert wanted and all(advertised.get(k, 0) >= v for k, v in wanted.items()), (advertised, wanted)
    return settings, flags


@functools.cache
def ray_start_help() -> str:
    ray = Path(sys.executable).with_name("ray")
    proc = subprocess.run([str(ray), "start", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def ray_flags(argv: list[str]) -> dict[str, str]:
    assert argv[:2] == ["ray", "start"], argv
    flags = {}
    for word in argv[2:]:
        name, _, value = word.partition("=")
        assert name in ray_start_help(), f"ray start has no option {name}"
        flags[name] = value
    return flags

"""Load and validate a ``cluster.yaml``; the JSON Schema beside this module is the one source of truth.

Defaults live only in the schema (``default`` keywords): :func:`apply_defaults` fills them in, and
:class:`ClusterSpec` is a typed, read-only view of the filled document for the renderers.
Errors name the offending path (``routes.10000.port: 70000 is greater than ...``).
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, cast

import jsonschema  # type: ignore[import-untyped]  # (types-jsonschema not in the dev deps)
import yaml

from silobridge.errors import InvalidInput

SCHEMA_RESOURCE = "cluster.schema.json"
MAX_FILE_BYTES = 1024 * 1024
SERVICE_KEYS = ("router", "cluster_manager", "node_manager", "flow", "serving")


@functools.cache
def cluster_schema() -> dict[str, Any]:
    """The cluster.yaml JSON Schema (draft 2020-12), shipped as package data."""
    text = resources.files(__package__).joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    return cast(dict[str, Any], json.loads(text))


def _path_str(parts: Any) -> str:
    return ".".join(str(p) for p in parts) or "(top level)"


def _normalise_keys(value: Any, path: tuple[Any, ...] = ()) -> Any:
    """YAML reads ``10000:`` as an int key: make keys strings, reject other key types by path."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, str | int):
                raise InvalidInput(f"{_path_str(path)}: key {key!r} must be a string or a party id")
            out[str(key)] = _normalise_keys(item, (*path, key))
        return out
    if isinstance(value, list):
        return [_normalise_keys(item, (*path, i)) for i, item in enumerate(value)]
    return value


def schema_errors(doc: Any, schema: Mapping[str, Any] | None = None) -> list[str]:
    """Every violation of the schema as ``path: message``, sorted by path."""
    validator = jsonschema.Draft202012Validator(schema or cluster_schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{_path_str(e.absolute_path)}: {e.message}" for e in errors]


def resolve_ref(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """Merge a local ``$ref`` (``#/$defs/x``) with its sibling keywords."""
    node = dict(schema)
    while "$ref" in node:
        ref = node.pop("$ref")
        target: Any = root
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **node}
    return node


def apply_defaults(doc: Any, schema: Mapping[str, Any] | None = None) -> Any:
    """Return a copy of ``doc`` with every schema ``default`` filled in, recursively."""
    root = schema or cluster_schema()

    def fill(value: Any, node: Mapping[str, Any]) -> Any:
        node = resolve_ref(node, root)
        if not isinstance(value, dict):
            return value
        out = dict(value)
        for name, sub in node.get("properties", {}).items():
            sub_resolved = resolve_ref(sub, root)
            if name not in out and "default" in sub_resolved:
                out[name] = copy.deepcopy(sub_resolved["default"])
            if name in out:
                out[name] = fill(out[name], sub_resolved)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            known = node.get("properties", {})
            for name in out:
                if name not in known:
                    out[name] = fill(out[name], extra)
        return out

    return fill(doc, root)


# ---- typed view ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    party: int = 0  # the default route only: party id in the certificate at this endpoint


@dataclass(frozen=True)
class ClusterSpec:
    """A validated cluster.yaml with defaults applied; ``raw`` keeps the filled document."""

    raw: dict[str, Any]
    base_dir: Path

    @property
    def party_id(self) -> int:
        return int(self.raw["party"]["id"])

    @property
    def name(self) -> str:
        return str(self.raw["party"].get("name") or f"party-{self.party_id}")

    @property
    def bus_url(self) -> str:
        """Empty when the URL is only in a Kubernetes Secret (``bus.existing_secret``)."""
        return str(self.raw["bus"].get("url", ""))

    @property
    def bus_secret(self) -> tuple[str, str] | None:
        """(Secret name, key) holding the bus URL, for Kubernetes; None: the URL is in cluster.yaml."""
        return _secret_ref(self.raw["bus"], "bus-url")

    @property
    def db_secret(self) -> tuple[str, str] | None:
        return _secret_ref(self.raw["database"], "db-url")

    @property
    def bus_prefix(self) -> str:
        return str(self.raw["bus"]["prefix"] or f"p{self.party_id}")

    @property
    def db_url(self) -> str:
        return str(self.raw["database"]["url"])

    @property
    def pki_dir(self) -> Path:
        return self.base_dir / str(self.raw["pki"]["dir"])

    @property
    def pki_secret(self) -> str:
        return str(self.raw["pki"]["secret"] or f"silobridge-party-{self.party_id}-tls")

    @property
    def data_dir(self) -> Path:
        return self.base_dir / str(self.raw["data_dir"] or f".silobridge/party-{self.party_id}")

    @property
    def routes(self) -> dict[int, Endpoint]:
        """Numbered routes: peer party id -> its router."""
        return {
            int(k): Endpoint(str(v["host"]), int(v["port"]))
            for k, v in self.raw["routes"].items()
            if k != "default"
        }

    @property
    def default_route(self) -> Endpoint | None:
        raw = self.raw["routes"].get("default")
        if raw is None:
            return None
        return Endpoint(str(raw["host"]), int(raw["port"]), int(raw.get("party", 0)))

    def section(self, name: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.raw[name])

    def env_only(self, key: str) -> dict[str, str]:
        """``env.<key>`` (``all`` or a service), values as strings (booleans as true/false)."""
        return {k: _env_value(v) for k, v in self.raw["env"].get(key, {}).items()}

    def env_extra(self, service: str) -> dict[str, str]:
        """``env.all`` merged with ``env.<service>``: what one service's process gets on top."""
        return self.env_only("all") | self.env_only(service)


def _secret_ref(section: Mapping[str, Any], default_key: str) -> tuple[str, str] | None:
    ref = section.get("existing_secret")
    return (str(ref["name"]), str(ref.get("key") or default_key)) if ref else None


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _semantic_errors(doc: Mapping[str, Any]) -> list[str]:
    """Rules JSON Schema cannot say (or cannot say clearly)."""
    problems = []
    if not doc["bus"].get("url") and not doc["bus"].get("existing_secret"):
        problems.append("bus: set url, or existing_secret (a Kubernetes Secret holding the URL)")
    party = str(doc["party"]["id"])
    if party in doc["routes"]:
        problems.append(f"routes.{party}: a party does not route to itself (party.id is {party})")
    if doc["nodes"]["compute"] == "ray" and not doc["ray"]["address"] and not doc["ray"]["head"]:
        problems.append(
            "ray: nodes.compute is ray: set ray.address (an existing Ray cluster) or ray.head: true"
        )
    if doc["ray"]["address"] and doc["ray"]["head"]:
        problems.append(
            "ray: set either ray.address (join a cluster) or ray.head: true (start one), not both"
        )
    return problems


def parse_cluster(doc: Any, *, base_dir: Path = Path("."), source: str = "cluster.yaml") -> ClusterSpec:
    """Validate a loaded document; raise InvalidInput listing every problem by path."""
    doc = _normalise_keys(doc)
    if not isinstance(doc, dict):
        raise InvalidInput(f"{source}: expected a mapping at the top level, got {type(doc).__name__}")
    problems = schema_errors(doc)
    if not problems:
        doc = apply_defaults(doc)
        problems = _semantic_errors(doc)
    if problems:
        raise InvalidInput(f"{source} is invalid:\n  " + "\n  ".join(problems))
    return ClusterSpec(raw=doc, base_dir=base_dir)


# Ports this party listens on, as (section, field); the Ray port only where the Ray head runs
# here. Peers' ports (``routes``) are other parties' and never shifted.
LISTEN_PORTS = (
    ("router", "port"),
    ("router", "http_port"),
    ("cluster_manager", "http_port"),
    ("nodes", "http_port"),
    ("flow", "port"),
    ("serving", "port"),
    ("ray", "port"),
)


def with_port_offset(spec: ClusterSpec, offset: int) -> ClusterSpec:
    """``spec`` with every port this party listens on moved by ``offset`` (``--port-offset``), so
    that several parties (or several users' copies of one) share a host. Port 0 ("pick a free
    one") stays 0. Refuses, naming each port, an offset that moves one outside 1..65535."""
    if offset == 0:
        return spec
    raw = copy.deepcopy(spec.raw)
    problems = []
    for section, field in LISTEN_PORTS:
        if section == "ray" and not raw["ray"]["head"]:
            continue
        port = int(raw[section][field])
        if port == 0:
            continue
        # outside Kubernetes node-manager i listens on nodes.http_port + i: the last one must fit too
        last = int(raw["nodes"]["replicas"]) - 1 if section == "nodes" else 0
        if port + offset < 1:
            problems.append(f"{section}.{field} {port} would be {port + offset}")
        elif port + last + offset > 65535:
            node = f" (node-manager-{last} at {port + last})" if last else ""
            problems.append(f"{section}.{field} {port}{node} would be {port + last + offset}")
        raw[section][field] = port + offset
    if problems:
        raise InvalidInput(f"--port-offset {offset} moves ports outside 1..65535: " + "; ".join(problems))
    return ClusterSpec(raw=raw, base_dir=spec.base_dir)


def load_cluster(path: Path) -> ClusterSpec:
    """Read, parse (yaml.safe_load) and validate a cluster.yaml file; paths in it are relative to it."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    if size > MAX_FILE_BYTES:
        raise InvalidInput(f"{path}: {size} bytes is too large for a cluster.yaml (limit {MAX_FILE_BYTES})")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path}: not valid YAML: {exc}") from None
    return parse_cluster(doc, base_dir=path.parent, source=str(path))

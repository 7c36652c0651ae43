"""The route table: where each peer party's router is, and who may send to this party.

A local YAML file, read with ``yaml.safe_load``::

    self: 9999
    routes:
      10000: {host: 10.0.0.2, port: 9370}
      10001: {host: party-10001.example.org, port: 9370}
    default: {host: hub.example.org, port: 9370, party: 10000}   # optional
    allow: [10000, 10001]                                       # optional, default: every party in routes

``default.party`` is the party id in the certificate of the router at the default endpoint
(the TLS name the client pins); without it the destination party's name is pinned.
``allow`` is the inbound ACL: envelopes from a peer whose certificate names a party not in it are
refused. A bad file raises :class:`RouteTableError` naming the file, key and line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from silobridge.config import SettingsError
from silobridge.pki import party_name

_TOP_KEYS = {"self", "routes", "default", "allow"}
_ENDPOINT_KEYS = {"host", "port"}


class RouteTableError(SettingsError):
    """A route table that cannot be used; the message names the file, the key and the line."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    #: The party id whose certificate the router at this endpoint must present.
    party: int

    @property
    def target(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def server_name(self) -> str:
        return party_name(self.party)


@dataclass(frozen=True)
class RouteTable:
    self_party: int
    routes: Mapping[int, Endpoint] = field(default_factory=dict)
    default: Endpoint | None = None
    allow: frozenset[int] = frozenset()

    def endpoint_for(self, party: int) -> Endpoint | None:
        """The endpoint that carries messages to ``party``, or None when there is no route."""
        if party in self.routes:
            return self.routes[party]
        if self.default is not None:
            return Endpoint(self.default.host, self.default.port, self.default.party or party)
        return None

    def allows(self, party: int) -> bool:
        return party in self.allow

    @classmethod
    def build(
        cls,
        self_party: int,
        routes: Mapping[int, tuple[str, int]],
        *,
        default: tuple[str, int] | None = None,
        allow: Iterable[int] | None = None,
    ) -> RouteTable:
        """Programmatic table (single-process party, tests): ``{party: (host, port)}``."""
        eps = {int(p): Endpoint(h, int(port), int(p)) for p, (h, port) in routes.items()}
        dflt = Endpoint(default[0], int(default[1]), 0) if default else None
        return cls(self_party, eps, dflt, frozenset(allow if allow is not None else eps))


def load_route_table(path: Path, expected_self: int | None = None) -> RouteTable:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RouteTableError(f"route table {path}: cannot read ({exc.strerror})") from None
    return parse_route_table(text, source=str(path), expected_self=expected_self)


def parse_route_table(
    text: str, *, source: str = "<route table>", expected_self: int | None = None
) -> RouteTable:
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise RouteTableError(
            f"route table {source}:{where} not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    parser = _Parser(source, root)
    if not isinstance(data, dict):
        raise parser.error((), "must be a mapping with keys self, routes, default, allow")
    unknown = sorted(str(k) for k in data if k not in _TOP_KEYS)
    if unknown:
        raise parser.error((unknown[0],), f"unknown key (expected one of {sorted(_TOP_KEYS)})")
    if "self" not in data:
        raise parser.error((), "missing key 'self' (this party's id)")
    self_party = parser.party_id(data["self"], ("self",))
    if expected_self is not None and self_party != expected_self:
        raise parser.error(("self",), f"is {self_party} but this router is party {expected_self}")
    raw_routes = data.get("routes") or {}
    if not isinstance(raw_routes, dict):
        raise parser.error(("routes",), "must be a mapping of party id -> {host, port}")
    routes: dict[int, Endpoint] = {}
    for key, value in raw_routes.items():
        pid = parser.party_id(key, ("routes", key), what="party id key")
        if pid == self_party:
            raise parser.error(("routes", key), "a route to this party itself")
        host, port = parser.endpoint(value, ("routes", key), _ENDPOINT_KEYS)
        routes[pid] = Endpoint(host, port, pid)
    default: Endpoint | None = None
    if data.get("default") is not None:
        raw = data["default"]
        host, port = parser.endpoint(raw, ("default",), _ENDPOINT_KEYS | {"party"})
        party = parser.party_id(raw["party"], ("default", "party")) if "party" in raw else 0
        default = Endpoint(host, port, party)
    if data.get("allow") is None:
        allow = frozenset(routes)
    else:
        raw_allow = data["allow"]
        if not isinstance(raw_allow, list):
            raise parser.error(("allow",), "must be a list of party ids")
        allow = frozenset(parser.party_id(v, ("allow", i)) for i, v in enumerate(raw_allow))
    return RouteTable(self_party, routes, default, allow)


class _Parser:
    """Validation helpers that know where each key sits in the file."""

    def __init__(self, source: str, root: yaml.Node | None) -> None:
        self.source, self.root = source, root

    def error(self, path: tuple[Any, ...], problem: str) -> RouteTableError:
        key = ".".join(str(p) for p in path) or "(top level)"
        line = self._line(path)
        where = f" line {line}" if line else ""
        return RouteTableError(f"route table {self.source}:{where} {key}: {problem}")

    def party_id(self, value: object, path: tuple[Any, ...], what: str = "party id") -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(path, f"{what} must be a positive integer, got {value!r}")
        return value

    def endpoint(self, value: object, path: tuple[Any, ...], allowed: set[str]) -> tuple[str, int]:
        if not isinstance(value, dict):
            raise self.error(path, "must be a mapping {host: ..., port: ...}")
        extra = sorted(str(k) for k in value if k not in allowed)
        if extra:
            raise self.error((*path, extra[0]), f"unknown key (expected {sorted(allowed)})")
        host = value.get("host")
        if not isinstance(host, str) or not host.strip():
            raise self.error((*path, "host"), "missing or empty host")
        port = value.get("port")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise self.error((*path, "port"), f"port must be an integer 1..65535, got {port!r}")
        return host.strip(), port

    def _line(self, path: tuple[Any, ...]) -> int | None:
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for step in path:
            if isinstance(node, yaml.MappingNode):
                found = None
                for k, v in node.value:
                    if str(k.value) == str(step):
                        found = (k, v)
                        break
                if found is None:
                    return line
                line = found[0].start_mark.line + 1
                node = found[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
                node = node.value[step]
                line = node.start_mark.line + 1
            else:
                return line
        return line

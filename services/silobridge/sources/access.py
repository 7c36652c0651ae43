"""Which sources a party allows binding, and the secrets of those it does.

Default deny: a node-manager binds nothing until its ``bind_allow`` lists the source. An entry is
a directory (files under it, after resolving symlinks) or a database URL without a password
(``postgresql://host:5432/db``; scheme, host, port and database must match, and the user too when
the entry names one).

A password is never part of a binding. It is a reference resolved here, when a source is opened:
``env:NAME`` (an environment variable of the node-manager) or ``file:/path`` (e.g. a mounted
Kubernetes Secret). Only the reference is stored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from silobridge.errors import InvalidInput, PermissionDenied
from silobridge.sources.base import FILE_KINDS, SQL_KINDS

MAX_SECRET_BYTES = 4096
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_SCHEMES = {"postgresql": ("postgresql", "postgres"), "mysql": ("mysql", "mariadb")}
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}


def check_secret_ref(ref: str) -> str:
    if ref and not (
        (ref.startswith("env:") and _ENV_NAME.match(ref[4:]))
        or (ref.startswith("file:/") and len(ref) < 1024)
    ):
        raise InvalidInput("a secret reference is env:NAME or file:/absolute/path, never the secret itself")
    return ref


def resolve_secret(ref: str, environ: Mapping[str, str]) -> str:
    """The secret a reference names; the error names the reference, never a value."""
    if not check_secret_ref(ref):
        return ""
    if ref.startswith("env:"):
        value = environ.get(ref[4:])
        if value is None:
            raise InvalidInput(f"secret {ref}: the node-manager has no such environment variable")
        return value
    path = Path(ref[5:])
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(f"secret {ref}: cannot read it ({exc.strerror})") from None
    if len(data) > MAX_SECRET_BYTES:
        raise InvalidInput(f"secret {ref} is over {MAX_SECRET_BYTES} bytes")
    return data.decode("utf-8", errors="strict").strip()


def parse_dsn(kind: str, location: str) -> SplitResult:
    """A database URL of the kind; refuses one that carries a password (it would be stored)."""
    try:
        url = urlsplit(location)
        port = url.port
    except ValueError:
        raise InvalidInput(f"{kind} source: {location[:80]!r} is not a database URL") from None
    if url.scheme not in _SCHEMES[kind] or not url.hostname or not url.path.strip("/"):
        raise InvalidInput(f"{kind} source: expected {_SCHEMES[kind][0]}://[user@]host[:port]/database")
    if url.password is not None:
        raise InvalidInput(
            f"{kind} source: the URL carries a password, which would be stored in plain text; "
            "pass it as a secret reference (env:NAME or file:/path) instead"
        )
    if url.query or url.fragment:
        raise InvalidInput(f"{kind} source: no query string or fragment in the database URL")
    del port
    return url


def _same_db(kind: str, url: SplitResult, entry: str) -> bool:
    allowed = urlsplit(entry)
    if allowed.scheme not in _SCHEMES[kind]:
        return False
    default = _DEFAULT_PORTS[kind]
    return (
        (allowed.hostname or "") == (url.hostname or "")
        and (allowed.port or default) == (url.port or default)
        and allowed.path.strip("/") == url.path.strip("/")
        and (not allowed.username or allowed.username == url.username)
    )


def check_allowed(kind: str, location: str, allow: list[str]) -> str:
    """The location, normalised (a real path for files), if ``allow`` lists it; else refused."""
    if kind in FILE_KINDS:
        if not location.startswith("/"):
            raise InvalidInput(f"{kind} source: {location!r} is not an absolute path")
        real = Path(os.path.realpath(location))
        for entry in allow:
            if entry.startswith("/") and real.is_relative_to(os.path.realpath(entry)):
                return str(real)
        raise PermissionDenied(
            f"binding {kind} files at {location} is not allowed at this node-manager "
            "(bind_allow lists no directory containing it)"
        )
    if kind in SQL_KINDS:
        url = parse_dsn(kind, location)
        if any(_same_db(kind, url, e) for e in allow if "://" in e):
            return location
        raise PermissionDenied(
            f"binding {kind} database {url.hostname}:{url.port or _DEFAULT_PORTS[kind]}/{url.path.strip('/')} "
            "is not allowed at this node-manager (bind_allow does not list it)"
        )
    raise InvalidInput(f"unknown source kind {kind!r}")


def check_inside(path: Path, allow: list[str]) -> None:
    """A file found under a bound directory still resolves inside an allowed one (no symlink out)."""
    real = Path(os.path.realpath(path))
    if not any(e.startswith("/") and real.is_relative_to(os.path.realpath(e)) for e in allow):
        raise PermissionDenied(f"{path.name} in the bound directory resolves outside the allowed directories")

"""Open the source of a binding: allow-list first, then the secret, then the driver."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from silobridge.cluster.v1 import cluster_pb2 as cpb
from silobridge.errors import InvalidInput
from silobridge.sources.access import check_allowed, check_secret_ref, resolve_secret
from silobridge.sources.base import FILE_KINDS, Source, check_kind


def open_source(
    spec: cpb.TableSource, *, id_column: str, allow: list[str], environ: Mapping[str, str]
) -> Source:
    kind = check_kind(spec.kind)
    location = check_allowed(kind, spec.location, allow)
    check_secret_ref(spec.secret_ref)
    if kind in FILE_KINDS:
        if spec.query or spec.secret_ref:
            raise InvalidInput(f"a {kind} source takes a path only (no query, no secret)")
        from silobridge.sources.files import FileSource

        return FileSource(kind, Path(location), id_column, allow)
    if kind == "postgresql":
        from silobridge.sources.sql import PostgresSource

        return PostgresSource(location, spec.query, id_column, resolve_secret(spec.secret_ref, environ))
    from silobridge.sources.mysql import MySqlSource

    return MySqlSource(location, spec.query, id_column, resolve_secret(spec.secret_ref, environ))

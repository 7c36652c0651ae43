"""Where the CLI, the SDK, the demo and the in-process launchers find a flow's API token.

In order: ``--token``, ``--token-file``, the bootstrap admin token of a flow that this very
process started (``SingleProcessParty``, ``launch``, the demo: remembered by its URL, so that
drivers and tests need no setup), then ``SILOBRIDGE_TOKEN`` and ``SILOBRIDGE_TOKEN_FILE``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from silobridge.errors import InvalidInput

TOKEN_ENV = "SILOBRIDGE_TOKEN"
TOKEN_FILE_ENV = "SILOBRIDGE_TOKEN_FILE"
BOOTSTRAP_FILE = "admin.token"  # flow.auth.BOOTSTRAP_FILE, in flow's data dir

_BY_URL: dict[str, str] = {}
_PARTY_OF: dict[str, int] = {}


def remember(flow_url: str, token: str, party_id: int | None = None) -> None:
    """A flow started by this process, with its admin token."""
    _BY_URL[flow_url.rstrip("/")] = token
    if party_id is not None:
        _PARTY_OF[flow_url.rstrip("/")] = party_id


def forget(flow_url: str) -> None:
    """The flow was stopped."""
    _BY_URL.pop(flow_url.rstrip("/"), None)
    _PARTY_OF.pop(flow_url.rstrip("/"), None)


def remember_bootstrap(flow_url: str, flow_data_dir: Path, party_id: int | None = None) -> str | None:
    """Remember the admin token flow wrote into its data dir on first start, when it is there."""
    path = flow_data_dir / BOOTSTRAP_FILE
    if not path.is_file():
        return None
    token = read_token_file(path)
    remember(flow_url, token, party_id)
    return token


def known_flows() -> dict[str, int]:
    """Flow URL -> party id of every flow this process started (several may share a party id)."""
    return dict(_PARTY_OF)


def read_token_file(path: Path) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise InvalidInput(f"cannot read the token file {path}: {exc.strerror}") from None
    if not token:
        raise InvalidInput(f"the token file {path} is empty")
    return token


def resolve(
    flow_url: str,
    *,
    token: str | None = None,
    token_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    env = os.environ if environ is None else environ
    if token:
        return token
    if token_file is not None:
        return read_token_file(token_file)
    if flow_url.rstrip("/") in _BY_URL:
        return _BY_URL[flow_url.rstrip("/")]
    if env.get(TOKEN_ENV):
        return env[TOKEN_ENV]
    if env.get(TOKEN_FILE_ENV):
        return read_token_file(Path(env[TOKEN_FILE_ENV]))
    return None


def auth_headers(flow_url: str, token: str | None = None) -> dict[str, str]:
    """``Authorization: Bearer ...`` for a flow (empty when no token is known: flow answers 401)."""
    secret = resolve(flow_url, token=token)
    return {"Authorization": f"Bearer {secret}"} if secret else {}

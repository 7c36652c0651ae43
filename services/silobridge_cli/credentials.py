"""The CLI's name for :mod:`silobridge.client.credentials`, which the SDK shares.

The token registry lives in the library so that the SDK (which must not import the CLI) finds
the tokens of flows that the CLI's launchers started in this process.
"""

from silobridge.client.credentials import (
    BOOTSTRAP_FILE,
    TOKEN_ENV,
    TOKEN_FILE_ENV,
    auth_headers,
    forget,
    known_flows,
    read_token_file,
    remember,
    remember_bootstrap,
    resolve,
)

__all__ = [
    "BOOTSTRAP_FILE",
    "TOKEN_ENV",
    "TOKEN_FILE_ENV",
    "auth_headers",
    "forget",
    "known_flows",
    "read_token_file",
    "remember",
    "remember_bootstrap",
    "resolve",
]

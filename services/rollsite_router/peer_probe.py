"""Before a stream to a peer router opens: fetch the certificate it presents, to check revocation.

gRPC's Python client does not expose the server's certificate, so the router makes one TLS
handshake of its own to the same address, with the same CA, client certificate and pinned name
(``party-<id>``), reads the certificate and closes. A peer holding only a revoked certificate
can present nothing else that passes the CA and the pinned name, so what this handshake sees is
what the gRPC channel will see.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path

from silobridge.errors import RetryableError


def split_target(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    return host.strip("[]"), int(port)


async def fetch_server_cert(
    target: str, *, server_name: str, ca: bytes, cert_file: Path, key_file: Path, timeout_s: float
) -> bytes:
    """The DER certificate the router at ``target`` presents under ``server_name``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca.decode())
    ctx.load_cert_chain(str(cert_file), str(key_file))
    ctx.set_alpn_protocols(["h2"])
    host, port = split_target(target)
    try:
        async with asyncio.timeout(timeout_s):
            _reader, writer = await asyncio.open_connection(host, port, ssl=ctx, server_hostname=server_name)
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        raise RetryableError(f"cannot check the certificate of the router at {target}: {exc}") from None
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    if not der:
        raise RetryableError(f"the router at {target} presented no certificate")
    return bytes(der)

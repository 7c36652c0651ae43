"""SilobridgePeer: a partner party's route (and the CA that signs its router's certificate).

The peers of a cluster are read from the API server every time its routes ConfigMap is written,
so the ConfigMap is always cluster.yaml's routes plus the peers that exist and are valid; removing
a peer CR (its finalizer) rewrites it without that party. A peer whose CA certificate does not
parse is left out and says why in its status.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509

from silobridge_operator.context import API_VERSION, OperatorContext

PEER_KIND = "SilobridgePeer"
MAX_CA_PEM_BYTES = 16 * 1024


def peer_problem(spec: dict[str, Any], own_party: int | None = None) -> str | None:
    """Why this peer cannot be used, or None."""
    party = spec.get("partyId")
    if not isinstance(party, int) or party < 1:
        return f"partyId: {party!r} is not a party id"
    if own_party is not None and party == own_party:
        return f"partyId: {party} is this party itself"
    pem = (spec.get("trust") or {}).get("caCert")
    if pem:
        if len(pem.encode()) > MAX_CA_PEM_BYTES:
            return f"trust.caCert: {len(pem.encode())} bytes is over the limit of {MAX_CA_PEM_BYTES}"
        try:
            certs = x509.load_pem_x509_certificates(pem.encode())
        except ValueError as exc:
            return f"trust.caCert: not a PEM certificate ({exc})"
        for cert in certs:
            try:
                is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
            except x509.ExtensionNotFound:
                is_ca = False
            if not is_ca:
                return f"trust.caCert: {cert.subject.rfc4514_string()} is not a CA certificate"
    return None


def belongs_to(peer: dict[str, Any], cluster: str, only_cluster: bool) -> bool:
    ref = ((peer.get("spec") or {}).get("clusterRef") or {}).get("name")
    return ref == cluster if ref else only_cluster


async def peers_of(
    ctx: OperatorContext, namespace: str, cluster: str, own_party: int | None = None
) -> list[dict[str, Any]]:
    """The valid, not-being-deleted SilobridgePeers of ``cluster``, by party id."""
    clusters = await ctx.kube.list(API_VERSION, "SilobridgeCluster", namespace)
    only = len(clusters) == 1
    out = [
        p
        for p in await ctx.kube.list(API_VERSION, PEER_KIND, namespace)
        if belongs_to(p, cluster, only)
        and not p["metadata"].get("deletionTimestamp")
        and peer_problem(p.get("spec") or {}, own_party) is None
    ]
    return sorted(out, key=lambda p: int(p["spec"]["partyId"]))


def trust_bundle(peers: list[dict[str, Any]]) -> str:
    pems = [
        str(p["spec"]["trust"]["caCert"]).strip() + "\n"
        for p in peers
        if (p["spec"].get("trust") or {}).get("caCert")
    ]
    return "".join(pems)

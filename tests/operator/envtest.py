"""A real control plane for the operator tests, as kubebuilder's envtest starts one: etcd and
kube-apiserver on loopback, a self-signed serving certificate, a static admin token, service
account keys, and nothing else: no kubelet, no controller-manager, no scheduler. Objects,
validation, defaulting, pruning, owner references, finalizers and status subresources are the
API server's own; pods never run, Deployments get no status and garbage collection does not
happen (that is kube-controller-manager's work), so the tests play those parts where they must.

``deploy/operator/envtest/setup.sh`` installs etcd and builds kube-apiserver once (cached outside
the repository); when that cannot be done the tests are skipped, naming the reason.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import secrets
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[2]
SETUP = REPO / "deploy" / "operator" / "envtest" / "setup.sh"
CRDS = REPO / "deploy" / "operator" / "crds"


class Unavailable(Exception):
    """The control plane cannot be had on this machine (the message says why)."""


def kube_apiserver_binary() -> Path:
    proc = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise Unavailable(f"{SETUP.name} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_serving_cert(directory: Path) -> Path:
    """A self-signed CA and a serving certificate for 127.0.0.1/localhost signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "envtest-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.crt").write_bytes(ca.public_bytes(pem))
    (directory / "apiserver.crt").write_bytes(cert.public_bytes(pem))
    (directory / "apiserver.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (directory / "sa.key").write_bytes(
        sa.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (directory / "sa.pub").write_bytes(
        sa.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return directory / "ca.crt"


@dataclass
class ControlPlane:
    server: str
    token: str
    ca_file: Path
    kubeconfig: Path

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server,
            headers={"Authorization": f"Bearer {self.token}"},
            verify=ssl.create_default_context(cafile=str(self.ca_file)),
            timeout=30,
        )


def _wait_healthy(client: httpx.Client, procs: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    deadline = time.monotonic() + 180
    last = ""
    while time.monotonic() < deadline:
        for proc, log in zip(procs, logs, strict=True):
            if proc.poll() is not None:
                raise Unavailable(f"{log.stem} exited {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            resp = client.get("/readyz")
            if resp.status_code == 200:
                return
            last = resp.text[-500:]
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.5)
    raise Unavailable(f"kube-apiserver not ready in 180 s: {last}")


@contextlib.contextmanager
def control_plane(root: Path) -> Iterator[ControlPlane]:
    if shutil.which("etcd") is None and not SETUP.exists():
        raise Unavailable("etcd is not installed")
    apiserver = kube_apiserver_binary()
    root.mkdir(parents=True, exist_ok=True)
    certs = root / "certs"
    certs.mkdir(exist_ok=True)
    ca_file = _write_serving_cert(certs)
    token = secrets.token_hex(24)
    (root / "tokens.csv").write_text(f'{token},envtest-admin,envtest-admin,"system:masters"\n')
    etcd_port, etcd_peer, api_port = free_port(), free_port(), free_port()
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    etcd_log, api_log = root / "etcd.log", root / "kube-apiserver.log"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            subprocess.Popen(
                [
                    "etcd",
                    f"--data-dir={root / 'etcd'}",
                    f"--listen-client-urls={etcd_url}",
                    f"--advertise-client-urls={etcd_url}",
                    f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                    f"--initial-cluster=default=http://127.0.0.1:{etcd_peer}",
                ],
                stdout=etcd_log.open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
        procs.append(
            subprocess.Popen(
                [
                    str(apiserver),
                    f"--etcd-servers={etcd_url}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--secure-port={api_port}",
                    f"--cert-dir={certs}",
                    f"--tls-cert-file={certs / 'apiserver.crt'}",
                    f"--tls-private-key-file={certs / 'apiserver.key'}",
                    f"--token-auth-file={root / 'tokens.csv'}",
                    "--authorization-mode=RBAC",
                    "--service-cluster-ip-range=10.0.0.0/24",
                    "--allow-privileged=true",
                    "--disable-admission-plugins=ServiceAccount",
                    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                    f"--service-account-key-file={certs / 'sa.pub'}",
                    f"--service-account-signing-key-file={certs / 'sa.key'}",
                    "--enable-priority-and-fairness=false",
                ],
                stdout=api_log.open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
        plane = ControlPlane(f"https://127.0.0.1:{api_port}", token, ca_file, root / "kubeconfig")
        plane.kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {
                            "name": "envtest",
                            "cluster": {"server": plane.server, "certificate-authority": str(ca_file)},
                        }
                    ],
                    "users": [{"name": "admin", "user": {"token": token}}],
                    "contexts": [{"name": "envtest", "context": {"cluster": "envtest", "user": "admin"}}],
                    "current-context": "envtest",
                }
            )
        )
        with plane.client() as client:
            _wait_healthy(client, procs, [etcd_log, api_log])
        yield plane
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

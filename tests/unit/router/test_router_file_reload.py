"""What a running router takes again from disk: a changed file is noticed once, a touch is no
change, a half-written certificate rotation is refused and the material in force stays."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from rollsite_router.filewatch import FileWatch
from rollsite_router.metrics import RouterMetrics
from rollsite_router.reload import Reloader, Source, describe_change
from rollsite_router.routes import RouteTable
from rollsite_router.tls import TlsFiles, load_tls
from silobridge import pki
from silobridge.config import SettingsError
from silobridge.errors import InvalidInput

A, B = 9999, 10000


def _touch_later(path: Path, seconds: int = 1) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    d = tmp_path / "pki"
    pki.ensure_pki(d, [A, B])
    return d


def _tls_files(ca: Path) -> TlsFiles:
    files = pki.party_files(ca, A)
    return TlsFiles(pki.ca_files(ca).cert, files.cert, files.key, party_id=A)


def _serial(pem: bytes) -> int:
    return pki.peer_certificate(pem).serial


def test_a_change_is_reported_once_and_a_touch_or_same_bytes_is_none(tmp_path: Path) -> None:
    f = tmp_path / "routes.yaml"
    f.write_text("self: 1\n")
    watch = FileWatch([f])
    assert not watch.changed()
    _touch_later(f)
    assert not watch.changed()  # newer mtime, same bytes
    f.write_text("self: 1\n")
    _touch_later(f, 2)
    assert not watch.changed()
    f.write_text("self: 1\nroutes: {}\n")
    _touch_later(f, 3)
    assert watch.changed()
    assert not watch.changed()  # told once
    f.unlink()
    assert watch.changed()  # gone is a change too (the caller refuses it)
    assert not watch.changed()


def test_a_replaced_symlink_target_is_a_change(tmp_path: Path) -> None:
    """How a Kubernetes ConfigMap volume updates: the path's symlink moves to a new file."""
    (tmp_path / "v1").write_text("self: 1\n")
    (tmp_path / "v2").write_text("self: 1\nroutes: {2: {host: a, port: 1}}\n")
    link = tmp_path / "routes.yaml"
    link.symlink_to(tmp_path / "v1")
    watch = FileWatch([link])
    tmp = tmp_path / "next"
    tmp.symlink_to(tmp_path / "v2")
    tmp.replace(link)
    assert watch.changed()


def test_a_rotated_certificate_is_taken_and_a_half_written_one_refused(ca: Path) -> None:
    tls = _tls_files(ca)
    before = tls.material
    assert not tls.changed() and not tls.reload()

    files = pki.party_files(ca, A)
    saved_cert = files.cert.read_bytes()
    pki.issue_party_cert(ca, A)  # new key and certificate
    rotated_cert, rotated_key = files.cert.read_bytes(), files.key.read_bytes()
    files.cert.write_bytes(saved_cert)  # as if caught between writing the key and the certificate
    assert tls.changed()
    with pytest.raises(SettingsError, match="does not belong to the certificate"):
        tls.reload()
    assert tls.material is before  # nothing changed

    files.cert.write_bytes(rotated_cert)
    assert tls.changed()
    assert tls.reload()
    assert tls.material.key == rotated_key
    assert _serial(tls.material.cert) != _serial(before.cert)


def test_a_certificate_of_another_party_or_another_ca_is_refused(ca: Path, tmp_path: Path) -> None:
    files = pki.party_files(ca, A)
    other = pki.party_files(ca, B)
    with pytest.raises(SettingsError, match=f"identifies party {B}"):
        load_tls(pki.ca_files(ca).cert, other.cert, other.key, party_id=A)

    foreign = tmp_path / "foreign"
    pki.ensure_pki(foreign, [A])
    with pytest.raises(SettingsError, match="not issued by a CA in"):
        load_tls(
            pki.ca_files(ca).cert,
            pki.party_files(foreign, A).cert,
            pki.party_files(foreign, A).key,
            party_id=A,
        )

    # a CA bundle that holds the issuer among others is fine
    bundle = tmp_path / "bundle.crt"
    bundle.write_bytes(pki.ca_files(foreign).cert.read_bytes() + pki.ca_files(ca).cert.read_bytes())
    assert load_tls(bundle, files.cert, files.key, party_id=A).ca == bundle.read_bytes()


def test_the_reloader_counts_and_keeps_what_is_in_force_when_a_reload_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    metrics = RouterMetrics(registry)
    state = {"table": "old", "changed": False}

    def reload() -> bool:
        if state["next"] == "broken":
            raise InvalidInput("route table routes.yaml: line 3 routes.10000.port: port must be 1..65535")
        state["table"] = state["next"]
        return True

    def changed() -> bool:
        was, state["changed"] = state["changed"], False
        return bool(was)

    reloader = Reloader([Source("routes", changed, reload)], metrics.reloads)

    def count(outcome: str) -> float:
        return (
            registry.get_sample_value(
                "silobridge_router_reloads_total", {"source": "routes", "outcome": outcome}
            )
            or 0
        )

    reloader.poll()  # nothing changed: nothing read, nothing counted
    assert count("ok") == count("failed") == 0

    state.update(changed=True, next="broken")
    with caplog.at_level(logging.ERROR):
        reloader.poll()
    assert state["table"] == "old" and count("failed") == 1
    assert "routes reload refused, keeping the configuration in force" in caplog.text
    assert "routes.10000.port" in caplog.text

    state.update(changed=False, next="new")
    reloader.reload_all()  # SIGHUP: read although the watch saw nothing
    assert state["table"] == "new" and count("ok") == 1


def test_the_reload_log_names_what_changed() -> None:
    old = RouteTable.build(A, {B: ("10.0.0.2", 9370), 10001: ("10.0.0.3", 9370)})
    new = RouteTable.build(A, {B: ("10.0.0.9", 9370), 10002: ("10.0.0.4", 9370)})
    assert (
        describe_change(old, new) == "2 routes; added 10002; removed 10001; moved 10000; allow list changed"
    )


def test_tls_files_start_fails_on_a_missing_key(ca: Path, tmp_path: Path) -> None:
    d = tmp_path / "copy"
    shutil.copytree(ca, d)
    pki.party_files(d, A).key.unlink()
    with pytest.raises(SettingsError, match=r"private key .*cannot read"):
        _tls_files(d)

"""Live membership at single-process parties: a fourth party joins a running three-party
deployment with ``silobridge peer add``, nothing is restarted, a job between the newcomer and an
old party succeeds, and a job that was already training goes on over its open streams."""

from __future__ import annotations

from typing import Any

import pytest
from jobs import job_detail, submit, submit_and_wait, task_summary, vertical_job, wait, wait_until
from parties import ROLES, InProcessParties

from rollsite_router.service import RouterService
from silobridge import pki
from silobridge_cli import demo_data
from silobridge_cli.demo import free_port, upload
from silobridge_cli.main import main as silobridge
from silobridge_cli.party import PartyConfig, SingleProcessParty

pytestmark = [pytest.mark.slow]

NEW = 10002
GUEST = ROLES["guest"]
ROUTER = "rollsite-router"


def _router(p: InProcessParties, pid: int) -> RouterService:
    service = p.parties[pid].services[ROUTER].service
    assert isinstance(service, RouterService)
    return service


def _join(p: InProcessParties) -> SingleProcessParty:
    """The newcomer: its certificate from the federation CA, its own route table, its stack."""
    certs = p.root / "certs"
    pki.ensure_pki(certs, [NEW])
    olds = {pid: party.config.router_port for pid, party in p.parties.items()}
    table = p.root / f"routes-{NEW}.yaml"
    table.write_text(
        f"self: {NEW}\nroutes:\n"
        + "".join(f"  {pid}: {{host: 127.0.0.1, port: {port}}}\n" for pid, port in olds.items())
    )
    config = PartyConfig(
        party_id=NEW,
        data_dir=p.root / f"party-{NEW}",
        cert_dir=certs,
        route_table=table,
        router_port=free_port(),
        flow_port=0,
        compute_workers=2,
    )
    party = SingleProcessParty(config)
    p.parties[NEW] = party  # stopped with the others
    p.run(party.start())
    return party


def _psi_job(guest: int, host: int) -> dict[str, Any]:
    return {
        "initiator": {"role": "guest", "party_id": guest},
        "parties": {"guest": [guest], "host": [host]},
        "timeout_s": 300,
        "components": [
            {
                "name": "reader_0",
                "component": "reader",
                "role_params": {
                    "guest": {"table": "demo.guest", "require_label": True},
                    "host": {"table": "demo.host"},
                },
            },
            {"name": "psi_0", "component": "psi", "inputs": {"data": "reader_0.data"}},
        ],
    }


def test_a_fourth_party_joins_without_restarts_while_a_job_runs(parties: InProcessParties) -> None:
    p, olds = parties, list(parties.parties)
    split = demo_data.split(*demo_data.load("breast_cancer"), 10)
    upload(p.flow("guest"), split.guest_csv, namespace="demo", name="guest", label_column="y")
    upload(p.flow("host"), split.host_csv, namespace="demo", name="host")
    # Long enough to be still training once the newcomer is in every route table (a few seconds):
    # with the native Paillier kernel 10 epochs trained in about 3.6 s, a margin of only about 1.5 s.
    running = submit(p.flow("guest"), vertical_job(epochs=40))
    wait_until(
        lambda: any(
            t["name"] == "hetero_lr_0" and t["state"] == "RUNNING"
            for t in job_detail(p.flow("guest"), running)["tasks"]
        ),
        180,
        "the three-party job to train",
    )
    services = {pid: dict(p.parties[pid].services) for pid in olds}
    streams = {pid: dict(_router(p, pid)._links) for pid in olds}

    newcomer = _join(p)
    upload(newcomer.flow_url, split.host_csv, namespace="demo", name="host")
    for pid in olds:
        table = p.root / f"routes-{pid}.yaml"
        args = ["--route-table", str(table), "--party", str(NEW), "--host", "127.0.0.1"]
        assert silobridge(["peer", "add", *args, "--port", str(newcomer.config.router_port)]) == 0
    for pid in olds:  # the routers' watchers take the new table
        wait_until(lambda pid=pid: _router(p, pid).route_table.endpoint_for(NEW), 30, f"party {pid}'s router")
    assert job_detail(p.flow("guest"), running)["state"] == "RUNNING"

    job = submit_and_wait(p.flow("guest"), _psi_job(GUEST, NEW), timeout_s=180)
    assert job["state"] == "SUCCEEDED", job["message"]
    assert job_detail(newcomer.flow_url, job["job_id"])["state"] == "SUCCEEDED"
    assert task_summary(job, "psi_0")["intersected_rows"] == len(split.common_ids)

    done = wait(p.flow("guest"), running, timeout_s=300)
    assert done["state"] == "SUCCEEDED", done["message"]
    for role in ROLES:
        assert job_detail(p.flow(role), running)["state"] == "SUCCEEDED", role
    for pid in olds:
        # no service was restarted, and every stream the running job used is the one it had
        assert p.parties[pid].services == services[pid]
        links = _router(p, pid)._links
        assert all(links.get(endpoint) is link for endpoint, link in streams[pid].items()), pid

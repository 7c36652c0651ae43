"""``silobridge demo --serve`` (``make demo-serve``): the demo's job, then its model online.

The demo's parties stay up after the job. Each party that holds a half of the trained
``hetero_lr`` model deploys it to its own serving service, as its operator would with
``silobridge model deploy`` (hosts first, with their uploaded table as the online feature table,
then the guest). The driver prints the exact ``curl`` that scores one id at the guest's serving
endpoint, and that id's score from the standard batch ``predict`` component run with the same
parties' models on the same rows, and checks that the two agree to 1e-9. Then it waits for
Ctrl-C (or SIGTERM) and stops the parties.
"""

from __future__ import annotations

import json
import shlex
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from silobridge.errors import InvalidInput, PermanentError
from silobridge.federation import codec
from silobridge.table import Table
from silobridge.testing.runner import run_component
from silobridge_cli import demo_data
from silobridge_cli.credentials import BOOTSTRAP_FILE, auth_headers
from silobridge_cli.demo import DemoParties, demo_split, demo_uploads, fresh_run_dir, run_job

SERVING_NAME = "default"
TOLERANCE = 1e-9


class ServingRows:
    """The rows both parties hold (the ids PSI finds), aligned: the guest's features and label, the
    host's features, the ids in order."""

    def __init__(self, split: demo_data.VerticalSplit) -> None:
        g = Table.from_csv(split.guest_csv, id_column="id", label_column="y")
        h = Table.from_csv(split.host_csv, id_column="id")
        self.ids = sorted(set(map(str, g.ids)) & set(map(str, h.ids)))
        gi = {str(x): k for k, x in enumerate(g.ids)}
        hi = {str(x): k for k, x in enumerate(h.ids)}
        self.guest = g.take([gi[i] for i in self.ids])
        self.host = h.take([hi[i] for i in self.ids])

    def features(self, entity: str) -> dict[str, float]:
        """The guest's features of one id, as its serving endpoint takes them."""
        row = self.guest.features[self.ids.index(entity)]
        return {n: float(v) for n, v in zip(self.guest.feature_names, row, strict=True)}


def party_model(flow_url: str, job_id: str, task: str) -> dict[str, Any]:
    """A party's own model of one task, from its flow, decoded."""
    resp = httpx.get(f"{flow_url}/v1/jobs/{job_id}/models/{task}", headers=auth_headers(flow_url), timeout=30)
    resp.raise_for_status()
    return dict(codec.from_bytes(resp.content))


def batch_predict(
    flows: dict[str, str],
    parties: dict[str, int],
    job_id: str,
    task: str,
    rows: ServingRows,
    component: str = "predict",
) -> dict[str, float]:
    """id -> score of the standard batch ``predict`` (or ``component``, e.g.
    ``hetero_secureboost_predict``) on ``rows``, with each party's model from its flow."""
    guest, host = parties["guest"], parties["host"]
    run = run_component(
        component,
        {"guest": [guest], "host": [host]},
        inputs={guest: {"data": rows.guest}, host: {"data": rows.host}},
        input_models={
            guest: {"model": party_model(flows["guest"], job_id, task)},
            host: {"model": party_model(flows["host"], job_id, task)},
        },
    )
    out = run.result(guest).tables["predictions"]
    return {str(i): float(s) for i, s in zip(out.ids, out.features[:, 0], strict=True)}


def curl_command(serving_url: str, entity: str, features: dict[str, float]) -> str:
    body = json.dumps({"id": entity, "features": features}, separators=(",", ":"))
    return (
        f"curl -s -XPOST {serving_url}/v1/score/{SERVING_NAME} "
        f"-H 'content-type: application/json' -d {shlex.quote(body)}"
    )


def wait_for_signal() -> None:
    """Block until Ctrl-C or SIGTERM."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _model_task(config: dict[str, Any]) -> str:
    tasks = [c["name"] for c in config["job"]["components"] if c["component"] == "hetero_lr"]
    if not tasks or "host" not in config["parties"]:
        raise InvalidInput("demo --serve needs a config whose job trains hetero_lr at a guest and a host")
    return str(tasks[0])


def _deploy(parties: DemoParties, role: str, job_id: str, task: str) -> list[str]:
    """``silobridge model deploy`` at one party, with that party's flow and serving tokens."""
    from silobridge_cli.main import main as cli

    data = parties.run_dir / f"party-{parties.parties[role]}"
    urls = parties.procs[parties.parties[role]].urls
    argv = ["model", "deploy", job_id, task, "--flow", urls["flow"]]
    argv += ["--token-file", str(data / "flow" / BOOTSTRAP_FILE)]
    argv += ["--serving", urls["serving"], "--serving-token-file", str(data / "serving" / BOOTSTRAP_FILE)]
    if role == "host":
        argv += ["--feature-table", "demo.host"]
    if cli(argv) != 0:
        raise PermanentError(f"model deploy at the {role} failed")
    return ["silobridge", *argv]


def run_serving_demo(
    config: dict[str, Any],
    out_dir: Path,
    *,
    compute: str = "local",
    hold: Callable[[dict[str, Any]], None] = lambda _: wait_for_signal(),
) -> dict[str, Any]:
    """Train, deploy at host then guest, print the curl and the batch score, call ``hold`` with the
    summary while the parties are up (default: until Ctrl-C), stop them. ``summary["match"]``: the
    endpoint's score equals the batch predict's to 1e-9."""
    task = _model_task(config)
    run_dir = fresh_run_dir(out_dir)
    split = demo_split(config)
    parties = DemoParties(
        {role: int(pid) for role, pid in config["parties"].items()}, run_dir, compute=compute
    )
    try:
        job_id, _ = run_job(parties, config, out_dir, demo_uploads(split))
        commands = [_deploy(parties, "host", job_id, task), _deploy(parties, "guest", job_id, task)]
        rows = ServingRows(split)
        flows = {role: parties.flow(role) for role in ("guest", "host")}
        expected = batch_predict(flows, parties.parties, job_id, task, rows)
        entity = rows.ids[0]
        serving = parties.procs[parties.parties["guest"]].urls["serving"]
        curl = curl_command(serving, entity, rows.features(entity))
        answer = httpx.post(
            f"{serving}/v1/score/{SERVING_NAME}",
            json={"id": entity, "features": rows.features(entity)},
            timeout=30,
        ).json()
        summary = {
            "job_id": job_id,
            "task": task,
            "id": entity,
            "curl": curl,
            "batch_score": expected[entity],
            "online_score": answer.get("score"),
            "model": answer.get("model"),
            "deploy_commands": [shlex.join(c) for c in commands],
            "serving": {role: parties.procs[pid].urls["serving"] for role, pid in parties.parties.items()},
        }
        online = summary["online_score"]
        summary["match"] = online is not None and abs(float(online) - expected[entity]) <= TOLERANCE
        (out_dir / "serving.json").write_text(json.dumps(summary, indent=2))
        print()
        print(f"model {job_id}/{task} deployed at every party (host first):")
        for c in summary["deploy_commands"]:
            print(f"  {c}")
        print(f"\nscore id {entity} at the guest's serving endpoint:\n  {curl}\n")
        print(f"  batch predict score for {entity} : {expected[entity]!r}")
        print(f"  serving endpoint score         : {online!r}")
        print(f"  equal to 1e-9                  : {'yes' if summary['match'] else 'NO'}")
        print(f"\n(serving.json in {out_dir}/) parties stay up: Ctrl-C stops them")
        hold(summary)
    finally:
        parties.stop()
    return summary

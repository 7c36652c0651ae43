"""``silobridge demo``: three single-process parties on loopback (mTLS) run the main job.

Guest 9999, host 10000 and arbiter 10001 each run as their own OS process
(``silobridge party run``). The driver uploads each party's half of the data to that party's
flow, submits ``reader -> psi -> hetero_lr -> evaluation`` at the guest, shows progress per
epoch, and prints the AUC beside a centralised plaintext scikit-learn baseline on the same
intersected rows. Results go to ``demo-results/``.

The parties are authenticated like any others: the driver uses the admin token each flow wrote
into its data dir on first start, and installs at the host and the arbiter a policy that lets the
guest run exactly the demo job (:func:`silobridge_cli.policies.policy_for_job`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import yaml

from silobridge import pki
from silobridge.errors import InvalidInput, PermanentError, RequestTimeout
from silobridge_cli import demo_data
from silobridge_cli.credentials import auth_headers, forget, remember_bootstrap
from silobridge_cli.policies import initiator_of, install_policy, policy_for_job

FINAL = {"SUCCEEDED", "FAILED", "STOPPED", "REFUSED"}
# Components whose training loss is shown per step, and what a step is.
MODEL_COMPONENTS = {"hetero_lr": "epoch", "hetero_secureboost": "round"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_config(name_or_path: str) -> dict[str, Any]:
    """A demo config by name (``breast_cancer``, ``synthetic``) or path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        try:
            text = resources.files("silobridge_cli.demos").joinpath(f"{name_or_path}.yaml").read_text("utf-8")
        except FileNotFoundError:
            raise InvalidInput(
                f"no demo config {name_or_path!r}: give breast_cancer, synthetic, secureboost, vertical_pipeline, homo_digits "
                "or a .yaml path"
            ) from None
    cfg = yaml.safe_load(text)
    if not isinstance(cfg, dict) or "job" not in cfg or "parties" not in cfg:
        raise InvalidInput(f"demo config {name_or_path!r} needs 'parties' and 'job'")
    return cfg


@dataclass
class PartyProcess:
    party_id: int
    role: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    ready_file: Path
    urls: dict[str, str] = field(default_factory=dict)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class DemoParties:
    """Start one ``silobridge party run`` process per party, with PKI and route tables."""

    def __init__(
        self,
        parties: dict[str, int],
        run_dir: Path,
        *,
        compute: str = "local",
        party_args: tuple[str, ...] = (),
    ) -> None:
        self.parties = parties
        self.run_dir = run_dir
        self.compute = compute
        self.party_args = party_args  # more `silobridge party run` options, e.g. ("--bind-allow", dir)
        self.procs: dict[int, PartyProcess] = {}

    def start(self, timeout_s: float = 120.0) -> None:
        ids = list(self.parties.values())
        cert_dir = self.run_dir / "certs"
        pki.ensure_pki(cert_dir, ids)
        router_ports = {pid: free_port() for pid in ids}
        for role, pid in self.parties.items():
            routes = {
                "self": pid,
                "routes": {
                    other: {"host": "127.0.0.1", "port": router_ports[other]} for other in ids if other != pid
                },
            }
            route_file = self.run_dir / f"routes-{pid}.yaml"
            route_file.write_text(yaml.safe_dump(routes))
            log_path = self.run_dir / f"party-{pid}.log"
            ready = self.run_dir / f"party-{pid}.ready.json"
            cmd = [
                sys.executable, "-m", "silobridge_cli.main", "party", "run",
                "--party", str(pid),
                "--data-dir", str(self.run_dir / f"party-{pid}"),
                "--cert-dir", str(cert_dir),
                "--route-table", str(route_file),
                "--router-port", str(router_ports[pid]),
                "--flow-port", str(free_port()),
                "--compute", self.compute,
                "--ready-file", str(ready),
                *self.party_args,
            ]  # fmt: skip
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            self.procs[pid] = PartyProcess(pid, role, proc, log_path, ready)
        deadline = time.monotonic() + timeout_s
        for p in self.procs.values():
            while not p.ready_file.exists():
                if p.proc.poll() is not None:
                    raise PermanentError(
                        f"party {p.party_id} exited with {p.proc.returncode}:\n{p.log_tail()}"
                    )
                if time.monotonic() > deadline:
                    raise RequestTimeout(f"party {p.party_id} not ready in {timeout_s:.0f}s:\n{p.log_tail()}")
                time.sleep(0.2)
            p.urls = json.loads(p.ready_file.read_text())
            remember_bootstrap(p.urls["flow"], self.run_dir / f"party-{p.party_id}" / "flow", p.party_id)

    def allow(self, job: dict[str, Any]) -> None:
        """Install at every other party a policy that lets the initiator run exactly ``job``."""
        initiator = initiator_of(job, self.parties["guest"])
        for p in self.procs.values():
            if p.party_id != initiator:
                install_policy(p.urls["flow"], policy_for_job(job, p.party_id, initiator))

    def flow(self, role: str) -> str:
        return self.procs[self.parties[role]].urls["flow"]

    def stop(self) -> dict[int, int]:
        for p in self.procs.values():
            if p.urls.get("flow"):
                forget(p.urls["flow"])  # a stopped flow is not a flow this process knows any more
            if p.proc.poll() is None:
                p.proc.send_signal(signal.SIGTERM)
        codes: dict[int, int] = {}
        for p in self.procs.values():
            try:
                codes[p.party_id] = p.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.proc.kill()
                codes[p.party_id] = p.proc.wait()
        return codes


def _check(resp: httpx.Response) -> Any:
    if resp.status_code >= 400:
        try:
            message = resp.json()["error"]["message"]
        except Exception:
            message = resp.text[:300]
        raise PermanentError(f"{resp.request.method} {resp.request.url.path}: {resp.status_code} {message}")
    return resp.json()


def upload(flow_url: str, csv: bytes, *, namespace: str, name: str, label_column: str = "") -> None:
    params = {"namespace": namespace, "name": name, "id_column": "id", "partitions": "2"}
    if label_column:
        params["label_column"] = label_column
    _check(
        httpx.post(
            f"{flow_url}/v1/data/upload",
            params=params,
            content=csv,
            headers=auth_headers(flow_url),
            timeout=300,
        )
    )


def submit_yaml(flow_url: str, job_yaml: str) -> str:
    """Submit a job at ``flow_url``; its id."""
    submitted = _check(
        httpx.post(
            f"{flow_url}/v1/jobs",
            content=job_yaml,
            headers={"content-type": "application/yaml", **auth_headers(flow_url)},
            timeout=60,
        )
    )
    return str(submitted["job_id"])


def follow_job(flow_url: str, job_id: str, timeout_s: float, out: Any = print) -> dict[str, Any]:
    """Poll the job at the initiator; print task state changes and the loss per epoch."""
    seen: dict[tuple[int, str], str] = {}
    shown_steps: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while True:
        job = _check(httpx.get(f"{flow_url}/v1/jobs/{job_id}", headers=auth_headers(flow_url), timeout=30))
        for t in job["tasks"]:
            key = (t["party_id"], t["name"])
            if seen.get(key) != t["state"]:
                seen[key] = t["state"]
                msg = f" - {t['message']}" if t.get("message") and t["state"] == "FAILED" else ""
                out(f"  [{t['role']:>7} {t['party_id']}] {t['name']:<14} {t['state']}{msg}")
            if (
                t["component"] in MODEL_COMPONENTS
                and t["party_id"] == job["party_id"]
                and "loss" in t.get("metrics", {})
            ):
                series = httpx.get(
                    f"{flow_url}/v1/jobs/{job_id}/tasks/{t['name']}/metrics",
                    headers=auth_headers(flow_url),
                    timeout=30,
                )
                for point in (
                    series.json().get("metrics", {}).get("loss", []) if series.status_code == 200 else []
                ):
                    if point["step"] not in shown_steps:
                        shown_steps.add(point["step"])
                        step = MODEL_COMPONENTS[t["component"]]
                        out(f"      {t['name']} {step} {int(point['step']) + 1}: loss {point['value']:.5f}")
        if job["state"] in FINAL:
            return dict(job)
        if time.monotonic() > deadline:
            raise RequestTimeout(f"job {job_id} not finished in {timeout_s:.0f}s (state {job['state']})")
        time.sleep(0.5)


def _summary_of(job: dict[str, Any], component_prefix: str, role: str) -> dict[str, float]:
    for t in job["tasks"]:
        if t["name"].startswith(component_prefix) and t["role"] == role and t.get("summary"):
            return dict(t["summary"])
    return {}


def _baseline(config: dict[str, Any], split: demo_data.VerticalSplit) -> float:
    """The centralised yardstick: logistic regression, or for ``baseline: hist_gbdt`` scikit-learn's
    histogram GBDT with the job's hetero_secureboost parameters."""
    if config.get("baseline") == "hist_gbdt":
        params = next(
            c.get("params", {}) for c in config["job"]["components"] if c["component"] == "hetero_secureboost"
        )
        return demo_data.baseline_auc_gbdt(split, params)
    return demo_data.baseline_auc(split)


def fresh_run_dir(out_dir: Path) -> Path:
    run_dir = out_dir / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    return run_dir


def demo_split(config: dict[str, Any]) -> demo_data.VerticalSplit:
    """The config's dataset split vertically between the guest and the host."""
    x, y = demo_data.load(
        config["dataset"], rows=int(config.get("rows", 20000)), features=int(config.get("features", 40))
    )
    return demo_data.split(
        x, y, int(config["guest_features"]), private_fraction=float(config.get("private_fraction", 0.1))
    )


def demo_uploads(split: demo_data.VerticalSplit) -> list[tuple[str, bytes, str, str]]:
    return [("guest", split.guest_csv, "guest", "y"), ("host", split.host_csv, "host", "")]


def run_demo(config: dict[str, Any], out_dir: Path, *, compute: str = "local") -> dict[str, Any]:
    started = time.monotonic()
    run_dir = fresh_run_dir(out_dir)
    split = demo_split(config)
    key_bits = next(
        (
            int(c.get("params", {}).get("key_bits", 2048))
            for c in config["job"]["components"]
            if c["component"] in MODEL_COMPONENTS
        ),
        2048,
    )
    print(f"silobridge demo: {config['dataset']} — guest {split.guest_features} features + label, "
          f"host {split.host_features} features, {len(split.common_ids)} shared ids, {key_bits}-bit Paillier")  # fmt: skip
    job_id, job, codes = run_parties(config, run_dir, out_dir, demo_uploads(split), compute=compute)
    seconds = time.monotonic() - started
    evaluation = _summary_of(job, "evaluation", "guest")
    psi = _summary_of(job, "psi", "guest")
    baseline = _baseline(config, split)
    summary = {
        "job_id": job_id,
        "dataset": config["dataset"],
        "auc": evaluation.get("auc"),
        "baseline_auc": baseline,
        "auc_gap": None if evaluation.get("auc") is None else abs(evaluation["auc"] - baseline),
        "ks": evaluation.get("ks"),
        "accuracy": evaluation.get("accuracy"),
        "seconds": round(seconds, 2),
        "intersected_rows": int(psi.get("intersected_rows", 0)),
        "true_intersection": len(split.common_ids),
        "key_bits": key_bits,
        "party_exit_codes": codes,
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print()
    print(f"  intersected rows : {summary['intersected_rows']} (true overlap {len(split.common_ids)})")
    print(f"  federated AUC    : {summary['auc']:.4f}")
    yardstick = "HistGradientBoosting" if config.get("baseline") == "hist_gbdt" else "LogisticRegression"
    print(f"  centralised AUC  : {baseline:.4f}  (plaintext scikit-learn {yardstick} on the same rows)")
    print(f"  time             : {seconds:.1f} s")
    print(f"results in {out_dir}/ (summary.json, job.json, metrics/, models/)")
    return summary


def run_parties(
    config: dict[str, Any],
    run_dir: Path,
    out_dir: Path,
    uploads: list[tuple[str, bytes, str, str]],
    *,
    compute: str = "local",
) -> tuple[str, dict[str, Any], dict[int, int]]:
    """Start the config's parties, upload ``(role, csv, demo table name, label column)``, allow
    and submit its job at the guest, follow it and save its artifacts; (job id, job, exit codes).
    A job that does not succeed raises, after the parties have stopped."""
    parties = DemoParties(
        {role: int(pid) for role, pid in config["parties"].items()}, run_dir, compute=compute
    )
    try:
        job_id, job = run_job(parties, config, out_dir, uploads)
    finally:
        codes = parties.stop()
    return job_id, job, codes


def run_job(
    parties: DemoParties, config: dict[str, Any], out_dir: Path, uploads: list[tuple[str, bytes, str, str]]
) -> tuple[str, dict[str, Any]]:
    """Start ``parties``, upload, allow and submit the config's job at the guest, follow it and save
    its artifacts; raises unless it succeeds. The caller stops the parties."""
    parties.start()
    print(
        f"parties up: {', '.join(f'{r} {p}' for r, p in parties.parties.items())} (routers on loopback, mTLS)"
    )
    for role, csv, name, label in uploads:
        upload(parties.flow(role), csv, namespace="demo", name=name, label_column=label)
    parties.allow(config["job"])
    job_id = submit_yaml(parties.flow("guest"), yaml.safe_dump(config["job"], sort_keys=False))
    print(f"job {job_id} submitted at the guest")
    job = follow_job(parties.flow("guest"), job_id, float(config["job"].get("timeout_s", 900)))
    _save_artifacts(parties, job_id, job, out_dir)
    if job["state"] != "SUCCEEDED":
        raise PermanentError(f"job {job_id} ended {job['state']}: {job.get('message', '')}")
    return job_id, job


def _save_artifacts(parties: DemoParties, job_id: str, job: dict[str, Any], out_dir: Path) -> None:
    (out_dir / "job.json").write_text(json.dumps(job, indent=2))
    metrics_dir, models_dir = out_dir / "metrics", out_dir / "models"
    metrics_dir.mkdir(exist_ok=True)
    models_dir.mkdir(exist_ok=True)
    for role in parties.parties:
        flow = parties.flow(role)
        pid = parties.parties[role]
        for t in job["tasks"]:
            if t["party_id"] == pid:
                resp = httpx.get(
                    f"{flow}/v1/jobs/{job_id}/tasks/{t['name']}/metrics",
                    headers=auth_headers(flow),
                    timeout=30,
                )
                if resp.status_code == 200 and resp.json().get("metrics"):
                    (metrics_dir / f"{role}-{pid}-{t['name']}.json").write_text(
                        json.dumps(resp.json(), indent=2)
                    )
        resp = httpx.get(f"{flow}/v1/jobs/{job_id}/models", headers=auth_headers(flow), timeout=30)
        if resp.status_code != 200:
            continue
        for model in resp.json().get("models", []):
            task = model.get("task") or model.get("task_name")
            data = httpx.get(f"{flow}/v1/jobs/{job_id}/models/{task}", headers=auth_headers(flow), timeout=30)
            if data.status_code == 200:
                (models_dir / f"{role}-{pid}-{task}.pb").write_bytes(data.content)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run guest, host and arbiter on loopback and train a model end to end")
    p.add_argument(
        "--config",
        default="breast_cancer",
        help="breast_cancer (default), synthetic, secureboost, vertical_pipeline, homo_digits, or a YAML path",
    )
    p.add_argument("--out", type=Path, default=Path("demo-results"))
    p.add_argument("--compute", default="local", choices=["local", "processes", "ray"])
    p.add_argument(
        "--serve",
        action="store_true",
        help="keep the parties up, deploy the trained hetero_lr model to each party's serving and print "
        "a curl for one id beside its batch predict score (Ctrl-C stops; docs/serving.md)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.serve:
        from silobridge_cli.demo_serve import run_serving_demo

        return 0 if run_serving_demo(config, args.out, compute=args.compute)["match"] else 1
    if config.get("horizontal"):
        from silobridge_cli.demo_homo import run_homo_demo

        return 0 if run_homo_demo(config, args.out, compute=args.compute).get("accuracy") is not None else 1
    if config.get("pipeline"):
        from silobridge_cli.demo_pipeline import run_pipeline_demo

        models = run_pipeline_demo(config, args.out, compute=args.compute)["models"]
        return 0 if all(m.get("auc") is not None for m in models.values()) else 1
    summary = run_demo(config, args.out, compute=args.compute)
    return 0 if summary.get("auc") is not None else 1

"""``silobridge demo --config homo_digits`` (``make demo-homo``): horizontal FL end to end.

The guest and the host are clients holding different rows of scikit-learn's digits with the same
columns; the arbiter aggregates under secure aggregation. The driver prints the federated
training accuracy at the guest beside the same network trained centrally on both clients' rows
(same architecture, optimiser, batch size and epochs), measured on the same guest rows.

With ``label_skew: {alpha: ...}`` in the config (``--config homo_digits_skew``) the clients' rows
are label-skewed (Dirichlet(alpha) over each digit's rows, seeded by the job's ``seed``) and the
job runs twice, as configured (FedProx, its ``mu``) and with ``mu: 0`` (FedAvg); the driver prints
both side by side, with accuracy measured on both clients' rows (each holds a skewed sample).
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from silobridge.errors import InvalidInput
from silobridge.table import Table
from silobridge.testing.datasets import horizontal_split, label_skew_split
from silobridge_cli import demo_data
from silobridge_cli.demo import _summary_of, run_parties


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.data / 16.0, data.target.astype(np.float64)


def _csv(table: Table) -> bytes:
    rows = [[i, *x, int(y)] for i, x, y in zip(table.ids, table.features, table.label, strict=True)]  # type: ignore[arg-type]
    return demo_data.csv_bytes(["id", *table.feature_names, "y"], rows)


def _task_params(config: dict[str, Any]) -> dict[str, Any]:
    return next(c.get("params", {}) for c in config["job"]["components"] if c["component"] == "homo_nn")


def baseline_accuracy(
    params: dict[str, Any], clients: list[Table], seed: int = 0, *, on: list[Table] | None = None
) -> float:
    """The job's network trained centrally on every client's rows; accuracy on the rows of ``on``
    (default: the guest's)."""
    import torch

    from silobridge.components import registry
    from silobridge.ml import nn

    valid = registry.get("homo_nn").validate(params)
    X = np.vstack([t.features for t in clients]).astype(np.float32)
    y = np.concatenate([t.label for t in clients]).astype(np.int64)  # type: ignore[misc]
    module = nn.build(valid["model"], X.shape[1], int(valid["classes"]), seed=seed)
    opt = nn.optimizer(
        module, valid["optimizer"], valid["learning_rate"], valid["momentum"], valid["weight_decay"]
    )
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    batch = len(y) if valid["batch_size"] < 0 else int(valid["batch_size"])
    gen = torch.Generator().manual_seed(seed)
    module.train()
    for _ in range(int(valid["rounds"]) * int(valid["local_epochs"])):
        order = torch.randperm(len(yt), generator=gen)
        for start in range(0, len(yt), batch):
            idx = order[start : start + batch]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(module(Xt[idx]), yt[idx]).backward()  # type: ignore[no-untyped-call,unused-ignore]
            opt.step()
    module.eval()
    scored = on or clients[:1]
    features = np.vstack([t.features for t in scored]).astype(np.float32)
    labels = np.concatenate([t.label for t in scored])  # type: ignore[misc]
    with torch.no_grad():
        pred = module(torch.from_numpy(features)).argmax(dim=1).numpy()
    return float(np.mean(pred == labels))


def _uploads(clients: list[Table]) -> list[tuple[str, bytes, str, str]]:
    return [(role, _csv(t), f"homo_{role}", "y") for role, t in zip(("guest", "host"), clients, strict=True)]


def _fresh(run_dir: Path) -> Path:
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    return run_dir


def run_homo_demo(config: dict[str, Any], out_dir: Path, *, compute: str = "local") -> dict[str, Any]:
    if config.get("dataset") != "digits":
        raise InvalidInput("the horizontal demo knows the digits dataset only")
    if config.get("label_skew") is not None:
        return run_label_skew_demo(config, out_dir, compute=compute)
    started = time.monotonic()
    run_dir = _fresh(out_dir / "run")
    params = _task_params(config)
    clients = horizontal_split(*_digits(), 2, seed=int(params.get("seed") or 0), id_prefix="img")
    print(f"silobridge demo: digits — {len(clients)} clients with {[t.rows for t in clients]} rows, "
          f"arbiter aggregating, secure aggregation {'on' if params.get('secure_aggregation', True) else 'off'}")  # fmt: skip
    job_id, job, codes = run_parties(config, run_dir, out_dir, _uploads(clients), compute=compute)
    seconds = time.monotonic() - started
    trained = _summary_of(job, "homo_nn", "guest")
    baseline = baseline_accuracy(params, clients)
    summary = {
        "job_id": job_id,
        "dataset": "digits",
        "accuracy": trained.get("train_accuracy"),
        "baseline_accuracy": baseline,
        "secure_aggregation": bool(params.get("secure_aggregation", True)),
        "clients": len(clients),
        "rounds": trained.get("rounds"),
        "seconds": round(seconds, 2),
        "party_exit_codes": codes,
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print()
    print(f"  federated accuracy   : {summary['accuracy']:.4f}  (guest's rows, global model)")
    print(f"  centralised accuracy : {baseline:.4f}  (same network and epochs on both clients' rows)")
    print(f"  time                 : {seconds:.1f} s")
    print(f"results in {out_dir}/ (summary.json, job.json, metrics/, models/)")
    return summary


def _skew_alpha(config: dict[str, Any]) -> float:
    skew = config["label_skew"]
    alpha = skew.get("alpha") if isinstance(skew, dict) else None
    if not isinstance(alpha, int | float) or isinstance(alpha, bool) or alpha <= 0:
        raise InvalidInput("label_skew needs {alpha: <a number above 0>} (Dirichlet concentration)")
    return float(alpha)


def _with_mu(config: dict[str, Any], mu: float) -> dict[str, Any]:
    changed = copy.deepcopy(config)
    _task_params(changed)["mu"] = mu
    return changed


def _client_metrics(out_dir: Path, config: dict[str, Any], name: str) -> dict[str, list[float]]:
    """Metric ``name`` of the homo_nn task at each client, from what each party's flow saved."""
    task = next(c["name"] for c in config["job"]["components"] if c["component"] == "homo_nn")
    found: dict[str, list[float]] = {}
    for role in ("guest", "host"):
        path = out_dir / "metrics" / f"{role}-{config['parties'][role]}-{task}.json"
        points = json.loads(path.read_text())["metrics"].get(name, []) if path.exists() else []
        found[role] = [float(p["value"]) for p in points]
    return found


def run_label_skew_demo(config: dict[str, Any], out_dir: Path, *, compute: str = "local") -> dict[str, Any]:
    """The job on label-skewed clients as configured (FedProx) and with ``mu: 0`` (FedAvg)."""
    started = time.monotonic()
    alpha, params = _skew_alpha(config), _task_params(config)
    mu = float(params.get("mu") or 0.0)
    if mu <= 0:
        raise InvalidInput(
            "a label_skew demo compares FedProx with FedAvg: give the homo_nn job a mu above 0"
        )
    clients = label_skew_split(*_digits(), 2, alpha=alpha, seed=int(params.get("seed") or 0), id_prefix="img")
    counts = {
        role: np.bincount(t.label.astype(np.int64), minlength=10).tolist()  # type: ignore[union-attr]
        for role, t in zip(("guest", "host"), clients, strict=True)
    }
    print(
        f"silobridge demo: digits, label skew Dirichlet({alpha}) over 2 clients, FedAvg vs FedProx (mu {mu})"
    )
    for role, row in counts.items():
        print(f"  {role:5} rows per digit 0-9: {row}")
    runs: dict[str, dict[str, Any]] = {}
    for name, run_mu in (("fedavg", 0.0), ("fedprox", mu)):
        run_config, run_out = _with_mu(config, run_mu), out_dir / name
        shutil.rmtree(run_out, ignore_errors=True)
        run_dir = _fresh(run_out / "run")
        job_id, _, codes = run_parties(run_config, run_dir, run_out, _uploads(clients), compute=compute)
        accuracy = _client_metrics(run_out, run_config, "train_accuracy")
        drift = _client_metrics(run_out, run_config, "local_drift")
        union = sum(accuracy[r][-1] * t.rows for r, t in zip(("guest", "host"), clients, strict=True))
        runs[name] = {
            "job_id": job_id,
            "mu": run_mu,
            "accuracy": union / sum(t.rows for t in clients),
            "local_drift": float(np.mean(drift["guest"] + drift["host"])),
            "party_exit_codes": codes,
        }
    baseline = baseline_accuracy(params, clients, on=clients)
    seconds = time.monotonic() - started
    summary = {
        "dataset": "digits",
        "label_skew_alpha": alpha,
        "rows_per_digit": counts,
        "accuracy": runs["fedprox"]["accuracy"],
        "fedavg_accuracy": runs["fedavg"]["accuracy"],
        "baseline_accuracy": baseline,
        "secure_aggregation": bool(params.get("secure_aggregation", True)),
        "clients": len(clients),
        "runs": runs,
        "seconds": round(seconds, 2),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    avg, prox = runs["fedavg"], runs["fedprox"]
    print()
    print(f"  {'':21}  {'FedAvg (mu 0)':>14}  {f'FedProx (mu {mu:g})':>18}")
    print(f"  {'accuracy, all rows':21}  {avg['accuracy']:>14.4f}  {prox['accuracy']:>18.4f}")
    print(f"  {'mean local drift':21}  {avg['local_drift']:>14.3f}  {prox['local_drift']:>18.3f}")
    print(f"  centralised accuracy : {baseline:.4f}  (same network and epochs on both clients' rows)")
    print(f"  time                 : {seconds:.1f} s (both jobs)")
    print(f"results in {out_dir}/ (summary.json; fedavg/ and fedprox/: job.json, metrics/, models/)")
    return summary

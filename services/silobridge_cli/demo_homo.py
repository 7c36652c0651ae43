"""``silobridge demo --config homo_digits`` (``make demo-homo``): horizontal FL end to end.

The guest and the host are clients holding different rows of scikit-learn's digits with the same
columns; the arbiter aggregates under secure aggregation. The driver prints the federated
training accuracy at the guest beside the same network trained centrally on both clients' rows
(same architecture, optimiser, batch size and epochs), measured on the same guest rows.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from silobridge.errors import InvalidInput
from silobridge.table import Table
from silobridge.testing.datasets import horizontal_split
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


def baseline_accuracy(params: dict[str, Any], clients: list[Table], seed: int = 0) -> float:
    """The job's network trained centrally on every client's rows; accuracy on the guest's rows."""
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
    guest = clients[0]
    with torch.no_grad():
        pred = module(torch.from_numpy(guest.features.astype(np.float32))).argmax(dim=1).numpy()
    return float(np.mean(pred == guest.label))


def run_homo_demo(config: dict[str, Any], out_dir: Path, *, compute: str = "local") -> dict[str, Any]:
    if config.get("dataset") != "digits":
        raise InvalidInput("the horizontal demo knows the digits dataset only")
    started = time.monotonic()
    run_dir = out_dir / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    params = _task_params(config)
    clients = horizontal_split(*_digits(), 2, seed=int(params.get("seed") or 0), id_prefix="img")
    print(f"silobridge demo: digits — {len(clients)} clients with {[t.rows for t in clients]} rows, "
          f"arbiter aggregating, secure aggregation {'on' if params.get('secure_aggregation', True) else 'off'}")  # fmt: skip
    uploads = [
        (role, _csv(t), f"homo_{role}", "y") for role, t in zip(("guest", "host"), clients, strict=True)
    ]
    job_id, job, codes = run_parties(config, run_dir, out_dir, uploads, compute=compute)
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

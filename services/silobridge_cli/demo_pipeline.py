"""``silobridge demo --config vertical_pipeline`` (``make demo-pipeline``): the example vertical DAG.

``reader -> psi -> data_split -> feature_scale -> hetero_binning -> feature_selection ->
hetero_secureboost and hetero_sshe_lr -> evaluation``, plus each model's predict on the raw test
rows. The driver prints every model's AUC on its training rows and on the test rows beside a
centralised scikit-learn model with the job's parameters, fitted on exactly the rows and columns
the federated model trained on: the driver (which alone sees both sides' CSVs) redoes PSI's
alignment and the guest's seeded split, and passes each party's rows through that party's own
fitted scale and selection models (:mod:`silobridge.components.pipeline`), as predict does.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from silobridge.components import pipeline
from silobridge.components.data_split.common import NAMES, SplitParams
from silobridge.components.data_split.guest import draw
from silobridge.errors import InvalidInput
from silobridge.federation import codec
from silobridge.table import Table
from silobridge_cli import demo_data
from silobridge_cli.demo import run_parties

# The models the demo compares, each with its centralised scikit-learn twin.
MODELS = {"hetero_secureboost": "HistGradientBoosting", "hetero_sshe_lr": "LogisticRegression"}


@dataclass
class CentralView:
    """Both parties' rows side by side as the federated models saw them (the baseline's input)."""

    train: Table
    test: Table
    columns: dict[str, list[str]]  # role -> its selected columns, in the order of ``train``


def component(job: dict[str, Any], kind: str) -> dict[str, Any]:
    """The job's one component of ``kind``."""
    found = [c for c in job["components"] if c["component"] == kind]
    if len(found) != 1:
        raise InvalidInput(f"the pipeline demo needs exactly one {kind} component, the job has {len(found)}")
    return dict(found[0])


def consumer(job: dict[str, Any], kind: str, ref: str, input_name: str = "data") -> dict[str, Any]:
    """The job's component of ``kind`` that reads ``ref`` (``<task>.<output>``) as ``input_name``."""
    for c in job["components"]:
        if c["component"] == kind and (c.get("inputs") or {}).get(input_name) == ref:
            return dict(c)
    raise InvalidInput(f"the pipeline demo needs a {kind} component reading {ref} as {input_name!r}")


def _aligned(split: demo_data.VerticalSplit) -> tuple[Table, Table]:
    """The uploaded tables after PSI: the shared rows in the guest's upload order (a stored table
    keeps its CSV's row order), at both parties."""
    guest = Table.from_csv(split.guest_csv, id_column="id", label_column="y")
    host = Table.from_csv(split.host_csv, id_column="id")
    at_host = {row_id: i for i, row_id in enumerate(host.ids)}
    guest = guest.take([i for i, row_id in enumerate(guest.ids) if row_id in at_host])
    return guest, host.take([at_host[row_id] for row_id in guest.ids])


def central_view(
    split: demo_data.VerticalSplit, job: dict[str, Any], models: dict[str, dict[str, Any]]
) -> CentralView:
    """``models``: role -> task name -> that party's decoded model (its scale and selection)."""
    params = SplitParams(**(component(job, "data_split").get("params") or {}))
    if params.seed is None:
        raise InvalidInput("the pipeline demo's data_split needs a seed to reproduce the guest's split")
    guest, host = _aligned(split)
    fractions = np.array([getattr(params, f"{n}_size") for n in NAMES])
    label = guest.label if params.stratified else None
    codes = draw(guest.rows, label, fractions, np.random.default_rng(params.seed))
    scale, selection = component(job, "feature_scale")["name"], component(job, "feature_selection")["name"]
    parts: dict[str, dict[int, Table]] = {}
    for role, table in (("guest", guest), ("host", host)):
        fitted = models[role]
        parts[role] = {
            code: pipeline.select(
                fitted[selection], pipeline.scale(fitted[scale], table.take(np.nonzero(codes == code)[0]))
            )
            for code in (NAMES.index("train"), NAMES.index("test"))
        }

    def side_by_side(code: int) -> Table:
        g, h = parts["guest"][code], parts["host"][code]
        return pipeline.with_columns(
            g, np.hstack([g.features, h.features]), [*g.feature_names, *h.feature_names]
        )

    return CentralView(
        train=side_by_side(NAMES.index("train")),
        test=side_by_side(NAMES.index("test")),
        columns={role: parts[role][NAMES.index("train")].feature_names for role in parts},
    )


def baseline(kind: str, params: dict[str, Any], view: CentralView) -> tuple[float, float]:
    """(train AUC, test AUC) of the model's scikit-learn twin fitted on ``view.train``."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import roc_auc_score

    model = (
        demo_data.gbdt(params)
        if kind == "hetero_secureboost"
        else demo_data.logistic(params, view.train.rows)
    )
    with warnings.catch_warnings():  # the LR twin stops after the job's epochs, as the job does
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(view.train.features, view.train.label)
    train, test = (
        float(roc_auc_score(t.label, model.predict_proba(t.features)[:, 1])) for t in (view.train, view.test)
    )
    return train, test


def _guest_task(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in job["tasks"] if t["name"] == name and t["party_id"] == job["party_id"])


def model_results(
    job_spec: dict[str, Any], job: dict[str, Any], view: CentralView
) -> dict[str, dict[str, Any]]:
    """Per model task: federated and centralised AUC on the training and the test rows, time, key size."""
    out: dict[str, dict[str, Any]] = {}
    for kind in MODELS:
        comp = component(job_spec, kind)
        name, params = comp["name"], dict(comp.get("params") or {})
        predict = consumer(job_spec, f"{kind}_predict", f"{name}.model", "model")
        trained = _guest_task(job, consumer(job_spec, "evaluation", f"{name}.predictions")["name"])
        tested = _guest_task(job, consumer(job_spec, "evaluation", f"{predict['name']}.predictions")["name"])
        task = _guest_task(job, name)
        base_train, base_test = baseline(kind, params, view)
        out[name] = {
            "component": kind,
            "auc": trained["summary"]["auc"],
            "baseline_auc": base_train,
            "auc_gap": abs(trained["summary"]["auc"] - base_train),
            "test_auc": tested["summary"]["auc"],
            "baseline_test_auc": base_test,
            "seconds": round(float(task["ended"]) - float(task["started"]), 2),
            "key_bits": int(params.get("key_bits", 2048)),
        }
    return out


def saved_models(out_dir: Path, config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """role -> task -> model, decoded from what :func:`silobridge_cli.demo.run_parties` saved."""
    found: dict[str, dict[str, Any]] = {}
    for role, pid in config["parties"].items():
        prefix = f"{role}-{pid}-"
        found[role] = {
            path.stem[len(prefix) :]: codec.from_bytes(path.read_bytes())
            for path in (out_dir / "models").glob(f"{prefix}*.pb")
        }
    return found


def run_pipeline_demo(config: dict[str, Any], out_dir: Path, *, compute: str = "local") -> dict[str, Any]:
    started = time.monotonic()
    run_dir = out_dir / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.rmtree(out_dir / "models", ignore_errors=True)
    run_dir.mkdir(parents=True)
    x, y = demo_data.load(
        config["dataset"], rows=int(config.get("rows", 20000)), features=int(config.get("features", 40))
    )
    split = demo_data.split(
        x, y, int(config["guest_features"]), private_fraction=float(config.get("private_fraction", 0.1))
    )
    print(f"silobridge demo: {config['dataset']} — guest {split.guest_features} features + label, "
          f"host {split.host_features} features, {len(split.common_ids)} shared ids; "
          "split, scale, bin, select, then SecureBoost and SSHE-LR")  # fmt: skip
    uploads = [("guest", split.guest_csv, "guest", "y"), ("host", split.host_csv, "host", "")]
    job_id, job, codes = run_parties(config, run_dir, out_dir, uploads, compute=compute)
    view = central_view(split, config["job"], saved_models(out_dir, config))
    results = model_results(config["job"], job, view)
    seconds = time.monotonic() - started
    split_task = _guest_task(job, component(config["job"], "data_split")["name"])["summary"]
    summary = {
        "job_id": job_id,
        "dataset": config["dataset"],
        "models": results,
        "selected_columns": view.columns,
        "intersected_rows": len(split.common_ids),
        "train_rows": int(split_task["train_rows"]),
        "test_rows": int(split_task["test_rows"]),
        "seconds": round(seconds, 2),
        "party_exit_codes": codes,
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print()
    print(
        f"  rows: {len(split.common_ids)} shared, {summary['train_rows']} train, {summary['test_rows']} test"
    )
    for role, names in view.columns.items():
        print(f"  {role} keeps {len(names)} columns by IV: {', '.join(names)}")
    print(f"  {'model':<22} {'train AUC':>9} {'baseline':>9} {'test AUC':>9} {'baseline':>9} {'seconds':>8}")
    for name, r in results.items():
        print(f"  {name:<22} {r['auc']:>9.4f} {r['baseline_auc']:>9.4f} "
              f"{r['test_auc']:>9.4f} {r['baseline_test_auc']:>9.4f} {r['seconds']:>8.1f}")  # fmt: skip
    print(f"  baselines: plaintext scikit-learn {' and '.join(MODELS.values())} with the jobs' parameters, "
          "trained centrally on the same rows and columns")  # fmt: skip
    bits = sorted({r["key_bits"] for r in results.values()})
    print(f"  Paillier keys: {', '.join(str(b) for b in bits)} bits")
    print(f"  time: {seconds:.1f} s")
    print(f"results in {out_dir}/ (summary.json, job.json, metrics/, models/)")
    return summary

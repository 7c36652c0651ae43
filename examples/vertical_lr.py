"""`make demo` written with the Python SDK: the same job, built, submitted and read in Python.

Guest 9999 (label + 10 features), host 10000 (the other 20) and arbiter 10001 (Paillier key)
run as three local processes with mTLS routers, exactly as `silobridge demo` starts them. This
script uploads each party's half of scikit-learn's breast-cancer data, builds
reader -> psi -> hetero_lr -> evaluation with `silobridge.sdk`, submits it at the guest, waits
with a progress bar, and prints the AUC beside a centralised scikit-learn baseline, the loss per
epoch, and the guest's own model.

    python examples/vertical_lr.py            # or: make demo-sdk
    python examples/vertical_lr.py --yaml     # print the job YAML (as `silobridge job submit` takes it)
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from silobridge.sdk import Pipeline
from silobridge.sdk import components as c

GUEST, HOST, ARBITER = 9999, 10000, 10001


def build(**hetero_lr: Any) -> Pipeline:
    """The demo's job (services/silobridge_cli/demos/breast_cancer.yaml) as a pipeline;
    ``hetero_lr`` overrides its training parameters (the tests use smaller keys)."""
    pipe = Pipeline(guest=GUEST, host=HOST, arbiter=ARBITER, initiator=GUEST, timeout_s=900)
    reader = pipe.add(
        c.reader("reader_0").at("guest", table="demo.guest", require_label=True).at("host", table="demo.host")
    )
    psi = pipe.add(c.psi("psi_0", data=reader.outputs.data))
    lr = pipe.add(
        c.hetero_lr(
            "hetero_lr_0",
            data=psi.outputs.data,
            **{"epochs": 5, "batch_size": 128, "learning_rate": 0.15, "key_bits": 2048, **hetero_lr},
        )
    )
    pipe.add(c.evaluation("evaluation_0", data=lr.outputs.predictions))
    return pipe


def run(out_dir: Path, compute: str = "local") -> dict[str, Any]:
    # The demo's launcher and data (the CLI package), only to start parties and hold their data.
    from silobridge_cli import demo_data
    from silobridge_cli.data import example_split
    from silobridge_cli.demo import DemoParties, upload

    split = example_split("breast_cancer")  # the rows `make demo` uploads
    pipe = build()

    run_dir = out_dir / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    parties = DemoParties({"guest": GUEST, "host": HOST, "arbiter": ARBITER}, run_dir, compute=compute)
    try:
        parties.start()
        upload(parties.flow("guest"), split.guest_csv, namespace="demo", name="guest", label_column="y")
        upload(parties.flow("host"), split.host_csv, namespace="demo", name="host")
        parties.allow(pipe.to_dict())  # the host's and arbiter's policy: exactly this job

        job = pipe.submit(parties.flow("guest"))
        print(f"job {job.job_id} submitted at the guest")
        detail = job.wait(timeout_s=900, progress=True)
        if detail["state"] != "SUCCEEDED":
            print(f"job {job.job_id} ended {detail['state']}: {detail.get('message', '')}", file=sys.stderr)
            return {"state": detail["state"]}
        auc = job.summary("evaluation_0")["auc"]
        loss = job.metrics("hetero_lr_0").get("loss", [])
        model = job.model("hetero_lr_0")
        (out_dir / "job.yaml").write_text(pipe.to_yaml())
        (out_dir / "hetero_lr_0.guest.pb").write_bytes(job.model_bytes("hetero_lr_0"))
    finally:
        parties.stop()

    baseline = demo_data.baseline_auc(split)
    for step, value in loss:
        print(f"  epoch {step + 1}: loss {value:.5f}")
    print(f"  federated AUC   : {auc:.4f}")
    print(f"  centralised AUC : {baseline:.4f}  (plaintext scikit-learn on the same rows)")
    print(f"  guest model     : {', '.join(sorted(model))}")
    print(f"results in {out_dir}/ (job.yaml, hetero_lr_0.guest.pb)")
    return {"state": "SUCCEEDED", "auc": auc, "baseline_auc": baseline, "loss": loss}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo-results/sdk"))
    parser.add_argument("--compute", default="local", choices=["local", "processes", "ray"])
    parser.add_argument("--yaml", action="store_true", help="print the job YAML and exit")
    args = parser.parse_args(argv)
    if args.yaml:
        print(build().to_yaml(), end="")
        return 0
    return 0 if run(args.out, args.compute).get("state") == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())

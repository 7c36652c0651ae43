"""``silobridge demo --serve`` (issue 14, criterion 1): after the demo's job the parties stay up,
the model is deployed at the host and the guest, and the printed ``curl`` returns the score that
the batch ``predict`` gives that id (1e-9). The parties are OS processes (``silobridge party run``),
as in ``make demo``; the job is the demo's with fewer epochs and a smaller key, to stay cheap."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from silobridge_cli.demo import load_config
from silobridge_cli.demo_serve import run_serving_demo

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]


def test_printed_curl_scores_like_batch_predict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = load_config("breast_cancer")
    lr = next(c for c in config["job"]["components"] if c["component"] == "hetero_lr")
    lr["params"] |= {"epochs": 2, "key_bits": 1024}
    seen: dict[str, Any] = {}

    def run_the_printed_curl(summary: dict[str, Any]) -> None:
        printed = capsys.readouterr().out
        curl = re.search(r"^  (curl .*)$", printed, re.M)
        batch = re.search(r"batch predict score for (\S+) : (\S+)$", printed, re.M)
        assert curl and batch, printed
        argv = shlex.split(curl.group(1))
        if shutil.which("curl") is None:
            pytest.skip("no curl on this machine")
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
        seen.update(answer=json.loads(out), id=batch.group(1), batch=float(batch.group(2)))

    summary = run_serving_demo(config, tmp_path / "out", hold=run_the_printed_curl)
    assert seen["answer"]["id"] == seen["id"] == summary["id"]
    assert seen["answer"]["score"] == pytest.approx(seen["batch"], abs=1e-9)
    assert seen["answer"]["model"]["version"] == 1 and seen["answer"]["model"]["job_id"] == summary["job_id"]
    assert summary["match"] is True
    assert json.loads((tmp_path / "out" / "serving.json").read_text())["curl"] == summary["curl"]

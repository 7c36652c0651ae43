"""homo_lr parameters: closed to anything a job could use to load code (the homo_nn concern)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from silobridge.components import registry
from silobridge.errors import InvalidInput

MODULE = "silobridge_test_planted_model"


@pytest.mark.parametrize(
    "params",
    [
        {"model": f"{MODULE}:Net"},
        {"model": {"module": MODULE, "callable": "Net"}},
        {"model_class": f"{MODULE}.Net"},
        {"rounds": 2, "custom_model": {"import": MODULE}},
    ],
)
def test_a_job_naming_a_module_or_callable_is_refused_and_nothing_is_imported(
    params: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    (tmp_path / f"{MODULE}.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\nNet = object\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        InvalidInput, match=r"invalid parameters for homo_lr: .*Extra inputs are not permitted"
    ):
        registry.get("homo_lr").validate(params)
    assert MODULE not in sys.modules
    assert not marker.exists()


def test_bad_values_name_the_parameter() -> None:
    defn = registry.get("homo_lr")
    with pytest.raises(InvalidInput, match="batch_size"):
        defn.validate({"batch_size": 0})
    with pytest.raises(InvalidInput, match="threshold"):
        defn.validate({"threshold": 1})
    with pytest.raises(InvalidInput, match="classes"):
        defn.validate({"classes": 1})
    assert defn.validate({})["secure_aggregation"] is True


def test_every_parameter_is_described() -> None:
    fields = registry.get("homo_lr").params.model_fields
    assert fields and all(f.description for f in fields.values())

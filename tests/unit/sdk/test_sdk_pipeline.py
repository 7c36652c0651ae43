"""The SDK builds the jobs the CLI takes: the same parsed JobSpec, and clear errors at build time."""

from __future__ import annotations

import inspect
import runpy
import typing
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from flow.jobspec import SpecRules, parse_job_yaml
from silobridge.errors import InvalidInput
from silobridge.sdk import Pipeline, codegen
from silobridge.sdk import components as c
from silobridge.sdk.pipeline import Task

ROOT = Path(__file__).resolve().parents[3]
RULES = SpecRules(self_party=9999, known_parties=frozenset({9999, 10000, 10001}))


def example() -> Any:
    """examples/vertical_lr.py, as a namespace (it is a script, not a package)."""
    return SimpleNamespace(**runpy.run_path(str(ROOT / "examples" / "vertical_lr.py")))


def parsed(text: str, job_id: str = "same_id") -> object:
    spec = parse_job_yaml(text, RULES)
    spec.job_id = job_id  # a job without an id gets a fresh one at each parse
    return spec


def demo_job_yaml() -> str:
    demo = yaml.safe_load(resources.files("silobridge_cli.demos").joinpath("breast_cancer.yaml").read_text())
    return yaml.safe_dump(demo["job"], sort_keys=False)


def test_the_example_builds_the_demo_job_spec() -> None:
    sdk_yaml = example().build().to_yaml()
    assert parsed(sdk_yaml) == parsed(demo_job_yaml())


def test_a_changed_parameter_changes_the_spec() -> None:
    """The comparison above can fail: one epoch more is a different job."""
    assert parsed(example().build(epochs=6).to_yaml()) != parsed(demo_job_yaml())


JOB_FILES = sorted((ROOT / "deploy" / "examples" / "jobs").glob("*.yaml"))
DEMO_CONFIGS = sorted(Path(str(resources.files("silobridge_cli.demos"))).glob("*.yaml"))


@pytest.mark.parametrize("path", JOB_FILES + DEMO_CONFIGS, ids=lambda p: p.name)
def test_yaml_to_sdk_to_yaml_keeps_the_job(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    job = doc["job"] if "job" in doc else doc
    text = yaml.safe_dump(job, sort_keys=False)
    again = Pipeline.from_yaml(text).to_yaml()
    assert yaml.safe_load(again) == _normalised(job)
    assert parsed(again) == parsed(text)


def _normalised(job: dict) -> dict:
    """What a loader may rewrite without changing the job: a single party id becomes a list."""
    out = dict(job)
    out["parties"] = {r: ids if isinstance(ids, list) else [ids] for r, ids in job["parties"].items()}
    return out


def test_a_wrong_type_fails_when_given_naming_component_and_parameter() -> None:
    with pytest.raises(InvalidInput) as err:
        c.hetero_lr("lr", epochs="many")
    assert str(err.value).startswith(
        "task 'lr' (hetero_lr): parameter 'epochs': Input should be a valid integer"
    )


def test_a_value_out_of_range_fails_with_the_models_bound() -> None:
    with pytest.raises(InvalidInput, match=r"parameter 'epochs': Input should be greater than or equal to 1"):
        c.hetero_lr(epochs=0)


def test_an_unknown_parameter_is_named_with_a_suggestion() -> None:
    with pytest.raises(InvalidInput) as err:
        c.component("hetero_lr", "lr", epoch=3)
    assert "task 'lr' (hetero_lr): unknown parameter 'epoch'; did you mean 'epochs'?" in str(err.value)


def test_a_role_parameter_is_checked_at_its_role() -> None:
    with pytest.raises(InvalidInput, match=r"task 'reader_0' \(reader\) at host: parameter 'require_label'"):
        c.reader("reader_0").at("host", require_label="sometimes")
    with pytest.raises(InvalidInput, match=r"component 'evaluation' does not run at role 'host'"):
        c.evaluation().at("host", threshold=0.4)


def test_a_missing_required_parameter_names_the_party_that_lacks_it() -> None:
    pipe = Pipeline(guest=9999, host=10000)
    pipe.add(c.reader("reader_0").at("guest", table="demo.guest"))
    with pytest.raises(InvalidInput) as err:
        pipe.to_yaml()
    assert str(err.value) == "task 'reader_0' (reader) at host party 10000: table: Field required"


def test_a_table_parameter_must_name_namespace_and_table() -> None:
    pipe = Pipeline(guest=9999, host=10000)
    pipe.add(c.reader(table="guest_only"))
    with pytest.raises(InvalidInput, match=r"parameter 'table': 'guest_only' is not a table name"):
        pipe.to_dict()


def test_outputs_are_checked_by_name() -> None:
    reader = c.reader("reader_0", table="demo.t")
    with pytest.raises(
        InvalidInput, match=r"task 'reader_0' \(reader\) has no output 'model' \(outputs: data\)"
    ):
        _ = reader.outputs.model


def test_an_input_from_a_task_outside_the_pipeline_is_refused() -> None:
    pipe = Pipeline(guest=9999, host=10000)
    reader = c.reader("reader_0", table="demo.t")
    pipe.add(c.psi(data=reader.outputs.data))
    with pytest.raises(
        InvalidInput, match=r"input 'data' comes from task 'reader_0' \(reader\), which is not in"
    ):
        pipe.to_dict()


def test_unnamed_tasks_are_numbered_per_component_and_wired_by_those_names() -> None:
    pipe = Pipeline(guest=9999, host=10000)
    reader = pipe.add(c.reader(table="demo.t"))
    first = pipe.add(c.column_stats(data=reader.outputs.data))
    pipe.add(c.column_stats(data=reader.outputs.data, needs=[first]))
    doc = pipe.to_dict()
    assert [t["name"] for t in doc["components"]] == ["reader_0", "column_stats_0", "column_stats_1"]
    assert doc["components"][2] == {
        "name": "column_stats_1",
        "component": "column_stats",
        "inputs": {"data": "reader_0.data"},
        "needs": ["column_stats_0"],
    }
    assert "initiator" not in doc and "timeout_s" not in doc  # flow's defaults apply


def test_nested_parameter_models_serialise_to_plain_yaml() -> None:
    from silobridge.ml.nn import MLPSpec

    pipe = Pipeline(guest=9999, host=10000, arbiter=10001)
    reader = pipe.add(c.reader(table="demo.t", require_label=True))
    pipe.add(c.homo_nn(data=reader.outputs.data, model=MLPSpec(kind="mlp", hidden=[8]), classes=3))
    doc = yaml.safe_load(pipe.to_yaml())
    assert doc["components"][1]["params"]["model"]["hidden"] == [8]
    assert doc["components"][1]["params"]["classes"] == 3


def test_the_generated_component_functions_are_current() -> None:
    committed = Path(inspect.getfile(c)).read_text(encoding="utf-8")
    assert committed == codegen.render(), "regenerate with: python -m silobridge.sdk.codegen"


def test_component_functions_carry_the_models_types_for_an_ide() -> None:
    hints = typing.get_type_hints(c.hetero_lr)
    assert hints["epochs"] is int
    assert hints["optimizer"] == typing.Literal["sgd", "nesterov", "adagrad", "rmsprop", "adam"]
    assert hints["seed"] == int | None
    assert typing.get_args(typing.get_type_hints(c.homo_nn)["model"])[0].__name__ == "MLPSpec"
    assert "epochs: maximum passes over the aligned rows (default 10)" in (c.hetero_lr.__doc__ or "")
    assert isinstance(c.hetero_lr(epochs=3), Task)

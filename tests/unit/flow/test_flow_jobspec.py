"""Job YAML validation: each named problem gives an error that says what and where."""

from __future__ import annotations

import re

import pytest
import yaml

from flow import jobspec
from flow.jobspec import SpecRules, parse_job_yaml
from silobridge.errors import InvalidInput, PayloadTooLarge

RULES = SpecRules(self_party=9999, known_parties=frozenset({9999, 10000, 10001}))

BASE = {
    "job_id": "j1",
    "initiator": {"role": "guest", "party_id": 9999},
    "parties": {"guest": [9999], "host": [10000]},
    "components": [
        {
            "name": "reader_0",
            "component": "reader",
            "role_params": {
                "guest": {"table": "demo.guest"},
                "host": {"table": "demo.host"},
                "host:10000": {"table": "demo.other"},
            },
        },
        {"name": "stats_0", "component": "column_stats", "inputs": {"data": "reader_0.data"}},
        {
            "name": "stats_1",
            "component": "column_stats",
            "inputs": {"data": "reader_0.data", "m": "stats_0.model"},
        },
    ],
}


def doc(**changes: object) -> str:
    import copy

    d = copy.deepcopy(BASE)
    for path, value in changes.items():
        target: object = d
        keys = path.split("__")
        for k in keys[:-1]:
            target = target[int(k)] if isinstance(target, list) else target[k]  # type: ignore[index]
        if isinstance(target, list):
            target[int(keys[-1])] = value
        else:
            assert isinstance(target, dict)
            if value is DELETE:
                del target[keys[-1]]
            else:
                target[keys[-1]] = value
    return yaml.safe_dump(d)


DELETE = object()


def test_valid_job_becomes_a_spec_with_inferred_needs_and_party_overrides() -> None:
    spec = parse_job_yaml(doc(), RULES)
    assert spec.job_id == "j1" and spec.initiator_party_id == 9999
    assert jobspec.party_roles(spec) == {9999: "guest", 10000: "host"}
    assert jobspec.topo_order(spec) == ["reader_0", "stats_0", "stats_1"]
    assert jobspec.upstreams(spec.components[2]) == ["reader_0", "stats_0"]
    reader = spec.components[0]
    assert jobspec.merged_params(reader, "host", 10000)["table"] == "demo.other"
    assert jobspec.merged_params(reader, "guest", 9999)["table"] == "demo.guest"
    refs = jobspec.table_inputs(reader, "host", 10000)
    assert (refs["table"].namespace, refs["table"].name) == ("demo", "other")
    assert spec.timeout_s == RULES.default_timeout_s


def test_generated_job_id_has_the_documented_shape() -> None:
    spec = parse_job_yaml(doc(job_id=DELETE), RULES)
    assert re.fullmatch(r"\d{14}_[0-9a-f]{6}", spec.job_id)


def test_json_is_accepted_too() -> None:
    import json

    spec = parse_job_yaml(json.dumps(BASE), RULES)
    assert [c.name for c in spec.components] == ["reader_0", "stats_0", "stats_1"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "job: unknown key 'colour'"),
        ({"components__1__param": {}}, "components[1]: unknown key 'param'"),
        ({"components__1__component": "no_such"}, "components[1].component: unknown component 'no_such'"),
        (
            {"components__0__role_params__arbiter": {"table": "a.b"}, "parties__arbiter": [10001]},
            "components[0].role_params.arbiter: component 'reader' does not support role 'arbiter'",
        ),
        (
            {"components__0__role_params__guest": {"table": "demo.guest", "rows": 5}},
            "components[0] (reader_0) at guest party 9999: rows: Extra inputs",
        ),
        (
            {"components__0__role_params__host": {}, "components__0__role_params__host:10000": {}},
            "at host party 10000: table: Field required",
        ),
        (
            {"components__0__role_params__guest": {"table": "nodot"}},
            "components[0].role_params.guest.table: 'nodot' is not a table name",
        ),
        ({"parties__host": [10000, 10002]}, "parties.host[1]: unknown party 10002"),
        (
            {"parties__guest": [10001], "initiator": {"role": "host", "party_id": 10000}},
            "this party (9999) is not among the job's parties",
        ),
        (
            {"components__2__inputs": {"data": "psi_1.data"}},
            "components[2].inputs.data: unknown task 'psi_1'",
        ),
        (
            {"components__1__inputs": {"data": "reader_0.nothing"}},
            "task 'reader_0' (reader) has no output 'nothing'",
        ),
        ({"components__1__needs": ["stats_1"]}, "cycle in the DAG: stats_0 -> stats_1 -> stats_0"),
        ({"components__1__needs": ["ghost"]}, "components[1].needs: unknown task 'ghost'"),
        ({"components__2__name": "stats_0"}, "components[2].name: duplicate task name 'stats_0'"),
        (
            {"initiator": {"role": "guest", "party_id": 10000}},
            "initiator: party 10000 with role guest is not among",
        ),
        ({"job_id": "bad id!"}, "job_id: 'bad id!' must be"),
        ({"timeout_s": -1}, "timeout_s: -1 must be"),
        (
            {"parties": {"guest": [9999], "host": [9999]}},
            "parties.host[0]: party 9999 already has the role guest",
        ),
        ({"parties__judge": [10001]}, "parties.judge: unknown role"),
        ({"components": []}, "components: expected a non-empty list"),
    ],
)
def test_invalid_jobs_name_the_problem_and_its_location(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_job_yaml(doc(**change), RULES)
    assert message in str(err.value)


def test_unparseable_yaml_names_the_line() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_job_yaml("job_id: a\nparties: [oops\n", RULES)
    assert "not valid YAML at line 3, column 1:" in str(err.value)
    assert "expected ',' or ']'" in str(err.value)  # libyaml says "did not find expected ..."


def test_yaml_size_limit() -> None:
    rules = SpecRules(self_party=9999, known_parties=frozenset({9999}), max_yaml_bytes=100)
    with pytest.raises(PayloadTooLarge, match="exceeds the limit of 100 bytes"):
        parse_job_yaml("#" * 101, rules)


def test_proposal_validation_uses_the_receiving_partys_knowledge() -> None:
    spec = parse_job_yaml(doc(), RULES)
    host_rules = SpecRules(self_party=10000, known_parties=frozenset({10000}))
    with pytest.raises(InvalidInput, match="unknown party 9999"):
        jobspec.validate_spec(spec, host_rules)
    jobspec.validate_spec(spec, SpecRules(self_party=10000, known_parties=frozenset({9999, 10000})))


@pytest.mark.parametrize("name", ["hetero_lr.yaml", "column_stats.yaml"])
def test_example_jobs_are_valid(name: str) -> None:
    from pathlib import Path

    path = Path(__file__).parents[3] / "deploy" / "examples" / "jobs" / name
    spec = parse_job_yaml(path.read_bytes(), RULES)
    assert spec.initiator_party_id == 9999 and len(spec.components) >= 2


# ----- abuse: documents that cost far more to build than to send ------------------------------

JOB_HEAD = "parties: {guest: [9999]}\ncomponents:\n  - name: r\n    component: reader\n    params:\n"


def billion_laughs(levels: int = 9) -> str:
    """A few hundred bytes that expand to 9**levels strings once the aliases are followed."""
    lines = ['      l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"      l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]")
    return JOB_HEAD + "\n".join(lines) + "\n"


def _peak_rss_bytes() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _refused_fast(text: str, reason: str) -> InvalidInput:
    import time

    start = time.perf_counter()
    with pytest.raises(InvalidInput) as err:
        parse_job_yaml(text, RULES)
    assert time.perf_counter() - start < 1.0
    assert err.value.http_status == 400
    assert reason in str(err.value)
    return err.value


def test_a_yaml_bomb_is_refused_at_its_first_alias_in_bounded_memory() -> None:
    bomb = billion_laughs()
    assert len(bomb) < 600
    before = _peak_rss_bytes()
    err = _refused_fast(bomb, "anchors (&l0) are not allowed in a job")
    assert "line 6" in str(err)
    assert _peak_rss_bytes() - before < 32 * 1024 * 1024  # today's code: 9**6 strings already took seconds


def test_aliases_are_refused_even_without_anchors_in_view() -> None:
    _refused_fast(JOB_HEAD + "      a: *nowhere\n", "aliases (*nowhere) are not allowed")


def test_deep_nesting_is_refused() -> None:
    _refused_fast(
        JOB_HEAD + "      a: " + "[" * 5000 + "]" * 5000 + "\n", "nest"
    )  # libyaml's own limit or ours
    _refused_fast("[" * 40 + "]" * 40, "nested deeper than 32 levels")


def test_too_many_values_are_refused() -> None:
    flat = "      a: [" + ",".join(["1"] * 30_000) + "]\n"
    _refused_fast(JOB_HEAD + flat, "more than 20000 values")


@pytest.mark.parametrize("number", [".inf", "-.inf", ".nan", "1.0e+400"])
def test_non_finite_numbers_are_refused(number: str) -> None:
    _refused_fast(JOB_HEAD + f"      table: demo.t\n      x: {number}\n", "non-finite number")


def test_huge_integers_are_refused() -> None:
    _refused_fast(JOB_HEAD + "      x: " + "9" * 5000 + "\n", "integer of 5000 digits is too long")


def test_the_number_of_tasks_is_bounded_for_submissions_and_proposals() -> None:
    tasks = "".join(f"  - {{name: t{i}, component: reader, params: {{table: a.b}}}}\n" for i in range(257))
    _refused_fast("parties: {guest: [9999]}\ncomponents:\n" + tasks, "257 tasks, more than the limit of 256")
    spec = parse_job_yaml(doc(), RULES)
    for i in range(300):
        spec.components.add(name=f"x{i}", component="reader")
    with pytest.raises(InvalidInput, match="more than the limit of 256"):
        jobspec.validate_spec(spec, RULES)


def test_a_document_at_every_limit_still_parses_quickly() -> None:
    import time

    tasks = "".join(
        f"  - name: t{i}\n    component: reader\n    params: {{table: ns.t{i}, require_label: false}}\n"
        for i in range(256)
    )
    start = time.perf_counter()
    spec = parse_job_yaml("parties: {guest: [9999]}\ncomponents:\n" + tasks, RULES)
    assert len(spec.components) == 256
    assert time.perf_counter() - start < 1.0  # ~0.06 s: short enough to run on flow's event loop


async def test_the_api_answers_a_yaml_bomb_with_400_within_a_second(cluster) -> None:  # type: ignore[no-untyped-def]
    import time

    await cluster.add_party(9999)
    await cluster.start_flow(9999)
    client = cluster.client(9999)
    start = time.perf_counter()
    r = await client.post("/v1/jobs", content=billion_laughs())
    assert time.perf_counter() - start < 1.0
    assert r.status_code == 400
    assert "anchors (&l0) are not allowed" in r.text

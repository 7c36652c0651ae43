"""A party's policy decides every peer proposal before anything runs or any table is looked at:
refuse (revealing nothing about what exists), accept, or hold for an operator; every decision is
audited."""

from __future__ import annotations

import pytest
from flow_support import Cluster, eventually

from flow import jobspec
from flow.policy import Policy, decide, parse_policy
from silobridge.errors import InvalidInput

GUEST, HOST, ARBITER = 9999, 10000, 10001

# The one-row extraction: the guest reads a one-row table of its own, PSI against the host's
# table, then column statistics of the host's rows ("the mean of one row").
EXTRACTION = """
job_id: {job_id}
initiator: {{role: guest, party_id: 9999}}
parties: {{guest: [9999], host: [10000]}}
components:
  - name: reader_0
    component: reader
    role_params:
      guest: {{table: demo.one_row}}
      host: {{table: {table}}}
  - name: psi_0
    component: psi
    inputs: {{data: reader_0.data}}
  - name: stats_0
    component: column_stats
    inputs: {{data: psi_0.data}}
"""

ALLOW_PSI_ON_HOST = """
peers:
  9999:
    components: {reader: [host], psi: [host]}
    tables: [demo.host]
"""


def extraction(job_id: str = "steal", table: str = "demo.host") -> str:
    return EXTRACTION.format(job_id=job_id, table=table)


@pytest.fixture
async def two(cluster: Cluster) -> Cluster:
    await cluster.add_party(GUEST, tables=("demo.one_row",))
    await cluster.add_party(HOST, tables=("demo.host", "demo.secret"))
    await cluster.start_flow(GUEST)
    return cluster


def job_state(c: Cluster, party: int, job_id: str) -> str | None:
    job = c.flows[party].store.get_job(job_id)
    return None if job is None else job.state


async def ended(c: Cluster, party: int, job_id: str, wanted: str) -> str:
    await eventually(lambda: job_state(c, party, job_id) == wanted, what=f"{job_id} {wanted} at {party}")
    return c.flows[party].store.get_job(job_id).message  # type: ignore[union-attr]


def host_looked_at_tables(c: Cluster) -> list[str]:
    return [
        f"{r.get_table_meta.namespace}.{r.get_table_meta.name}"
        for r in c.parties[HOST].cluster_requests
        if r.WhichOneof("request") == "get_table_meta"
    ]


async def submit(c: Cluster, text: str) -> None:
    r = await c.client(GUEST).post("/v1/jobs", content=text)
    assert r.status_code == 201, r.text


async def test_default_policy_refuses_the_extraction_and_reveals_nothing_about_tables(two: Cluster) -> None:
    await two.start_flow(HOST, policy=None)  # no policy stored: the default denies every peer
    await submit(two, extraction("steal_existing", "demo.host"))
    await submit(two, extraction("steal_missing", "demo.nothere"))
    existing = await ended(two, GUEST, "steal_existing", "REFUSED")
    missing = await ended(two, GUEST, "steal_missing", "REFUSED")
    assert (
        existing
        == missing
        == ("refused by party 10000: the policy of party 10000 does not accept jobs from party 9999")
    )
    assert await ended(two, HOST, "steal_existing", "REFUSED") == await ended(
        two, HOST, "steal_missing", "REFUSED"
    )
    assert two.parties[HOST].runs() == []  # nothing ran at the host
    assert host_looked_at_tables(two) == []  # and no table was even looked up
    audit = [a for a in two.flows[HOST].store.list_audit() if a.job_id]
    assert [(a.action, a.actor, a.peer, a.job_id) for a in audit] == [
        ("refuse", "policy", GUEST, "steal_missing"),
        ("refuse", "policy", GUEST, "steal_existing"),
    ]
    assert audit[0].reason == "the policy of party 10000 does not accept jobs from party 9999"


async def test_a_table_the_peer_may_not_use_is_refused_alike_whether_it_exists_or_not(two: Cluster) -> None:
    await two.start_flow(
        HOST, policy=ALLOW_PSI_ON_HOST.replace("psi: [host]", "psi: [host], column_stats: [host]")
    )
    await submit(two, extraction("exists", "demo.secret"))
    await submit(two, extraction("ghost", "demo.ghost"))
    exists = await ended(two, GUEST, "exists", "REFUSED")
    ghost = await ended(two, GUEST, "ghost", "REFUSED")
    assert exists == (
        "refused by party 10000: the policy of party 10000: task reader_0: "
        "table demo.secret is not available to party 9999"
    )
    assert ghost == exists.replace("demo.secret", "demo.ghost")
    assert host_looked_at_tables(two) == [] and two.parties[HOST].runs() == []


async def test_a_component_the_policy_does_not_list_is_refused(two: Cluster) -> None:
    await two.start_flow(HOST, policy=ALLOW_PSI_ON_HOST)
    await submit(two, extraction())
    assert await ended(two, GUEST, "steal", "REFUSED") == (
        "refused by party 10000: the policy of party 10000: task stats_0: "
        "component column_stats in role host is not allowed for party 9999"
    )
    assert two.parties[HOST].runs() == []


async def test_a_job_the_policy_allows_runs(two: Cluster) -> None:
    await two.start_flow(
        HOST, policy=ALLOW_PSI_ON_HOST.replace("psi: [host]", "psi: [host], column_stats: [host]")
    )
    await submit(two, extraction("fine"))
    await ended(two, GUEST, "fine", "SUCCEEDED")
    assert set(host_looked_at_tables(two)) == {"demo.host"}  # at the proposal and before the task
    assert [a.action for a in two.flows[HOST].store.list_audit(job_id="fine")] == ["accept"]


async def test_a_held_proposal_waits_for_approve_then_runs(two: Cluster) -> None:
    await two.start_flow(HOST, policy="default: hold")
    guest = two.flows[GUEST]
    await submit(two, extraction("held"))
    await eventually(
        lambda: {p.party_id: p.state for p in guest.store.list_parties("held")}.get(HOST) == "HELD",
        what="the guest sees the proposal held",
    )
    operator = two.client(HOST, token=two.token(HOST, "operator"))
    pending = (await operator.get("/v1/approvals")).json()["pending"]
    assert [(j["job_id"], j["initiator"], j["reason"]) for j in pending] == [
        ("held", GUEST, "no rule for party 9999 in the policy of party 10000")
    ]
    await guest.coordinator.check_deadlines(now=guest.store.get_job("held").created + 30)  # type: ignore[union-attr]
    assert job_state(two, GUEST, "held") == "PROPOSED" and job_state(two, HOST, "held") == "PROPOSED"
    assert two.parties[HOST].runs() == [] and two.parties[GUEST].runs() == []

    viewer = two.client(HOST, token=two.token(HOST, "viewer"))
    assert (await viewer.post("/v1/jobs/held/approve")).status_code == 403
    r = await operator.post("/v1/jobs/held/approve")
    assert r.status_code == 200 and r.json()["state"] == "ACCEPTED"
    await ended(two, GUEST, "held", "SUCCEEDED")
    await ended(two, HOST, "held", "SUCCEEDED")
    again = await operator.post("/v1/jobs/held/approve")
    assert again.status_code == 409 and "not waiting for approval" in again.json()["error"]["message"]
    assert [(a.action, a.actor) for a in two.flows[HOST].store.list_audit(job_id="held")] == [
        ("approve", "test-operator-1"),
        ("hold", "policy"),
    ]


async def test_refuse_ends_a_held_proposal_everywhere(two: Cluster) -> None:
    await two.start_flow(HOST, policy="default: hold")
    await submit(two, extraction("nope"))
    await eventually(lambda: two.flows[HOST].coordinator.pending(), what="held at the host")
    operator = two.client(HOST, token=two.token(HOST, "operator"))
    r = await operator.post("/v1/jobs/nope/refuse", json={"reason": "not with our customers"})
    assert r.status_code == 200 and r.json()["state"] == "REFUSED"
    assert await ended(two, GUEST, "nope", "REFUSED") == (
        "refused by party 10000: refused by an operator at party 10000: not with our customers"
    )
    assert two.parties[HOST].runs() == [] and two.parties[GUEST].runs() == []
    assert (await operator.get("/v1/approvals")).json()["pending"] == []


async def test_a_repeated_proposal_of_a_held_job_is_not_accepted(two: Cluster) -> None:
    """The initiator restarts and proposes again: the host keeps holding it."""
    await two.start_flow(HOST, policy="default: hold")
    two.router.hold_kinds = {"status"}  # the host's "held" answer is lost
    await submit(two, extraction("again"))
    await eventually(lambda: two.flows[HOST].coordinator.pending(), what="held at the host")
    two.router.hold_kinds, two.router.held = set(), []
    await two.stop_flow(GUEST)
    two.flows[GUEST] = await two.start_flow(GUEST)  # recover() proposes again to parties still PROPOSED
    guest = two.flows[GUEST]
    await eventually(
        lambda: {p.party_id: p.state for p in guest.store.list_parties("again")}.get(HOST) == "HELD",
        what="held again",
    )
    assert two.router.kinds(HOST, GUEST) == ["status", "status"]
    assert job_state(two, GUEST, "again") == "PROPOSED" and two.parties[HOST].runs() == []


async def test_min_intersection_fails_a_psi_below_the_floor(two: Cluster) -> None:
    policy = ALLOW_PSI_ON_HOST.replace("psi: [host]", "psi: [host], column_stats: [host]")
    await two.start_flow(HOST, policy=policy + "    min_intersection: 100\n")
    two.parties[HOST].summaries["psi_0"] = {"intersected_rows": 1.0}
    await submit(two, extraction("tiny"))
    message = await ended(two, GUEST, "tiny", "FAILED")
    assert message == (
        "task psi_0 failed at party 10000: the intersection of 1 rows is below the minimum of 100 rows "
        "that the policy of party 10000 requires"
    )
    assert "stats_0" not in {r.task_name for r in two.parties[HOST].runs()}


async def test_policy_api_and_file(cluster: Cluster) -> None:
    await cluster.add_party(HOST, tables=("demo.host",))
    flow = await cluster.start_flow(HOST, policy=None)
    admin = cluster.client(HOST)
    assert (await admin.get("/v1/policy")).json()["source"] == "default"
    bad = await admin.put("/v1/policy", content="peers: {9999: {action: maybe}}")
    assert bad.status_code == 400 and "peers.9999.action" in bad.json()["error"]["message"]
    ok = await admin.put("/v1/policy", content=ALLOW_PSI_ON_HOST)
    assert ok.status_code == 200 and ok.json()["policy"]["peers"]["9999"]["tables"] == ["demo.host"]
    assert [a.action for a in flow.store.list_audit()][:1] == ["policy_set"]
    await cluster.stop_flow(HOST)
    policy_file = cluster.tmp_path / "policy.yaml"
    policy_file.write_text("default: hold\n")
    await cluster.start_flow(HOST, policy=None, policy_file=policy_file)
    admin = cluster.client(HOST)
    got = (await admin.get("/v1/policy")).json()
    assert got["source"] == "file" and got["policy"]["default"] == "hold"
    refused = await admin.put("/v1/policy", content="default: deny")
    assert refused.status_code == 409 and "policy file (policy.yaml)" in refused.json()["error"]["message"]


RULES = jobspec.SpecRules(
    self_party=HOST,
    known_parties=frozenset({GUEST, HOST, ARBITER}),
    default_timeout_s=60,
    max_timeout_s=3600,
    max_yaml_bytes=100_000,
)
LR = """
parties: {guest: [9999], host: [10000], arbiter: [10001]}
initiator: {role: guest, party_id: 9999}
components:
  - {name: reader_0, component: reader, role_params: {guest: {table: demo.g}, host: {table: demo.host}}}
  - {name: psi_0, component: psi, inputs: {data: reader_0.data}}
  - {name: lr_0, component: hetero_lr, inputs: {data: psi_0.data}, params: {epochs: EPOCHS}}
"""
LR_RULE = "peers: {9999: {components: {reader: [host], psi: [host], hetero_lr: [host]}, tables: [demo.*], max_epochs: 20}}"


@pytest.mark.parametrize(("epochs", "verdict"), [(20, "accept"), (21, "refuse")])
def test_max_epochs(epochs: int, verdict: str) -> None:
    spec = jobspec.parse_job_yaml(LR.replace("EPOCHS", str(epochs)), RULES)
    decision = decide(parse_policy(LR_RULE), spec, HOST, GUEST)
    assert decision.verdict == verdict
    if verdict == "refuse":
        assert decision.reason == "the policy of party 10000: task lr_0: epochs 21 exceeds the maximum 20"


def test_a_rule_for_another_peer_does_not_let_this_one_in() -> None:
    spec = jobspec.parse_job_yaml(LR.replace("EPOCHS", "5"), RULES)
    policy = parse_policy(LR_RULE.replace("9999", "12345"))
    assert decide(policy, spec, HOST, GUEST).verdict == "refuse"
    assert decide(Policy(default="hold"), spec, HOST, GUEST).verdict == "hold"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("default: allow", "default: Input should be 'deny' or 'hold'"),
        ("peers: {9999: {tabels: []}}", "peers.9999.tabels: Extra inputs are not permitted"),
        ("[1, 2]", "policy: expected a mapping"),
        (
            "peers: {9999: {max_epochs: 0}}",
            "peers.9999.max_epochs: Input should be greater than or equal to 1",
        ),
    ],
)
def test_bad_policies_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace(".", r"\.")):
        parse_policy(text)

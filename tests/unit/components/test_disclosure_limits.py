"""Disclosure limits no job lifts: k rows at least, checked PSI positions, checked training plans."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from silobridge.components import registry
from silobridge.components.hetero_lr import guest as lr_guest
from silobridge.components.psi import _guest as psi_guest
from silobridge.components.registry import ComponentDef, RoleFn
from silobridge.disclosure import DisclosureLimits
from silobridge.errors import DisclosureRefused, IntegrityError, InvalidInput, public_message
from silobridge.federation.context import TaskContext
from silobridge.ml.protocol import guarded
from silobridge.table import Table
from silobridge.testing import FederatedRun, run_component
from silobridge.testing.datasets import vertical_split

SECRET = 73_421.25  # the victim's feature value that must not reach the attacker


def _host_table(rows: int) -> Table:
    ids = np.array([f"c{i}" for i in range(rows)])
    features = np.column_stack([np.full(rows, SECRET), np.arange(rows, dtype=float)])
    return Table(ids=ids, features=features, feature_names=["income", "n"])


def _guest_table(ids: list[str]) -> Table:
    n = len(ids)
    return Table(ids=np.array(ids), features=np.ones((n, 1)), feature_names=["g"], label=np.zeros(n))


def tampering(fn: RoleFn, name: str, change: Callable[[TaskContext, Any], Any]) -> RoleFn:
    """A malicious role: ``fn`` whose outgoing ``name`` messages are replaced by ``change(ctx, value)``."""

    def role(ctx: TaskContext) -> Any:
        send = ctx.send

        def forged(to: str | int, what: str, value: Any, *, tag: str | None = None) -> None:
            send(to, what, change(ctx, value) if what == name else value, tag=tag)

        ctx.send = forged  # type: ignore[method-assign]
        return fn(ctx)

    return guarded(role)


def _with(component: str, **roles: RoleFn) -> ComponentDef:
    real = registry.get(component)
    return ComponentDef(name=real.name, roles={**real.roles, **roles}, params=real.params)


def _sent(run: FederatedRun, src: int, dst: int) -> list[str]:
    return [s.name for s in run.hub.sent if s.src == src and s.dst == dst]


# ----- k: the one-row extraction ---------------------------------------------------------------


def test_one_row_psi_is_refused_before_the_guest_learns_membership() -> None:
    # The attacker knows one customer id of the victim (host 2) and brings a one-row table.
    run = run_component(
        "psi",
        {"guest": [1], "host": [2]},
        inputs={1: {"data": _guest_table(["c7"])}, 2: {"data": _host_table(500)}},
    )
    assert set(run.errors) == {1, 2}
    for exc in run.errors.values():
        assert isinstance(exc, DisclosureRefused) or "aborted" in str(exc)
        assert "minimum aggregation size k=10 of party" in public_message(exc)
    # The host never said which guest points matched: the guest cannot tell whether c7 is shared.
    # (It acknowledged taking the guest's one message of points: flow control, nothing learned.)
    assert _sent(run, 2, 1) == ["psi_host_blinded", "psi_guest_blinded_ack", "abort"]


def test_one_row_column_stats_is_refused_by_k_and_no_value_crosses() -> None:
    # A permissive policy let the job run; the host's k still refuses the "mean" of one row.
    run = run_component(
        "column_stats",
        {"guest": [1], "host": [2]},
        inputs={1: {"data": _guest_table(["c7"])}, 2: {"data": _host_table(1)}},
    )
    assert isinstance(run.errors[2], DisclosureRefused)
    assert "fewer than the minimum aggregation size k=10 of party 2" in str(run.errors[2])
    assert "min_aggregation_rows" in str(run.errors[2])
    assert "party 2 (host) aborted" in str(run.errors[1])
    assert "column_stats" not in _sent(run, 2, 1)
    secret = np.array([SECRET]).tobytes()
    assert not any(secret in s.payload for s in run.hub.sent)


def test_k_is_the_partys_setting_and_no_job_parameter_lowers_it() -> None:
    inputs = {1: {"data": _guest_table(["c1"])}, 2: {"data": _host_table(40)}}
    allowed = run_component("column_stats", {"guest": [1], "host": [2]}, inputs=inputs)
    allowed.raise_any()
    assert allowed.result(1).summary["host_rows"] == 40
    strict = run_component(
        "column_stats", {"guest": [1], "host": [2]}, inputs=inputs, limits={2: DisclosureLimits(min_rows=50)}
    )
    assert "k=50 of party 2" in str(strict.errors[2])
    with pytest.raises(InvalidInput, match="min_rows"):
        run_component("column_stats", {"guest": [1], "host": [2]}, inputs=inputs, params={"min_rows": 1})
    with pytest.raises(InvalidInput):
        DisclosureLimits(min_rows=0)


def test_evaluation_of_fewer_than_k_rows_is_refused() -> None:
    scored = Table(
        ids=np.array([f"r{i}" for i in range(6)]),
        features=np.linspace(0.1, 0.9, 6)[:, None],
        feature_names=["score"],
        label=np.array([0, 1, 0, 1, 0, 1], dtype=float),
    )
    run = run_component("evaluation", {"guest": [1]}, inputs={1: {"data": scored}})
    assert isinstance(run.errors[1], DisclosureRefused)
    assert "evaluation metrics covers 6 rows" in str(run.errors[1])
    fine = run_component(
        "evaluation", {"guest": [1]}, inputs={1: {"data": scored}}, limits={1: DisclosureLimits(min_rows=5)}
    )
    assert fine.result(1).summary["rows"] == 6


# ----- PSI: the host checks the positions it is sent -------------------------------------------


def _all_rows(ctx: TaskContext, pos: np.ndarray) -> np.ndarray:
    return np.arange(200, dtype=np.int64)  # every row of the host, shared or not


FORGERIES: dict[str, Callable[[TaskContext, np.ndarray], np.ndarray]] = {
    "outside the intersection": _all_rows,
    "a subset": lambda ctx, pos: pos[: len(pos) // 2],
    "repeated": lambda ctx, pos: np.concatenate([pos, pos[:1]]),
    "out of range": lambda ctx, pos: np.concatenate([pos[:-1], np.array([10_000], dtype=np.int64)]),
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_forged_psi_positions_fail_the_job(forgery: str) -> None:
    guest_ids = [f"c{i}" for i in range(150, 250)]  # 50 shared with the host's c0..c199
    run = run_component(
        _with("psi", guest=tampering(psi_guest, "psi_result", FORGERIES[forgery])),
        {"guest": [1], "host": [2]},
        inputs={1: {"data": _guest_table(guest_ids)}, 2: {"data": _host_table(200)}},
    )
    assert isinstance(run.errors[2], IntegrityError)
    assert "refused forged intersection positions from the guest" in public_message(run.errors[2])
    assert 2 not in run.results


def test_honest_psi_positions_are_the_hosts_own_intersection() -> None:
    guest_ids = [f"c{i}" for i in range(150, 250)]
    run = run_component(
        "psi",
        {"guest": [1], "host": [2]},
        inputs={1: {"data": _guest_table(guest_ids)}, 2: {"data": _host_table(200)}},
    )
    run.raise_any()
    out = run.result(2).tables["data"]
    assert sorted(out.ids) == sorted(f"c{i}" for i in range(150, 200))
    assert list(out.ids) == list(run.result(1).tables["data"].ids)


def test_a_guest_cannot_make_up_matches_by_repeating_reblinded_ids() -> None:
    def repeat(ctx: TaskContext, points: np.ndarray) -> np.ndarray:
        return np.repeat(points[:1], len(points), axis=0)

    run = run_component(
        _with("psi", guest=tampering(psi_guest, "psi_host_double", repeat)),
        {"guest": [1], "host": [2]},
        inputs={1: {"data": _guest_table([f"c{i}" for i in range(100)])}, 2: {"data": _host_table(200)}},
    )
    assert isinstance(run.errors[2], IntegrityError)
    assert "repeat a value" in str(run.errors[2])
    assert "psi_host_matches" not in _sent(run, 2, 1)


def test_a_guest_that_repeats_its_blinded_ids_is_refused_before_matches_leave() -> None:
    """Each host row matches one guest id at most: repeats are refused, so a guest cannot make the
    host collect more matches than it has rows."""

    def repeat(ctx: TaskContext, points: np.ndarray) -> np.ndarray:
        return np.repeat(points[:1], len(points), axis=0)

    run = run_component(
        _with("psi", guest=tampering(psi_guest, "psi_guest_blinded", repeat)),
        {"guest": [1], "host": [2]},
        inputs={1: {"data": _guest_table([f"c{i}" for i in range(100)])}, 2: {"data": _host_table(200)}},
    )
    assert isinstance(run.errors[2], IntegrityError)
    assert "repeat a value" in str(run.errors[2])
    assert "psi_host_matches" not in _sent(run, 2, 1)


# ----- hetero LR: the host checks the training plan (which rows each batch aggregates) ----------


@pytest.fixture(scope="module")
def split(cancer: tuple[np.ndarray, np.ndarray]) -> tuple[Table, Table]:
    return vertical_split(cancer[0][:120], cancer[1][:120], 10)


def _lr(
    split: tuple[Table, Table], component: str | ComponentDef = "hetero_lr", **params: Any
) -> FederatedRun:
    guest, host = split
    return run_component(
        component,
        {"guest": [1], "host": [2], "arbiter": [9]},
        inputs={1: {"data": guest}, 2: {"data": host}},
        params={"key_bits": 1024, "epochs": 1, "seed": 3, **params},
    )


def test_a_plan_of_one_row_batches_is_refused_by_the_host(split: tuple[Table, Table]) -> None:
    def one_row_batches(ctx: TaskContext, plan: dict[str, int]) -> dict[str, int]:
        return {**plan, "batch_size": 1}  # the host's gradient would then reveal each row's residual

    run = _lr(
        split, _with("hetero_lr", guest=tampering(lr_guest.train, "plan", one_row_batches)), batch_size=40
    )
    assert isinstance(run.errors[2], IntegrityError)
    assert "batch_size=1" in str(run.errors[2]) and "batch_size=40" in str(run.errors[2])
    assert "forward" not in _sent(run, 2, 1)


def test_batches_smaller_than_k_are_refused_at_every_party(split: tuple[Table, Table]) -> None:
    run = _lr(split, batch_size=4)
    assert set(run.errors) == {1, 2, 9}
    assert (
        "hetero_lr: a mini-batch covers fewer rows than the minimum aggregation size k=10"
        in public_message(run.errors[1])
    )


def test_no_batch_is_smaller_than_the_batch_size() -> None:
    from silobridge.components.hetero_lr.common import batches

    for rows, size in ((455, 128), (569, 128), (130, 64), (21, 10)):
        parts = batches(rows, size, 1, 0)
        assert min(len(b) for b in parts) >= size
        assert sorted(np.concatenate(parts)) == list(range(rows))


def test_k_comes_from_the_node_managers_settings() -> None:
    from node_manager.settings import NodeManagerSettings
    from silobridge.config import SettingsError, load_settings

    env = {"SILOBRIDGE_MIN_AGGREGATION_ROWS": "25"}
    assert load_settings(NodeManagerSettings, env).disclosure_limits == DisclosureLimits(min_rows=25)
    assert load_settings(NodeManagerSettings, {}).disclosure_limits.min_rows == 10
    with pytest.raises(SettingsError, match="SILOBRIDGE_MIN_AGGREGATION_ROWS"):
        load_settings(NodeManagerSettings, {"SILOBRIDGE_MIN_AGGREGATION_ROWS": "0"})

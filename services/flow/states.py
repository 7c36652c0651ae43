"""Job and task state machines: which transitions are legal, which states are final.

States are stored as their short names (``RUNNING``); the protobuf enums are
``JOB_STATE_<name>`` / ``TASK_STATE_<name>``.
"""

from __future__ import annotations

from silobridge.errors import Conflict
from silobridge.flow.v1 import flow_pb2
from silobridge.node.v1 import node_pb2

PROPOSED, ACCEPTED, RUNNING = "PROPOSED", "ACCEPTED", "RUNNING"
SUCCEEDED, FAILED, STOPPED, REFUSED = "SUCCEEDED", "FAILED", "STOPPED", "REFUSED"
WAITING, CANCELLED = "WAITING", "CANCELLED"
# A party's state at the initiator while it holds the proposal for an operator's approval.
HELD = "HELD"

JOB_FINAL = frozenset({SUCCEEDED, FAILED, STOPPED, REFUSED})
TASK_FINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})

JOB_TRANSITIONS: dict[str, frozenset[str]] = {
    PROPOSED: frozenset({ACCEPTED, REFUSED, FAILED, STOPPED}),
    ACCEPTED: frozenset({RUNNING, REFUSED, FAILED, STOPPED}),
    RUNNING: frozenset({SUCCEEDED, FAILED, STOPPED}),
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
    STOPPED: frozenset(),
    REFUSED: frozenset(),
}

TASK_TRANSITIONS: dict[str, frozenset[str]] = {
    WAITING: frozenset({RUNNING, FAILED, CANCELLED}),
    # RUNNING -> WAITING: a retry with attempt + 1.
    RUNNING: frozenset({SUCCEEDED, FAILED, CANCELLED, WAITING}),
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
    CANCELLED: frozenset(),
}


def job_can(current: str, new: str) -> bool:
    return new in JOB_TRANSITIONS.get(current, frozenset())


def task_can(current: str, new: str) -> bool:
    return new in TASK_TRANSITIONS.get(current, frozenset())


def check_job_transition(job_id: str, current: str, new: str) -> None:
    if not job_can(current, new):
        raise Conflict(f"job {job_id} is {current}: it cannot become {new}")


def job_state_enum(name: str) -> flow_pb2.JobState:
    return flow_pb2.JobState.Value(f"JOB_STATE_{name}")  # type: ignore[return-value]


def job_state_name(value: int) -> str:
    return flow_pb2.JobState.Name(value).removeprefix("JOB_STATE_")  # type: ignore[arg-type]


def task_state_enum(name: str) -> node_pb2.TaskState:
    return node_pb2.TaskState.Value(f"TASK_STATE_{name}")  # type: ignore[return-value]


def task_state_name(value: int) -> str:
    return node_pb2.TaskState.Name(value).removeprefix("TASK_STATE_")  # type: ignore[arg-type]

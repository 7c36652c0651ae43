"""The lines flow keeps about each of this party's task runs (``GET .../tasks/{task}/log``).

A task's log is what flow itself sees of the run, written into its store as it happens: the
attempt starting on a node, progress by tenths, each batch of metric points, the outcome with
its message and summary, a retry or a cancellation. It is not the component's stdout nor the
node-manager's process log (those stay in that process's structured log, tagged with job and
task). Each party keeps only its own runs' lines; no line ever crosses to another party.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flow.store import MetricRecord

MAX_LINE = 2000  # characters; a longer message is cut


def _cut(line: str) -> str:
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"


def _num(value: float) -> str:
    return f"{value:.6g}"


def started(attempt: int, node_id: str) -> list[str]:
    return [f"attempt {attempt} started on node {node_id}"]


def progress(before: float, after: float) -> list[str]:
    """A line when the run crosses a tenth (10%, 20%, ...): enough to follow, never a flood."""
    if int(after * 10) > int(before * 10):
        return [f"progress {int(after * 10) * 10}%"]
    return []


def metrics(points: Iterable[MetricRecord]) -> list[str]:
    """One line per step of the batch: ``step 3: loss=0.693147 auc=0.81``."""
    by_step: dict[int, list[str]] = {}
    for p in points:
        by_step.setdefault(p.step, []).append(f"{p.name}={_num(p.value)}")
    return [_cut(f"step {step}: {' '.join(values)}") for step, values in sorted(by_step.items())]


def ended(state: str, message: str, summary: Mapping[str, float] | None = None) -> list[str]:
    lines = [_cut(f"{state}: {message}" if message else state)]
    if summary:
        lines.append(_cut("summary: " + " ".join(f"{k}={_num(v)}" for k, v in sorted(summary.items()))))
    return lines


def retrying(attempt: int, message: str) -> list[str]:
    return [_cut(f"attempt {attempt} failed: {message}; retrying as attempt {attempt + 1}")]

"""A job's progress as one redrawn line: a bar over every party's tasks, and what runs now.

Drawn on a terminal only (stderr by default), so that piped output and ``--output json`` stay
clean; ``enabled=True`` forces it (tests, logs that want it).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

TASK_ENDED = ("SUCCEEDED", "FAILED", "STOPPED", "CANCELLED", "REFUSED")


def job_fraction(detail: dict[str, Any]) -> tuple[float, int, int]:
    """(fraction done, tasks ended, tasks) over every party's tasks; a running task counts its progress."""
    tasks = detail.get("tasks", [])
    ended = sum(1 for t in tasks if t["state"] in TASK_ENDED)
    if not tasks:
        return (1.0 if detail.get("state") in TASK_ENDED else 0.0), 0, 0
    done = sum(1.0 if t["state"] in TASK_ENDED else float(t.get("progress") or 0.0) for t in tasks)
    return min(done / len(tasks), 1.0), ended, len(tasks)


def job_line(detail: dict[str, Any], width: int = 30) -> str:
    fraction, ended, total = job_fraction(detail)
    bar = "#" * int(width * fraction)
    running = sorted({t["name"] for t in detail.get("tasks", []) if t["state"] == "RUNNING"})
    now = f"  running {', '.join(running)}" if running and detail["state"] == "RUNNING" else ""
    return f"  [{bar:<{width}}] {fraction:6.1%} {ended}/{total} tasks  {detail['state']}{now}"


class JobProgress:
    """Call it with each job detail read while waiting; :meth:`close` ends the line."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._width = 0
        self._drawn = False
        self._last = ""

    def __call__(self, detail: dict[str, Any]) -> None:
        if not self.enabled:
            return
        line = job_line(detail)
        if line == self._last:
            return  # nothing changed: a log file gets one line per change, not one per poll
        self._last = line
        # pad over a longer previous line, then return to the line's start
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = max(self._width, len(line))
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

"""A party's disclosure limits: what its components never release, whatever a job asks for.

The limits come from the party's own settings (the node-manager's ``min_aggregation_rows``) and
travel in every :class:`~silobridge.federation.context.TaskContext`. They are not job
parameters, so a job that a peer proposes cannot lower them. See ``docs/threat-model.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from silobridge.errors import InvalidInput

DEFAULT_MIN_AGGREGATION_ROWS = 10


@dataclass(frozen=True)
class DisclosureLimits:
    """``min_rows`` is *k*: no value computed from another party's rows covers fewer rows."""

    min_rows: int = DEFAULT_MIN_AGGREGATION_ROWS

    def __post_init__(self) -> None:
        if isinstance(self.min_rows, bool) or not isinstance(self.min_rows, int) or self.min_rows < 1:
            raise InvalidInput(f"min_aggregation_rows must be a positive integer, got {self.min_rows!r}")

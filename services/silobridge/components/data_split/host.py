"""Host of data_split: takes the guest's split codes after checking them against the job's fractions."""

from __future__ import annotations

import numpy as np

from silobridge.components.data_split.common import NAMES, fractions, tables
from silobridge.components.registry import TaskResult
from silobridge.errors import IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml.protocol import recv_checked


def split(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    ctx.send("guest", "rows", table.rows, tag="setup")
    codes = recv_checked(ctx, "guest", "split", "split")
    if not isinstance(codes, np.ndarray) or codes.dtype != np.uint8 or codes.shape != (table.rows,):
        raise IntegrityError(f"the guest sent no split code per row of the {table.rows} rows")
    if codes.size and (int(codes.max()) >= len(NAMES)):
        raise IntegrityError("the guest sent split codes outside 0..2")
    # Stratification moves each split's size by at most about one row per label class.
    counts = np.bincount(codes, minlength=len(NAMES))
    tolerance = max(2.0, 0.02 * table.rows)
    if np.any(np.abs(counts - fractions(ctx) * table.rows) > tolerance):
        raise IntegrityError(
            f"the guest's split sizes {counts.tolist()} do not follow the fractions the job accepted"
        )
    return tables(ctx, table, codes)

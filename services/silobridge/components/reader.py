"""``reader``: a party's uploaded table as the job's input (guest and hosts)."""

from __future__ import annotations

from pydantic import Field

from silobridge.components.registry import ComponentDef, Params, TaskResult, register
from silobridge.errors import ComponentError
from silobridge.federation.context import TaskContext


class ReaderParams(Params):
    table: str = Field(..., description="namespace.name of a table uploaded at this party")
    require_label: bool = Field(False, description="fail unless the table has a label column")


def _read(ctx: TaskContext) -> TaskResult:
    table = ctx.input("table")
    # has_label, not label: a bound table's label column is not read just to see that it exists.
    if ctx.param("require_label") and not table.has_label:
        raise ComponentError(f"table {ctx.param('table')} at party {ctx.party_id} has no label column")
    return TaskResult(
        tables={"data": table},
        summary={"rows": float(table.rows), "features": float(len(table.feature_names))},
    )


def _guest(ctx: TaskContext) -> TaskResult:
    table = ctx.input("table")
    if not table.has_label:
        raise ComponentError(
            f"missing label column: the guest's table {ctx.param('table')} at party {ctx.party_id} has no label"
        )
    return _read(ctx)


COMPONENT = register(
    ComponentDef(
        name="reader",
        roles={"guest": _guest, "host": _read},
        params=ReaderParams,
        table_params=("table",),
        outputs=("data",),
        description="Load an uploaded table; the guest's table must carry the label.",
    )
)

"""``data_split``: train / validate / test rows, the same at every party, stratified at the guest.

The guest draws every row's split (within each label class when ``stratified``) and sends hosts
only the split of each aligned row: a vector of 0/1/2 codes whose distribution does not depend on
any row's label. See docs/algorithms.md.
"""

from __future__ import annotations

from silobridge.components.data_split import guest, host
from silobridge.components.data_split.common import SplitParams
from silobridge.components.registry import ComponentDef, register
from silobridge.ml.protocol import guarded

COMPONENT = register(
    ComponentDef(
        name="data_split",
        roles={"guest": guarded(guest.split), "host": guarded(host.split)},
        params=SplitParams,
        outputs=("train", "validate", "test"),
        description="Aligned train/validate/test split, stratified by the guest's label without revealing it.",
    )
)

__all__ = ["COMPONENT", "SplitParams"]

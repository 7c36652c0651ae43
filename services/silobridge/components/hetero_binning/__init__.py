"""``hetero_binning``: per-party binning and WOE/IV, host IVs from the guest's encrypted labels.

Protocol: the guest makes a Paillier key, sends ``[[y]]`` to every host; a host bins its own
columns (edges stay at the host), merges bins below *k* rows, sums ``[[y]]`` per bin and sends
the sums (bins shuffled per column) with their row counts; the guest checks every count against
its *k*, decrypts the event counts and returns WOE per bin and IV per column. See
docs/algorithms.md.
"""

from __future__ import annotations

from silobridge.components.hetero_binning import guest, host
from silobridge.components.hetero_binning.common import BinningParams
from silobridge.components.registry import ComponentDef, register
from silobridge.ml.protocol import guarded

COMPONENT = register(
    ComponentDef(
        name="hetero_binning",
        roles={"guest": guarded(guest.fit), "host": guarded(host.fit)},
        params=BinningParams,
        outputs=("model", "data"),
        description="Quantile or bucket binning per party; WOE/IV of host columns from encrypted labels.",
    )
)

__all__ = ["COMPONENT", "BinningParams"]

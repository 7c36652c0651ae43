"""``hetero_secureboost`` and ``hetero_secureboost_predict``: vertical gradient-boosted trees.

Protocol (SecureBoost, Cheng et al. 2019, as in FATE): the guest holds the labels and a Paillier
key, encrypts every row's packed ``(g, h)`` once per tree and sends it to the hosts; hosts return
encrypted per-bin sums for the nodes the guest names (only the smaller child of each pair: the
guest subtracts for the sibling); the guest decrypts, finds the best split over all parties, and
a host split stays at the host as an opaque id. See docs/algorithms.md.
"""

from __future__ import annotations

from silobridge.components.hetero_secureboost import guest, host
from silobridge.components.hetero_secureboost.common import SecureBoostParams, SecureBoostPredictParams
from silobridge.components.pipeline import with_pipeline
from silobridge.components.registry import ComponentDef, register
from silobridge.ml.protocol import guarded

COMPONENT = register(
    ComponentDef(
        name="hetero_secureboost",
        roles={"guest": guarded(guest.train), "host": guarded(host.train)},
        params=SecureBoostParams,
        outputs=("model", "predictions"),
        description="Vertical gradient-boosted trees: Paillier-encrypted packed gradients, host histograms.",
    )
)

PREDICT = register(
    ComponentDef(
        name="hetero_secureboost_predict",
        roles={"guest": guarded(with_pipeline(guest.predict)), "host": guarded(with_pipeline(host.predict))},
        params=SecureBoostPredictParams,
        outputs=("predictions",),
        description="Score aligned rows with hetero_secureboost models (after the party's fitted scale and "
        "selection): hosts send only leaf masks.",
    )
)

__all__ = ["COMPONENT", "PREDICT", "SecureBoostParams"]

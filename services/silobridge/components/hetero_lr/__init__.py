"""``hetero_lr`` and ``predict``: vertical logistic regression with an arbiter.

Protocol (FATE's coordinated hetero-LR): the arbiter makes a Paillier keypair and sends the
public key; each batch, hosts send [[X_h w_h]], the guest forms the Taylor residual
[[d]] = [[0.25 z - 0.5 y]] and sends it to the hosts, every party computes X^T [[d]] / m, adds a
random mask of its own and has the arbiter decrypt it; the arbiter also decrypts the scalar
Taylor loss and decides early stopping. See docs/algorithms.md.
"""

from __future__ import annotations

from silobridge.components.hetero_lr import arbiter, guest, host
from silobridge.components.hetero_lr.common import HeteroLRParams, PredictParams
from silobridge.components.pipeline import with_pipeline
from silobridge.components.registry import ComponentDef, register
from silobridge.ml.protocol import guarded

COMPONENT = register(
    ComponentDef(
        name="hetero_lr",
        roles={"guest": guarded(guest.train), "host": guarded(host.train), "arbiter": guarded(arbiter.train)},
        params=HeteroLRParams,
        outputs=("model", "predictions"),
        description="Vertical logistic regression: Paillier-encrypted residuals, masked gradients, arbiter.",
    )
)

PREDICT = register(
    ComponentDef(
        name="predict",
        roles={
            "guest": guarded(with_pipeline(guest.predict)),
            "host": guarded(with_pipeline(host.predict)),
        },
        params=PredictParams,
        outputs=("predictions",),
        description="Score aligned rows with a hetero_lr model (after the party's fitted scale and selection): "
        "hosts send partial scores to the guest.",
    )
)

__all__ = ["COMPONENT", "PREDICT", "HeteroLRParams"]

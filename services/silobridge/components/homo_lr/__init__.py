"""``homo_lr``: horizontal logistic regression (FedAvg / FedProx) with secure aggregation.

Clients (the guest and any hosts) hold the same columns about different rows and train from
the global model each round; the arbiter averages ``n * w`` by sample count. Under secure
aggregation (Bonawitz et al. 2017) the arbiter sees masked vectors and unmasks only their sum,
also when clients drop out, down to the threshold. See docs/algorithms.md.
"""

from __future__ import annotations

from silobridge.components.homo_lr import arbiter, guest, host
from silobridge.components.homo_lr.common import HomoLRParams
from silobridge.components.registry import ComponentDef, register
from silobridge.ml.protocol import guarded

COMPONENT = register(
    ComponentDef(
        name="homo_lr",
        roles={"guest": guarded(guest.train), "host": guarded(host.train), "arbiter": guarded(arbiter.train)},
        params=HomoLRParams,
        outputs=("model", "predictions"),
        description="Horizontal logistic regression: FedAvg/FedProx, binary or softmax, secure aggregation.",
    )
)

__all__ = ["COMPONENT", "HomoLRParams"]

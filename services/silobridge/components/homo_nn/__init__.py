"""``homo_nn``: horizontal neural networks (FedAvg / FedProx) with secure aggregation.

Clients (the guest and any hosts) train the same network, built from a declarative spec
(``silobridge.ml.nn``), on their own rows; the arbiter averages the flattened parameters by
sample count through the same aggregation as ``homo_lr`` and never imports PyTorch. Nothing in
the job names code: a custom architecture is an entry point the party's admin installed.
"""

from __future__ import annotations

from silobridge.components.homo_nn import arbiter, guest, host
from silobridge.components.homo_nn.common import HomoNNParams
from silobridge.components.registry import ComponentDef, register
from silobridge.ml.protocol import guarded

COMPONENT = register(
    ComponentDef(
        name="homo_nn",
        roles={"guest": guarded(guest.train), "host": guarded(host.train), "arbiter": guarded(arbiter.train)},
        params=HomoNNParams,
        outputs=("model", "predictions"),
        description="Horizontal neural network (PyTorch, declarative spec): FedAvg/FedProx, secure aggregation.",
    )
)

__all__ = ["COMPONENT", "HomoNNParams"]

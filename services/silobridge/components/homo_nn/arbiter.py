"""Arbiter of homo-NN: checks that every client built the same network, takes the guest's
initial parameters as round 0's global model, then averages as homo-LR's arbiter does."""

from __future__ import annotations

import numpy as np

from silobridge.components.homo_lr.common import agreed_schema, clients, fedavg_rounds
from silobridge.components.homo_nn.common import SCHEMA_KEYS, vector_size
from silobridge.components.registry import TaskResult
from silobridge.errors import IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml.protocol import recv_checked

MAX_PARAMETERS = 20_000_000


def train(ctx: TaskContext) -> TaskResult:
    active = clients(ctx)
    first = agreed_schema(ctx, active, SCHEMA_KEYS, "homo_nn")
    parameters = int(first["parameters"])
    if not 0 < parameters <= MAX_PARAMETERS:
        raise IntegrityError(f"the clients' network has {parameters} parameters (at most {MAX_PARAMETERS})")
    guest = ctx.parties_of("guest")[0]
    init = recv_checked(ctx, guest, "init", "setup")
    if not isinstance(init, np.ndarray) or init.shape != (parameters,) or not np.all(np.isfinite(init)):
        raise IntegrityError(f"the guest's initial model is not {parameters} finite numbers")
    for p in active:
        ctx.send(p, "init", init, tag="setup")
    w, history, active = fedavg_rounds(ctx, active, vector_size(parameters), init)
    return TaskResult(
        # The arbiter keeps the averaged parameters, not the architecture or the column names.
        model={"parameters": w, "loss_history": np.array(history)},
        summary={
            "rounds": float(len(history)),
            "validation_loss": history[-1],
            "clients": float(len(active)),
        },
    )

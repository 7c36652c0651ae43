"""Scoring rows with an exported homo-NN model (what the standard ``predict`` runs for it).

The model carries its flattened ``parameters`` and its declarative ``architecture``; the network
is rebuilt through :mod:`silobridge.ml.nn` from the spec after the spec passes the same
allow-lists as a job's, so nothing a model file says is imported (a ``plugin`` spec finds only
an entry point the party's admin installed, as in training).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from silobridge.components.homo_lr.predict import classes_of
from silobridge.errors import ComponentError
from silobridge.ml import nn


def probabilities(model: dict[str, Any], features: np.ndarray) -> np.ndarray:
    """Softmax scores per row and class, as the training task computed its predictions."""
    architecture = np.asarray(model.get("architecture", []), dtype=str).ravel()
    if architecture.shape != (1,):
        raise ComponentError(
            "the homo_nn model has no architecture: the arbiter keeps only the averaged parameters; "
            "score with a client's model"
        )
    spec = nn.spec_from_json(str(architecture[0]))
    classes = classes_of(model, "homo_nn")
    parameters = np.asarray(model.get("parameters", []), dtype=np.float64).ravel()
    if not np.all(np.isfinite(parameters)):
        raise ComponentError("the homo_nn model has NaN or infinite parameters")
    torch = nn.require_torch("scoring a homo_nn model needs PyTorch at this party")
    torch.set_num_threads(1)  # as in training: small networks, several tasks per node-manager
    module = nn.build(spec, features.shape[1], classes)
    expected = nn.parameter_count(module)
    if len(parameters) != expected:
        raise ComponentError(
            f"the homo_nn model does not fit the input table: its {spec['kind']} network on "
            f"{features.shape[1]} feature columns and {classes} classes has {expected} parameters, "
            f"the model {len(parameters)}"
        )
    nn.load_flat(module, parameters)
    return nn.probabilities(module, features)

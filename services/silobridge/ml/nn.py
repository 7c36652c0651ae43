"""Neural networks for horizontal FL, built from a declarative spec (PyTorch, CPU).

A job describes a model as data only: a named built-in (``mlp``), a list of layers from a fixed
set, or the *name* of a plugin that the party's admin installed locally (an entry point in the
``silobridge.models`` group). Nothing a job or a peer sends is imported or executed: a plugin
name is matched against the entry points installed at this party, never resolved as a module
path, and the spec's strings are checked against the allow-lists below before any import.

PyTorch is an optional extra (``pip install 'silobridge[torch]'``); the spec is validated without
it (flow and the arbiter never import torch), and a client without it fails with that command.
"""

from __future__ import annotations

import importlib.metadata
import threading
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from silobridge.errors import ComponentError

PLUGIN_GROUP = "silobridge.models"
_BUILD_LOCK = threading.Lock()
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu")
LOSSES = ("cross_entropy",)
OPTIMIZERS = ("sgd", "adam", "adamw")


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


Width = Annotated[int, Field(ge=1, le=4096)]


class MLPSpec(Params):
    kind: Literal["mlp"] = "mlp"
    hidden: list[Width] = Field(default_factory=lambda: [64], max_length=16, description="hidden widths")
    activation: Literal["relu", "tanh", "sigmoid", "gelu"] = "relu"
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout after every hidden layer")


class LayerSpec(Params):
    type: Literal["linear", "relu", "tanh", "sigmoid", "gelu", "dropout"]
    out: Width | None = Field(None, description="linear: output width")
    p: float | None = Field(None, ge=0.0, lt=1.0, description="dropout: probability")


class LayersSpec(Params):
    """Layers in order; the output layer (one logit per class) is added after the last."""

    kind: Literal["layers"]
    layers: list[LayerSpec] = Field(max_length=64)


class PluginSpec(Params):
    """A model the party's admin installed: entry point ``name`` in group ``silobridge.models``,
    a callable ``(features, classes, **options) -> torch.nn.Module``."""

    kind: Literal["plugin"]
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="entry point name, not a module path")
    options: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")], int | float | bool] = Field(
        default_factory=dict, max_length=32
    )


ModelSpec = Annotated[MLPSpec | LayersSpec | PluginSpec, Field(discriminator="kind")]


def require_torch(needed_for: str = "homo_nn needs PyTorch at every client") -> Any:
    try:
        import torch
    except ImportError:
        raise ComponentError(
            f"{needed_for}: install the torch extra, pip install 'silobridge[torch]'"
        ) from None
    return torch


def spec_from_json(text: str) -> dict[str, Any]:
    """A saved spec (a model's ``architecture``) checked against the same allow-lists as a job's:
    a stored model names no more code than a job may."""
    try:
        spec = TypeAdapter(ModelSpec).validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(spec)'}: {e['msg']}" for e in exc.errors()
        )
        raise ComponentError(f"the model's architecture is not a valid network spec: {problems}") from None
    return spec.model_dump()


def build(spec: dict[str, Any], features: int, classes: int, *, seed: int | None = None) -> Any:
    """The ``torch.nn.Module`` of a validated spec (a ``model_dump`` of one of the specs above),
    initialised from ``seed`` when given (torch's generator is global: tasks of one process
    building at once take turns)."""
    torch = require_torch()
    with _BUILD_LOCK:
        if seed is not None:
            torch.manual_seed(seed)
        return _build(torch, spec, features, classes)


def _build(torch: Any, spec: dict[str, Any], features: int, classes: int) -> Any:
    nn = torch.nn
    kind = spec.get("kind")
    if kind == "plugin":
        return _plugin(torch, spec, features, classes)
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}
    layers: list[Any] = []
    width = features
    if kind == "mlp":
        for h in spec["hidden"]:
            layers += [nn.Linear(width, h), acts[spec["activation"]]()]
            if spec["dropout"] > 0:
                layers.append(nn.Dropout(spec["dropout"]))
            width = h
    elif kind == "layers":
        for layer in spec["layers"]:
            if layer["type"] == "linear":
                if layer["out"] is None:
                    raise ComponentError("a linear layer of the model needs 'out' (its width)")
                layers.append(nn.Linear(width, layer["out"]))
                width = layer["out"]
            elif layer["type"] == "dropout":
                layers.append(nn.Dropout(layer["p"] or 0.0))
            else:
                layers.append(acts[layer["type"]]())
    else:
        raise ComponentError(f"unknown model kind {kind!r}: use mlp, layers or plugin")
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def _plugin(torch: Any, spec: dict[str, Any], features: int, classes: int) -> Any:
    found = [ep for ep in importlib.metadata.entry_points(group=PLUGIN_GROUP) if ep.name == spec["name"]]
    if not found:
        installed = sorted(ep.name for ep in importlib.metadata.entry_points(group=PLUGIN_GROUP))
        raise ComponentError(
            f"no model plugin named {spec['name']!r} is installed at this party "
            f"(installed: {', '.join(installed) or 'none'}; an admin installs plugins as entry points "
            f"in the {PLUGIN_GROUP!r} group)"
        )
    factory = found[0].load()  # installed locally by the party's admin, not named by the job
    module = factory(features, classes, **spec["options"])
    if not isinstance(module, torch.nn.Module):
        raise ComponentError(f"model plugin {spec['name']!r} did not return a torch.nn.Module")
    return module


def flat_parameters(module: Any) -> np.ndarray:
    """Every trainable parameter, in the module's order, as one float64 vector."""
    return np.concatenate([p.detach().cpu().numpy().astype(np.float64).ravel() for p in module.parameters()])


def parameter_count(module: Any) -> int:
    return sum(int(p.numel()) for p in module.parameters())


def probabilities(module: Any, features: np.ndarray) -> np.ndarray:
    """Softmax scores (rows x classes, float64) of ``module`` in evaluation mode."""
    torch = require_torch()
    module.eval()
    with torch.no_grad():
        X = torch.from_numpy(np.asarray(features, dtype=np.float32))
        return np.asarray(torch.softmax(module(X), dim=1).numpy(), dtype=np.float64)


def load_flat(module: Any, flat: np.ndarray) -> None:
    torch = require_torch()
    offset = 0
    with torch.no_grad():
        for p in module.parameters():
            n = p.numel()
            p.copy_(torch.from_numpy(np.asarray(flat[offset : offset + n])).reshape(p.shape).to(p.dtype))
            offset += n
    if offset != len(flat):
        raise ComponentError(f"the model has {offset} parameters, the vector {len(flat)}")


def optimizer(module: Any, kind: str, lr: float, momentum: float, weight_decay: float) -> Any:
    torch = require_torch()
    if kind == "sgd":
        return torch.optim.SGD(module.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    if kind == "adam":
        return torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
    if kind == "adamw":
        return torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay)
    raise ComponentError(f"unknown optimizer {kind!r}: use one of {', '.join(OPTIMIZERS)}")

"""Parameters and pieces shared by the clients and the arbiter of horizontal (homo) logistic regression."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field, PositiveInt, model_validator

from silobridge.components.registry import Params
from silobridge.errors import ComponentError, IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml import dp, metrics
from silobridge.ml.aggregation import arbiter_sum, client_send
from silobridge.ml.checks import finite_features
from silobridge.ml.fixed_point import FixedPoint
from silobridge.ml.protocol import recv_checked
from silobridge.table import Table

# The aggregated vector: n * flattened weights, then n, n_val * validation loss, n_val.
TAIL = 3


class FedAvgParams(Params):
    """What every horizontal (FedAvg) component shares: rounds, local training, secure aggregation."""

    rounds: int = Field(20, ge=1, le=10_000, description="maximum aggregation rounds (FedAvg steps)")
    local_epochs: int = Field(
        1, ge=1, le=1_000, description="passes over its own rows a client makes per round"
    )
    batch_size: Literal[-1] | PositiveInt = Field(
        -1, description="rows per local mini-batch; -1 = full batch"
    )
    learning_rate: float = Field(0.5, gt=0.0, description="initial local learning rate")
    lr_decay: float = Field(
        0.0, ge=0.0, description="per-round inverse-time decay: lr / (1 + lr_decay * round)"
    )
    mu: float = Field(0.0, ge=0.0, description="FedProx proximal term mu/2 |w - w_global|^2; 0 = FedAvg")
    classes: int = Field(
        2, ge=2, le=1_000, description="2: binary (sigmoid); more: softmax, labels 0..classes-1"
    )
    validation_fraction: float = Field(
        0.2,
        ge=0.0,
        lt=1.0,
        description="share of each client's rows held out (stratified) for validation loss",
    )
    early_stop: bool = Field(True, description="stop when the aggregated validation loss stops improving")
    tol: float = Field(1e-4, ge=0.0, description="an improvement smaller than this does not count")
    patience: int = Field(2, ge=1, description="rounds without improvement before stopping")
    secure_aggregation: bool = Field(
        True, description="mask updates (Bonawitz et al.): the arbiter sees only sums"
    )
    threshold: int | None = Field(
        None,
        ge=2,
        description="secure aggregation: fewest clients that may finish a round; default a majority",
    )
    fixed_point_bits: int = Field(24, ge=8, le=40, description="fraction bits of the fixed-point encoding")
    update_bound: float = Field(
        2.0**28, gt=0.0, description="largest |n * weight| a client may send under secure aggregation"
    )
    dropout_timeout_s: float = Field(
        60.0,
        gt=0.0,
        description="arbiter: how long to wait for a client in a round before it counts as dropped",
    )
    seed: int | None = Field(
        None, description="seed of each client's validation split and shuffling; random when unset"
    )
    dp_clip: float | None = Field(
        None,
        gt=0.0,
        description="differential privacy: clip each client's round update to this L2 norm (unset = off)",
    )
    dp_noise_multiplier: float = Field(
        0.0, ge=0.0, le=100.0, description="differential privacy: Gaussian noise std as a multiple of dp_clip"
    )
    dp_delta: float = Field(
        1e-5, gt=0.0, lt=1.0, description="differential privacy: the delta of (epsilon, delta)"
    )

    @model_validator(mode="after")
    def _dp_needs_a_clip(self) -> FedAvgParams:
        if self.dp_noise_multiplier > 0 and self.dp_clip is None:
            raise ValueError("dp_noise_multiplier needs dp_clip (the sensitivity the noise is scaled to)")
        return self


class HomoLRParams(FedAvgParams):
    optimizer: Literal["sgd", "adam"] = Field(
        "sgd", description="local update rule (state resets every round)"
    )
    alpha: float = Field(0.0, ge=0.0, description="L2 penalty on the weights (not the intercept)")


@dataclass(frozen=True)
class Client:
    """What a horizontal client fixes before its first round: its table, labels and seed, and how
    it sends a round's vector to the arbiter (masked under secure aggregation)."""

    ctx: TaskContext
    table: Table
    classes: int
    y: np.ndarray
    seed: int
    secure: bool
    threshold: int
    fp: FixedPoint

    def send(self, rnd: int, vector: np.ndarray) -> None:
        client_send(self.ctx, rnd, vector, secure=self.secure, fp=self.fp, threshold=self.threshold)


def client_setup(ctx: TaskContext) -> Client:
    table = ctx.input("data")
    classes = int(ctx.param("classes"))
    y = labels(table, ctx, classes)
    finite_features(table, ctx)
    n_clients = len(clients(ctx))
    seed = int(ctx.param("seed")) if ctx.param("seed") is not None else secrets.randbits(32)
    return Client(
        ctx,
        table,
        classes,
        y,
        seed,
        secure=bool(ctx.param("secure_aggregation")),
        threshold=threshold(ctx, n_clients),
        fp=fixed_point(ctx, n_clients),
    )


def clients(ctx: TaskContext) -> list[int]:
    found = sorted(ctx.parties_of("guest") + ctx.parties_of("host"))
    if len(found) < 2 or not ctx.parties_of("arbiter"):
        raise ComponentError("homo_lr needs at least two clients (guest and hosts) and an arbiter")
    return found


def agreed_schema(ctx: TaskContext, active: list[int], keys: set[str], component: str) -> dict[str, Any]:
    """The arbiter's check that every client describes the same table (and model) layout."""
    schemas = {p: recv_checked(ctx, p, "schema", "setup") for p in active}
    first = schemas[active[0]]
    for p, s in schemas.items():
        if not isinstance(s, dict) or set(s) != keys:
            raise IntegrityError(f"party {p} sent a malformed table schema")
        if s != first:
            raise ComponentError(
                f"clients disagree on the table layout: party {p} and party {active[0]} differ "
                f"in feature columns, classes or model ({component} needs the same at every client)"
            )
    return dict(first)


def threshold(ctx: TaskContext, n_clients: int) -> int:
    t = ctx.param("threshold")
    t = n_clients // 2 + 1 if t is None else int(t)
    t = max(2, t)
    if t > n_clients:
        raise ComponentError(f"secure aggregation threshold {t} exceeds the {n_clients} clients of the job")
    return t


def fixed_point(ctx: TaskContext, n_clients: int) -> FixedPoint:
    return FixedPoint(int(ctx.param("fixed_point_bits")), float(ctx.param("update_bound")), n_clients)


def weight_shape(features: int, classes: int) -> tuple[int, ...]:
    return (features + 1,) if classes == 2 else (features + 1, classes)


def vector_size(features: int, classes: int) -> int:
    return int(np.prod(weight_shape(features, classes))) + TAIL


def schema(table: Table, classes: int) -> dict[str, Any]:
    """What clients tell the arbiter about their tables: sizes, and a digest of the column names."""
    digest = hashlib.sha256("\x1f".join(table.feature_names).encode()).hexdigest()
    return {"features": len(table.feature_names), "columns_sha256": digest, "classes": classes}


def labels(table: Table, ctx: TaskContext, classes: int) -> np.ndarray:
    if table.label is None:
        raise ComponentError(
            f"missing label column: every homo_lr client needs labels (party {ctx.party_id})"
        )
    y = table.label
    if not np.all((y == np.round(y)) & (y >= 0) & (y < classes)):
        raise ComponentError(
            f"labels at party {ctx.party_id} must be integers 0..{classes - 1}",
            public_message=f"labels at party {ctx.party_id} are not integers 0..{classes - 1}",
        )
    return y.astype(np.float64)


def stratified_split(
    y: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows): ``fraction`` of every class held out, at least one row trains."""
    val: list[np.ndarray] = []
    for c in np.unique(y):
        rows = rng.permutation(np.nonzero(y == c)[0])
        val.append(rows[: int(np.floor(fraction * len(rows)))])
    held = np.sort(np.concatenate(val)) if val else np.array([], dtype=np.int64)
    train = np.setdiff1d(np.arange(len(y)), held)
    if len(train) == 0:
        raise ComponentError("validation_fraction leaves no training rows")
    return train, held


def global_message(value: Any, size: int) -> dict[str, Any]:
    if not isinstance(value, dict) or not {"weights", "stop", "validation_loss", "round"} <= set(value):
        raise IntegrityError("the arbiter sent a malformed global model")
    w = value["weights"]
    if not isinstance(w, np.ndarray) or w.shape != (size - TAIL,) or not np.all(np.isfinite(w)):
        raise IntegrityError(f"the arbiter's global model is not {size - TAIL} finite numbers")
    return value


def fedavg_rounds(
    ctx: TaskContext, active: list[int], size: int, w: np.ndarray
) -> tuple[np.ndarray, list[float], list[int]]:
    """The arbiter's rounds: sum ``n * w`` (masked under secure aggregation), average by ``n``,
    send the global model, stop early on the aggregated validation loss.

    Returns (the last global model, validation loss per round, the clients that finished).
    Model-agnostic: ``w`` is any flat vector; the clients' vectors are ``n * w`` + ``TAIL``.
    """
    secure = bool(ctx.param("secure_aggregation"))
    t = threshold(ctx, len(active))
    fp = fixed_point(ctx, len(active))
    timeout = float(ctx.param("dropout_timeout_s"))
    tol, patience, early = float(ctx.param("tol")), int(ctx.param("patience")), bool(ctx.param("early_stop"))
    rounds = int(ctx.param("rounds"))
    history: list[float] = []
    best, stale = float("inf"), 0
    for rnd in range(rounds):
        total, active = arbiter_sum(
            ctx, rnd, active, size, secure=secure, fp=fp, threshold=t, timeout_s=timeout
        )
        n, val_sum, n_val = total[-3], total[-2], total[-1]
        if n <= 0 or n_val <= 0:
            raise IntegrityError(f"the aggregated sample counts of round {rnd} are not positive")
        w = total[:-TAIL] / n
        val_loss = float(val_sum / n_val)
        history.append(val_loss)
        ctx.log_metric("validation_loss", val_loss, rnd)
        ctx.log_metric("clients", float(len(active)), rnd)
        if val_loss < best - tol:
            best, stale = val_loss, 0
        else:
            stale += 1
        stop = early and stale >= patience
        verdict = {"weights": w, "stop": stop or rnd == rounds - 1, "validation_loss": val_loss, "round": rnd}
        for p in active:
            ctx.send(p, "global", verdict, tag=f"r{rnd}")
        ctx.progress((rnd + 1) / rounds)
        if stop:
            break
    return w, history, active


def client_predictions(
    ctx: TaskContext, table: Table, proba: np.ndarray, y: np.ndarray, summary: dict[str, float], rounds: int
) -> Table:
    """A client's scores of its own rows under the global model (``proba``: rows x classes), with
    train accuracy (and AUC when binary) added to ``summary`` and logged as metrics."""
    summary["train_accuracy"] = float(np.mean(np.argmax(proba, axis=1) == y))
    if proba.shape[1] == 2 and y.min() != y.max():
        summary["train_auc"] = metrics.auc(y, proba[:, 1])
    for name in ("train_auc", "train_accuracy"):
        if name in summary:
            ctx.log_metric(name, summary[name], rounds)
    return predictions_table(table, proba)


def predictions_table(table: Table, proba: np.ndarray) -> Table:
    """The ``predictions`` of a homo model, from training and from the standard ``predict`` alike:
    binary ``score`` = P(y = 1); multiclass ``score_0..score_{K-1}`` and the ``predicted`` class."""
    if proba.shape[1] == 2:
        scores, names = proba[:, 1:], ["score"]
    else:
        scores = np.column_stack([proba, np.argmax(proba, axis=1)])
        names = [f"score_{k}" for k in range(proba.shape[1])] + ["predicted"]
    return Table(
        ids=table.ids,
        features=scores,
        feature_names=names,
        label=table.label,
        id_name=table.id_name,
        label_name=table.label_name,
    )


def private_update(ctx: TaskContext, local: np.ndarray, global_w: np.ndarray, rnd: int) -> np.ndarray:
    """With ``dp_clip`` set: the global model plus this client's clipped, noised update (nothing
    of the raw update leaves the client), and the accountant's epsilon so far as a metric."""
    bound = ctx.param("dp_clip")
    if bound is None:
        return local
    sigma = float(ctx.param("dp_noise_multiplier"))
    noised = global_w.ravel() + dp.privatise(local.ravel() - global_w.ravel(), float(bound), sigma)
    ctx.log_metric("dp_epsilon", dp_epsilon(ctx, rnd + 1), rnd)
    return np.asarray(noised).reshape(local.shape)


def dp_epsilon(ctx: TaskContext, rounds: int) -> float:
    return dp.gaussian_epsilon(rounds, float(ctx.param("dp_noise_multiplier")), float(ctx.param("dp_delta")))


def dp_summary(ctx: TaskContext, rounds: int, summary: dict[str, float]) -> None:
    if ctx.param("dp_clip") is not None:
        summary["dp_epsilon"] = dp_epsilon(ctx, rounds)
        summary["dp_delta"] = float(ctx.param("dp_delta"))

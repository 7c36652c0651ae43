"""One function per component, with its parameters as typed keyword arguments.

Generated from the component registry by ``python -m silobridge.sdk.codegen``: do not edit.
Each function returns a :class:`~silobridge.sdk.pipeline.Task`; a parameter left out keeps the
component's default, and one given for a single role goes through ``Task.at(role, ...)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from silobridge.ml.nn import LayersSpec, MLPSpec, PluginSpec
from silobridge.sdk.pipeline import Input, Task

__all__ = [
    "column_stats",
    "component",
    "data_split",
    "evaluation",
    "feature_scale",
    "feature_selection",
    "hetero_binning",
    "hetero_lr",
    "hetero_secureboost",
    "hetero_secureboost_predict",
    "hetero_sshe_lr",
    "hetero_sshe_lr_predict",
    "homo_lr",
    "homo_nn",
    "predict",
    "psi",
    "reader",
    "statistics",
]


def component(
    component: str,
    name: str | None = None,
    *,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
    **params: Any,
) -> Task:
    """Any registered component by name (one added by a plugin, say), parameters untyped."""
    return Task(component, name, inputs=inputs, needs=needs, params=params)


def _given(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not _UNSET}


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


_UNSET: Any = _Unset()


def column_stats(
    name: str | None = None,
    *,
    data: Input | None = None,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
) -> Task:
    """Per-party row counts and column means, aggregated at the guest.

    Runs at: guest, host. Outputs: model.
    """
    return Task(
        "column_stats",
        name,
        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},
        needs=needs,
        params={},
    )


def data_split(
    name: str | None = None,
    *,
    data: Input | None = None,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
    train_size: float = _UNSET,
    validate_size: float = _UNSET,
    test_size: float = _UNSET,
    stratified: bool = _UNSET,
    seed: int | None = _UNSET,
) -> Task:
    """Aligned train/validate/test split, stratified by the guest's label without revealing it.

    Runs at: guest, host. Outputs: train, validate, test.

    Args:
        train_size: fraction of rows in the train split (default 0.8)
        validate_size: fraction of rows for validation (default 0.0)
        test_size: fraction of rows for testing (default 0.2)
        stratified: keep the guest's label proportions in every split (default True)
        seed: seed of the guest's draw; random when unset (default None)
    """
    return Task(
        "data_split",
        name,
        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},
        needs=needs,
        params=_given(
            train_size=train_size,
            validate_size=validate_size,
            test_size=test_size,
            stratified=stratified,
            seed=seed,
        ),
    )


def evaluation(
    name: str | None = None,
    *,
    data: Input | None = None,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
    task: Literal["binary", "multiclass", "regression"] = _UNSET,
    threshold: float = _UNSET,
    score_column: str = _UNSET,
    thresholds: list[float] = _UNSET,
) -> Task:
    """Binary (AUC, KS, lift, precision/recall curves, F1, confusion matrix), multiclass (accuracy,
    macro F1) or regression (RMSE, MAE, R²) metrics of a scored table.

    Runs at: guest. Outputs: model.

    Args:
        task: binary (score = probability), multiclass (columns score_0..score_K-1) or
            regression (score = the prediction) (default 'binary')
        threshold: score at or above which a row is positive (default 0.5)
        score_column: feature column holding the predicted probability (default 'score')
        thresholds: binary: thresholds of the precision and recall curves stored as metrics
            (default [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    """
    return Task(
        "evaluation",
        name,
        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},
        needs=needs,
        params=_given(
            task=task,
            threshold=threshold,
            score_column=score_column,
            thresholds=thresholds,
        ),
    )


def feature_scale(
    name: str | None = None,
    *,
    data: Input | None = None,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
    method: Literal["standard", "min_max"] = _UNSET,
) -> Task:
    """Standard or min-max scaling, each party on its own columns.

    Runs at: guest, host. Outputs: model, data.

    Args:
        method: 'standard' ((x - mean) / std) or 'min_max' ((x - min) / (max - min)) (default
            'standard')
    """
    return Task(
        "feature_scale",
        name,
        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},
        needs=needs,
        params=_given(
            method=method,
        ),
    )


def feature_selection(
    name: str | None = None,
    *,
    data: Input | None = None,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
    method: Literal["iv_threshold", "iv_top_k", "variance", "missing_rate"] = _UNSET,
    threshold: float = _UNSET,
    top_k: int = _UNSET,
) -> Task:
    """Keep own columns by IV threshold, top-k IV, variance or missing rate.

    Runs at: guest, host. Outputs: model, data.

    Args:
        method: keep columns with IV >= threshold, the top_k by IV, variance >= threshold, or
            missing rate <= threshold (default 'iv_threshold')
        threshold: the IV, variance or missing-rate threshold (default 0.02)
        top_k: columns kept per party by iv_top_k (default 10)
    """
    return Task(
        "feature_selection",
        name,
        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},
        needs=needs,
        params=_given(
            method=method,
            threshold=threshold,
            top_k=top_k,
        ),
    )


def hetero_binning(
    name: str | None = None,
    *,
    data: Input | None = None,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
    method: Literal["quantile", "bucket"] = _UNSET,
    bins: int = _UNSET,
    adjustment: float = _UNSET,
    host_iv: bool = _UNSET,
    key_bits: int = _UNSET,
    transform: Literal["none", "woe", "bin"] = _UNSET,
) -> Task:
    """Quantile or bucket binning per party; WOE/IV of host columns from encrypted labels.

    Runs at: guest, host. Outputs: model, data.

    Args:
        method: 'quantile' (equal-frequency) or 'bucket' (equal-width) edges per column (default
            'quantile')
        bins: most value bins per column before merging (default 10)
        adjustment: added to the event and non-event counts of a one-class bin (default 0.5)
        host_iv: compute the hosts' WOE/IV from the guest's encrypted labels (default True)
        key_bits: Paillier modulus size, generated by the guest (default 2048)
        transform: output table: the input unchanged, WOE values, or bin numbers (default
            'none')
    """
    return Task(
        "hetero_binning",
        name,
        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},
        needs=needs,
        params=_given(
            method=method,
            bins=bins,
            adjustment=adjustment,
            host_iv=host_iv,
            key_bits=key_bits,
            transform=transform,
        ),
    )


def hetero_lr(
    name: str | None = None,
    *,
    data: Input | None = None,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
    epochs: int = _UNSET,
    batch_size: int = _UNSET,
    learning_rate: float = _UNSET,
    lr_decay: float = _UNSET,
    optimizer: Literal["sgd", "nesterov", "adagrad", "rmsprop", "adam"] = _UNSET,
    lr_schedule: Literal["constant", "inverse_time", "inverse_sqrt", "step"] = _UNSET,
    bias_correction: bool = _UNSET,
    lr_step_size: int = _UNSET,
    alpha: float = _UNSET,
    tol: float = _UNSET,
    early_stop: bool = _UNSET,
    convergence: Literal["diff", "abs", "weight_diff"] = _UNSET,
    key_bits: int = _UNSET,
    init: Literal["zeros", "random_uniform", "random_normal"] = _UNSET,
    init_scale: float = _UNSET,
    init_seed: int | None = _UNSET,
    seed: int | None = _UNSET,
    fixed_point_bits: int = _UNSET,
    engine: Literal["fast", "phe"] = _UNSET,
) -> Task:
    """Vertical logistic regression: Paillier-encrypted residuals, masked gradients, arbiter.

    Runs at: arbiter, guest, host. Outputs: model, predictions.

    Args:
        epochs: maximum passes over the aligned rows (default 10)
        batch_size: rows per mini-batch (at least; the remainder is spread over the batches); -1
            = full batch (default -1)
        learning_rate: initial learning rate (default 0.15)
        lr_decay: decay of the schedule: inverse-time rate, or the step schedule's factor
            (default 0.0)
        optimizer: update rule for each party's own weights (see silobridge.ml.optim) (default
            'sgd')
        lr_schedule: learning rate at epoch e: constant lr; inverse_time lr / (1 + lr_decay *
            e); inverse_sqrt lr / sqrt(1 + lr_decay * e); step lr * lr_decay ** (e //
            lr_step_size) (default 'inverse_time')
        bias_correction: rmsprop: divide the squared-gradient average by 1 - rho**t, as Adam
            does (default False)
        lr_step_size: epochs per step of the 'step' schedule (default 1)
        alpha: L2 penalty on each party's own weights (not the intercept) (default 0.01)
        tol: tolerance of the convergence test (default 0.0001)
        early_stop: let the arbiter stop training when the model converges (default True)
        convergence: early-stopping test at the arbiter: diff |loss change| < tol, abs loss <
            tol, weight_diff: norm of all parties' weight change in the epoch < tol (each party
            sends its squared norm encrypted; the arbiter decrypts only their sum) (default
            'diff')
        key_bits: Paillier modulus size, generated by the arbiter (default 2048)
        init: initial weights of every party (uniform in [-init_scale, init_scale] or normal)
            (default 'zeros')
        init_scale: range or std of the random initialisation (default 0.01)
        init_seed: seed of the random initialisation (with each party's id); random when unset
            (default None)
        seed: mini-batch shuffling seed (guest); random when unset (default None)
        fixed_point_bits: fraction bits of the plaintext factors of encrypted products (features
            in X^T [[d]], loss coefficients), rounded up to a multiple of 4; the gradient error
            is at most max|d| * 2**-(bits+1) (see docs/algorithms.md); fewer bits make the
            products cheaper (default 16)
        engine: Paillier engine of this party: 'fast' (batched, parallel on the compute backend)
            or 'phe' (python-paillier, one number at a time: the benchmark baseline); same keys
            and wire format (default 'fast')
    """
    return Task(
        "hetero_lr",
        name,
        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},
        needs=needs,
        params=_given(
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            lr_decay=lr_decay,
            optimizer=optimizer,
            lr_schedule=lr_schedule,
            bias_correction=bias_correction,
            lr_step_size=lr_step_size,
            alpha=alpha,
            tol=tol,
            early_stop=early_stop,
            convergence=convergence,
            key_bits=key_bits,
            init=init,
            init_scale=init_scale,
            init_seed=init_seed,
            seed=seed,
            fixed_point_bits=fixed_point_bits,
            engine=engine,
        ),
    )


def hetero_secureboost(
    name: str | None = None,
    *,
    data: Input | None = None,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
    objective: Literal["binary", "multiclass", "regression"] = _UNSET,
    num_trees: int = _UNSET,
    max_depth: int = _UNSET,
    learning_rate: float = _UNSET,
    max_bins: int = _UNSET,
    l2: float = _UNSET,
    l1: float = _UNSET,
    min_child_weight: float = _UNSET,
    min_child_samples: int = _UNSET,
    min_gain: float = _UNSET,
    subsample: float = _UNSET,
    colsample: float = _UNSET,
    early_stopping_rounds: int = _UNSET,
    key_bits: int = _UNSET,
    packing: bool = _UNSET,
    seed: int | None = _UNSET,
) -> Task:
    """Vertical gradient-boosted trees: Paillier-encrypted packed gradients, host histograms.

    Runs at: guest, host. Outputs: model, predictions.

    Args:
        objective: binary log loss, softmax (one tree per class and round) or L2 regression
            (default 'binary')
        num_trees: boosting rounds (default 10)
        max_depth: edges from the root to the deepest leaf (default 3)
        learning_rate: shrinkage of every leaf value (default 0.3)
        max_bins: quantile bins per feature (plus one for missing) (default 32)
        l2: L2 penalty lambda on leaf values (default 0.1)
        l1: L1 penalty alpha on leaf values (soft threshold of G) (default 0.0)
        min_child_weight: least hessian sum in a child (default 0.001)
        min_child_samples: least rows in a child (raised to every party's minimum aggregation
            size k) (default 20)
        min_gain: least gain of a split (default 0.0)
        subsample: rows drawn per tree (by the guest) (default 1.0)
        colsample: each party's own features drawn per tree (default 1.0)
        early_stopping_rounds: stop when the validation loss has not improved for this many
            rounds; 0 = off (default 0)
        key_bits: Paillier modulus size (a multiple of 256), generated by the guest (default
            2048)
        packing: pack g and h of a row into one ciphertext (off: one each) (default True)
        seed: seed of the subsampling draws; random when unset (default None)
    """
    return Task(
        "hetero_secureboost",
        name,
        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},
        needs=needs,
        params=_given(
            objective=objective,
            num_trees=num_trees,
            max_depth=max_depth,
            learning_rate=learning_rate,
            max_bins=max_bins,
            l2=l2,
            l1=l1,
            min_child_weight=min_child_weight,
            min_child_samples=min_child_samples,
            min_gain=min_gain,
            subsample=subsample,
            colsample=colsample,
            early_stopping_rounds=early_stopping_rounds,
            key_bits=key_bits,
            packing=packing,
            seed=seed,
        ),
    )


def hetero_secureboost_predict(
    name: str | None = None,
    *,
    data: Input | None = None,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
) -> Task:
    """Score aligned rows with hetero_secureboost models (after the party's fitted scale and
    selection): hosts send only leaf masks.

    Runs at: guest, host. Outputs: predictions.
    """
    return Task(
        "hetero_secureboost_predict",
        name,
        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},
        needs=needs,
        params={},
    )


def hetero_sshe_lr(
    name: str | None = None,
    *,
    data: Input | None = None,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
    epochs: int = _UNSET,
    batch_size: int = _UNSET,
    learning_rate: float = _UNSET,
    alpha: float = _UNSET,
    key_bits: int = _UNSET,
    seed: int | None = _UNSET,
) -> Task:
    """Vertical logistic regression without an arbiter: Paillier-made shares, guest-held key.

    Runs at: guest, host. Outputs: model, predictions.

    Args:
        epochs: passes over the aligned rows (default 10)
        batch_size: rows per mini-batch (at least); -1 = full batch (default -1)
        learning_rate: learning rate of plain SGD (default 0.15)
        alpha: L2 penalty on the weights (not the intercept) (default 0.01)
        key_bits: Paillier modulus size, generated by the guest (default 2048)
        seed: mini-batch shuffling seed (guest); random when unset (default None)
    """
    return Task(
        "hetero_sshe_lr",
        name,
        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},
        needs=needs,
        params=_given(
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            alpha=alpha,
            key_bits=key_bits,
            seed=seed,
        ),
    )


def hetero_sshe_lr_predict(
    name: str | None = None,
    *,
    data: Input | None = None,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
    key_bits: int = _UNSET,
) -> Task:
    """Score aligned rows with hetero_sshe_lr models (after the party's scale and selection).

    Runs at: guest, host. Outputs: predictions.

    Args:
        key_bits: Paillier modulus size of the predict key (default 2048)
    """
    return Task(
        "hetero_sshe_lr_predict",
        name,
        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},
        needs=needs,
        params=_given(
            key_bits=key_bits,
        ),
    )


def homo_lr(
    name: str | None = None,
    *,
    data: Input | None = None,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
    rounds: int = _UNSET,
    local_epochs: int = _UNSET,
    batch_size: Literal[-1] | int = _UNSET,
    learning_rate: float = _UNSET,
    lr_decay: float = _UNSET,
    mu: float = _UNSET,
    classes: int = _UNSET,
    validation_fraction: float = _UNSET,
    early_stop: bool = _UNSET,
    tol: float = _UNSET,
    patience: int = _UNSET,
    secure_aggregation: bool = _UNSET,
    threshold: int | None = _UNSET,
    fixed_point_bits: int = _UNSET,
    update_bound: float = _UNSET,
    dropout_timeout_s: float = _UNSET,
    seed: int | None = _UNSET,
    dp_clip: float | None = _UNSET,
    dp_noise_multiplier: float = _UNSET,
    dp_delta: float = _UNSET,
    optimizer: Literal["sgd", "adam"] = _UNSET,
    alpha: float = _UNSET,
) -> Task:
    """Horizontal logistic regression: FedAvg/FedProx, binary or softmax, secure aggregation.

    Runs at: arbiter, guest, host. Outputs: model, predictions.

    Args:
        rounds: maximum aggregation rounds (FedAvg steps) (default 20)
        local_epochs: passes over its own rows a client makes per round (default 1)
        batch_size: rows per local mini-batch; -1 = full batch (default -1)
        learning_rate: initial local learning rate (default 0.5)
        lr_decay: per-round inverse-time decay: lr / (1 + lr_decay * round) (default 0.0)
        mu: FedProx proximal term mu/2 |w - w_global|^2; 0 = FedAvg (default 0.0)
        classes: 2: binary (sigmoid); more: softmax, labels 0..classes-1 (default 2)
        validation_fraction: share of each client's rows held out (stratified) for validation
            loss (default 0.2)
        early_stop: stop when the aggregated validation loss stops improving (default True)
        tol: an improvement smaller than this does not count (default 0.0001)
        patience: rounds without improvement before stopping (default 2)
        secure_aggregation: mask updates (Bonawitz et al.): the arbiter sees only sums (default
            True)
        threshold: secure aggregation: fewest clients that may finish a round; default a
            majority (default None)
        fixed_point_bits: fraction bits of the fixed-point encoding (default 24)
        update_bound: largest |n * weight| a client may send under secure aggregation (default
            268435456.0)
        dropout_timeout_s: arbiter: how long to wait for a client in a round before it counts as
            dropped (default 60.0)
        seed: seed of each client's validation split and shuffling; random when unset (default
            None)
        dp_clip: differential privacy: clip each client's round update to this L2 norm (unset =
            off) (default None)
        dp_noise_multiplier: differential privacy: Gaussian noise std as a multiple of dp_clip
            (default 0.0)
        dp_delta: differential privacy: the delta of (epsilon, delta) (default 1e-05)
        optimizer: local update rule (state resets every round) (default 'sgd')
        alpha: L2 penalty on the weights (not the intercept) (default 0.0)
    """
    return Task(
        "homo_lr",
        name,
        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},
        needs=needs,
        params=_given(
            rounds=rounds,
            local_epochs=local_epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            lr_decay=lr_decay,
            mu=mu,
            classes=classes,
            validation_fraction=validation_fraction,
            early_stop=early_stop,
            tol=tol,
            patience=patience,
            secure_aggregation=secure_aggregation,
            threshold=threshold,
            fixed_point_bits=fixed_point_bits,
            update_bound=update_bound,
            dropout_timeout_s=dropout_timeout_s,
            seed=seed,
            dp_clip=dp_clip,
            dp_noise_multiplier=dp_noise_multiplier,
            dp_delta=dp_delta,
            optimizer=optimizer,
            alpha=alpha,
        ),
    )


def homo_nn(
    name: str | None = None,
    *,
    data: Input | None = None,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
    rounds: int = _UNSET,
    local_epochs: int = _UNSET,
    batch_size: Literal[-1] | int = _UNSET,
    learning_rate: float = _UNSET,
    lr_decay: float = _UNSET,
    mu: float = _UNSET,
    classes: int = _UNSET,
    validation_fraction: float = _UNSET,
    early_stop: bool = _UNSET,
    tol: float = _UNSET,
    patience: int = _UNSET,
    secure_aggregation: bool = _UNSET,
    threshold: int | None = _UNSET,
    fixed_point_bits: int = _UNSET,
    update_bound: float = _UNSET,
    dropout_timeout_s: float = _UNSET,
    seed: int | None = _UNSET,
    dp_clip: float | None = _UNSET,
    dp_noise_multiplier: float = _UNSET,
    dp_delta: float = _UNSET,
    model: MLPSpec | LayersSpec | PluginSpec | Mapping[str, Any] = _UNSET,
    loss: Literal["cross_entropy"] = _UNSET,
    optimizer: Literal["sgd", "adam", "adamw"] = _UNSET,
    momentum: float = _UNSET,
    weight_decay: float = _UNSET,
) -> Task:
    """Horizontal neural network (PyTorch, declarative spec): FedAvg/FedProx, secure aggregation.

    Runs at: arbiter, guest, host. Outputs: model, predictions.

    Args:
        rounds: maximum aggregation rounds (FedAvg steps) (default 20)
        local_epochs: passes over its own rows a client makes per round (default 1)
        batch_size: rows per local mini-batch; -1 = full batch (default 32)
        learning_rate: initial local learning rate (default 0.01)
        lr_decay: per-round inverse-time decay: lr / (1 + lr_decay * round) (default 0.0)
        mu: FedProx proximal term mu/2 |w - w_global|^2; 0 = FedAvg (default 0.0)
        classes: 2: binary (sigmoid); more: softmax, labels 0..classes-1 (default 2)
        validation_fraction: share of each client's rows held out (stratified) for validation
            loss (default 0.2)
        early_stop: stop when the aggregated validation loss stops improving (default True)
        tol: an improvement smaller than this does not count (default 0.0001)
        patience: rounds without improvement before stopping (default 2)
        secure_aggregation: mask updates (Bonawitz et al.): the arbiter sees only sums (default
            True)
        threshold: secure aggregation: fewest clients that may finish a round; default a
            majority (default None)
        fixed_point_bits: fraction bits of the fixed-point encoding (default 24)
        update_bound: largest |n * weight| a client may send under secure aggregation (default
            268435456.0)
        dropout_timeout_s: arbiter: how long to wait for a client in a round before it counts as
            dropped (default 60.0)
        seed: seed of each client's validation split and shuffling; random when unset (default
            None)
        dp_clip: differential privacy: clip each client's round update to this L2 norm (unset =
            off) (default None)
        dp_noise_multiplier: differential privacy: Gaussian noise std as a multiple of dp_clip
            (default 0.0)
        dp_delta: differential privacy: the delta of (epsilon, delta) (default 1e-05)
        model: the network: {kind: mlp, hidden: [...]}, {kind: layers, layers: [...]} or {kind:
            plugin, name: <entry point installed at every client>} (default MLPSpec(kind='mlp',
            hidden=[64], activation='relu', dropout=0.0))
        loss: training loss (allow-list) (default 'cross_entropy')
        optimizer: local update rule (state resets every round) (default 'adam')
        momentum: sgd momentum (default 0.0)
        weight_decay: L2 penalty of the optimizer (default 0.0)
    """
    return Task(
        "homo_nn",
        name,
        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},
        needs=needs,
        params=_given(
            rounds=rounds,
            local_epochs=local_epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            lr_decay=lr_decay,
            mu=mu,
            classes=classes,
            validation_fraction=validation_fraction,
            early_stop=early_stop,
            tol=tol,
            patience=patience,
            secure_aggregation=secure_aggregation,
            threshold=threshold,
            fixed_point_bits=fixed_point_bits,
            update_bound=update_bound,
            dropout_timeout_s=dropout_timeout_s,
            seed=seed,
            dp_clip=dp_clip,
            dp_noise_multiplier=dp_noise_multiplier,
            dp_delta=dp_delta,
            model=model,
            loss=loss,
            optimizer=optimizer,
            momentum=momentum,
            weight_decay=weight_decay,
        ),
    )


def predict(
    name: str | None = None,
    *,
    data: Input | None = None,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
) -> Task:
    """Score aligned rows with a hetero_lr model (after the party's fitted scale and selection): hosts
    send partial scores to the guest.

    Runs at: guest, host. Outputs: predictions.
    """
    return Task(
        "predict",
        name,
        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},
        needs=needs,
        params={},
    )


def psi(
    name: str | None = None,
    *,
    data: Input | None = None,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
) -> Task:
    """ECDH PSI on Curve25519: the rows shared by the guest and every host, aligned in the guest's
    order.

    Runs at: guest, host. Outputs: data.
    """
    return Task(
        "psi",
        name,
        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},
        needs=needs,
        params={},
    )


def reader(
    name: str | None = None,
    *,
    data: Input | None = None,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
    table: str = _UNSET,
    require_label: bool = _UNSET,
) -> Task:
    """Load an uploaded table; the guest's table must carry the label.

    Runs at: guest, host. Outputs: data.

    Args:
        table: namespace.name of a table uploaded at this party (required)
        require_label: fail unless the table has a label column (default False)
    """
    return Task(
        "reader",
        name,
        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},
        needs=needs,
        params=_given(
            table=table,
            require_label=require_label,
        ),
    )


def statistics(
    name: str | None = None,
    *,
    data: Input | None = None,
    inputs: Mapping[str, Input] | None = None,
    needs: Sequence[Task | str] = (),
    quantiles: list[float] = _UNSET,
    share_with_guest: bool = _UNSET,
) -> Task:
    """Count, missing, mean, std, skewness, min, max and quantiles of each party's own columns.

    Runs at: guest, host. Outputs: model.

    Args:
        quantiles: quantiles of every column, in [0, 1] (default [0.25, 0.5, 0.75])
        share_with_guest: hosts send the guest their columns' moments (no names) (default False)
    """
    return Task(
        "statistics",
        name,
        inputs={**({"data": data} if data is not None else {}), **(inputs or {})},
        needs=needs,
        params=_given(
            quantiles=quantiles,
            share_with_guest=share_with_guest,
        ),
    )

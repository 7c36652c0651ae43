"""Guest of data_split: draws the split of every row, within each label class when stratified."""

from __future__ import annotations

import secrets

import numpy as np

from silobridge.components.data_split.common import fractions, tables
from silobridge.components.registry import TaskResult
from silobridge.errors import ComponentError
from silobridge.federation.context import TaskContext
from silobridge.ml.protocol import recv_all_checked


def _counts(n: int, frac: np.ndarray) -> np.ndarray:
    """``n`` rows shared out by ``frac`` with largest remainders (the counts add up to ``n``)."""
    exact = frac * n
    counts: np.ndarray = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: n - int(counts.sum())]] += 1
    return counts


def draw(rows: int, label: np.ndarray | None, frac: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    codes = np.empty(rows, dtype=np.uint8)
    classes = [np.arange(rows)] if label is None else [np.nonzero(label == c)[0] for c in np.unique(label)]
    for members in classes:
        shuffled = rng.permutation(members)
        bounds = np.cumsum(_counts(len(members), frac))[:-1]
        for code, part in enumerate(np.split(shuffled, bounds)):
            codes[part] = code
    return codes


def split(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    stratified = bool(ctx.param("stratified"))
    if stratified and table.label is None:
        raise ComponentError(f"a stratified split needs the guest's label column (party {ctx.party_id})")
    for h, rows in zip(ctx.parties_of("host"), recv_all_checked(ctx, "host", "rows", "setup"), strict=True):
        if rows != table.rows:
            raise ComponentError(
                f"row counts differ: the guest holds {table.rows} rows, host {h} holds {rows} (run psi first)"
            )
    seed = ctx.param("seed")
    rng = np.random.default_rng(int(seed) if seed is not None else secrets.randbits(64))
    codes = draw(table.rows, table.label if stratified else None, fractions(ctx), rng)
    result = tables(ctx, table, codes)  # k checked before anything is sent
    ctx.send("host", "split", codes, tag="split")
    return result

"""Guest of Hetero SecureBoost: holds the labels and the Paillier key, grows every tree.

Per tree the guest encrypts the packed ``(g, h)`` of every row once and sends it to the hosts.
Per layer it tells the hosts which rows are in which node and which nodes to histogram (the
root, then only the smaller child of each pair), decrypts their histograms, derives the larger
children by subtraction, and picks the best split over its own and every host's features. A
host split is named by ``(host, opaque id)``: the host keeps the feature and threshold.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from silobridge.components.hetero_secureboost import histogram as H
from silobridge.components.hetero_secureboost.common import (
    MAX_CLASSES,
    bits,
    bool_array,
    check_features,
    goes_left,
    int_array,
    names,
    reach,
)
from silobridge.components.registry import TaskResult
from silobridge.crypto import EncryptedVector, PackedEncoder, PrivateKey, generate_keypair
from silobridge.errors import ComponentError, IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml import boosting, metrics
from silobridge.ml.boosting import Split, SplitRules
from silobridge.ml.checks import min_rows
from silobridge.ml.protocol import recv_all_checked, recv_checked
from silobridge.ml.quantile import fit_bins
from silobridge.table import Table


@dataclass
class HostInfo:
    party: int
    sizes: list[int]  # bins per feature slot, missing bin included
    k: int


@dataclass
class Tree:
    """One tree as the guest keeps it: host nodes carry only (owner, opaque split id)."""

    left: list[int] = field(default_factory=lambda: [-1])
    right: list[int] = field(default_factory=lambda: [-1])
    owner: list[int] = field(default_factory=lambda: [-1])
    feature: list[int] = field(default_factory=lambda: [-1])
    threshold: list[float] = field(default_factory=lambda: [np.nan])
    missing_left: list[bool] = field(default_factory=lambda: [False])
    split_id: list[int] = field(default_factory=lambda: [-1])
    value: list[float] = field(default_factory=lambda: [0.0])
    gain: list[float] = field(default_factory=lambda: [0.0])

    def add_children(self, node: int) -> tuple[int, int]:
        first = len(self.left)
        for lst, v in (
            (self.left, -1),
            (self.right, -1),
            (self.owner, -1),
            (self.feature, -1),
            (self.threshold, np.nan),
            (self.missing_left, False),
            (self.split_id, -1),
            (self.value, 0.0),
            (self.gain, 0.0),
        ):
            lst.extend([v, v])  # type: ignore[list-item]
        self.left[node], self.right[node] = first, first + 1
        return first, first + 1


@dataclass
class Timings:
    encrypt: float = 0.0
    histograms: float = 0.0
    decrypt: float = 0.0
    layers: list[float] = field(default_factory=list)
    trees: list[float] = field(default_factory=list)


class Grower:
    """State of one training run at the guest."""

    def __init__(self, ctx: TaskContext, table: Table, hosts: list[HostInfo], sk: PrivateKey) -> None:
        self.ctx = ctx
        self.sk = sk
        self.hosts = hosts
        self.n = table.rows
        self.max_bins = int(ctx.param("max_bins"))
        self.depth = int(ctx.param("max_depth"))
        self.packing = bool(ctx.param("packing"))
        self.objective = str(ctx.param("objective"))
        k_all = max([ctx.limits.min_rows, *(h.k for h in hosts)])
        self.rules = SplitRules(
            lam=float(ctx.param("l2")),
            alpha=float(ctx.param("l1")),
            min_child_weight=float(ctx.param("min_child_weight")),
            min_rows=max(int(ctx.param("min_child_samples")), k_all),
            min_gain=float(ctx.param("min_gain")),
        )
        self.edges, self.binned = fit_bins(table.features, self.max_bins)
        self.sizes = [len(e) + 2 for e in self.edges]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        self.total = int(sum(self.sizes))
        seed = ctx.param("seed")
        self.rng = np.random.default_rng(seed if seed is not None else secrets.randbits(64))
        self.timings = Timings()
        self.gain_by: dict[tuple[int, int], float] = {}  # (party, feature or slot) -> total gain
        self.splits_by: dict[tuple[int, int], int] = {}

    # -- one tree ---------------------------------------------------------------------------------

    def grow(self, t: int, g: np.ndarray, h: np.ndarray) -> tuple[Tree, np.ndarray]:
        """Grow tree ``t`` on ``(g, h)``; returns it and the leaf node of every training row."""
        ctx, n = self.ctx, self.n
        started = time.perf_counter()
        sampled = np.ones(n, dtype=bool)
        sub = float(ctx.param("subsample"))
        if sub < 1.0:
            sampled = self.rng.random(n) < sub
        encoders = self._encoders(g)
        tick = time.perf_counter()
        values = np.column_stack([g, h])
        if self.packing:
            gh = [encoders[0].encrypt(self.sk, values, compute=ctx.compute)]
        else:
            gh = [
                e.encrypt(self.sk, values[:, i : i + 1], compute=ctx.compute) for i, e in enumerate(encoders)
            ]
        for i, info in enumerate(self.hosts):
            # Every host gets its own ciphertexts: the first host the fresh ones, the others re-randomised.
            mine = gh if i == 0 else [v.obfuscate(compute=ctx.compute, private_key=self.sk) for v in gh]
            ctx.send(info.party, "gh", {"stop": False, "gh": mine, "sampled": bits(sampled)}, tag=f"t{t}")
        self.timings.encrypt += time.perf_counter() - tick
        own = self._own_features()
        tree = Tree()
        node_of_row = np.zeros(n, dtype=np.int32)
        layer = [0]
        parent_hists: dict[int, dict[int, tuple[np.ndarray, ...]]] = {}
        for d in range(self.depth):
            tick = time.perf_counter()
            splittable = [v for v in layer if self._rows(node_of_row, sampled, v) >= 2 * self.rules.min_rows]
            compute = self._to_compute(layer, splittable, node_of_row, sampled, tree)
            if not splittable:
                ctx.send(
                    "host",
                    "nodes",
                    {
                        "layer": np.zeros(0, np.int32),
                        "compute": np.zeros(0, np.int32),
                        "node_of_row": node_of_row,
                    },
                    tag=f"t{t}d{d}",
                )
                break
            ctx.send(
                "host",
                "nodes",
                {
                    "layer": np.asarray(layer, np.int32),
                    "compute": np.asarray(compute, np.int32),
                    "node_of_row": node_of_row,
                },
                tag=f"t{t}d{d}",
            )
            hists = self._host_histograms(t, d, compute, encoders, parent_hists, tree)
            best = {v: self._best(v, node_of_row, sampled, g, h, own, hists.get(v, {})) for v in splittable}
            node_of_row = self._apply(t, d, tree, best, node_of_row)
            parent_hists = hists
            layer = [c for v in layer if tree.left[v] >= 0 for c in (tree.left[v], tree.right[v])]
            self.timings.layers.append(time.perf_counter() - tick)
        lr = float(ctx.param("learning_rate"))
        for v in range(len(tree.left)):
            if tree.left[v] < 0:
                rows = (node_of_row == v) & sampled
                tree.value[v] = lr * boosting.leaf_weight(
                    float(g[rows].sum()), float(h[rows].sum()), self.rules
                )
        ctx.send(
            "host",
            "tree",
            {"left": np.asarray(tree.left, np.int32), "right": np.asarray(tree.right, np.int32)},
            tag=f"t{t}",
        )
        self.timings.trees.append(time.perf_counter() - started)
        return tree, node_of_row

    def _encoders(self, g: np.ndarray) -> list[PackedEncoder]:
        bounds = boosting.gradient_bounds(self.objective, g)
        if self.packing:
            return [PackedEncoder(bounds, max_rows=self.n)]
        return [PackedEncoder([b], max_rows=self.n) for b in bounds]

    def _own_features(self) -> np.ndarray:
        col = float(self.ctx.param("colsample"))
        features = len(self.sizes)
        if col >= 1.0 or features == 0:
            return np.ones(features, dtype=bool)
        chosen = self.rng.choice(features, max(1, round(col * features)), replace=False)
        mask = np.zeros(features, dtype=bool)
        mask[chosen] = True
        return mask

    @staticmethod
    def _rows(node_of_row: np.ndarray, sampled: np.ndarray, node: int) -> int:
        return int(np.count_nonzero((node_of_row == node) & sampled))

    def _to_compute(
        self,
        layer: list[int],
        splittable: list[int],
        node_of_row: np.ndarray,
        sampled: np.ndarray,
        tree: Tree,
    ) -> list[int]:
        """The nodes whose histograms the hosts compute: the root, then the smaller child of a pair."""
        if layer == [0]:
            return [0] if splittable else []
        out = []
        for a, b in zip(layer[::2], layer[1::2], strict=True):
            if a in splittable or b in splittable:
                na, nb = self._rows(node_of_row, sampled, a), self._rows(node_of_row, sampled, b)
                out.append(a if na <= nb else b)
        return out

    def _host_histograms(
        self,
        t: int,
        d: int,
        compute: list[int],
        encoders: list[PackedEncoder],
        parents: dict[int, dict[int, tuple[np.ndarray, ...]]],
        tree: Tree,
    ) -> dict[int, dict[int, tuple[np.ndarray, ...]]]:
        """Per node, per host: padded (count, G, H); the siblings of computed nodes by subtraction."""
        ctx = self.ctx
        out: dict[int, dict[int, tuple[np.ndarray, ...]]] = {}
        parent_of = {c: p for p in range(len(tree.left)) for c in (tree.left[p], tree.right[p]) if c >= 0}
        for info, msg in zip(self.hosts, recv_all_checked(ctx, "host", "hist", f"t{t}d{d}"), strict=True):
            total_sizes, slots, hists = self._check_hist(info, msg, len(compute), len(encoders))
            tick = time.perf_counter()
            count, grad, hess = H.decrypt_histograms(self.sk, encoders, hists, ctx.compute)
            self.timings.decrypt += time.perf_counter() - tick
            width = int(sum(info.sizes[s] for s in slots))
            for i, node in enumerate(compute):
                full = [np.zeros(sum(info.sizes)) for _ in range(3)]
                chunk = slice(i * width, (i + 1) * width)
                positions = np.concatenate(
                    [np.arange(total_sizes[s], total_sizes[s] + info.sizes[s]) for s in slots]
                )
                for arr, part in zip(full, (count, grad, hess), strict=True):
                    arr[positions] = part[chunk]
                stats = tuple(H.padded(arr, info.sizes, self.max_bins) for arr in full)
                out.setdefault(node, {})[info.party] = stats
                if node != 0:
                    parent = parent_of[node]
                    sibling = tree.left[parent] + tree.right[parent] - node
                    above = parents[parent][info.party]
                    out.setdefault(sibling, {})[info.party] = tuple(
                        a - b for a, b in zip(above, stats, strict=True)
                    )
        return out

    def _check_hist(
        self, info: HostInfo, msg: Any, nodes: int, columns: int
    ) -> tuple[np.ndarray, list[int], list[EncryptedVector]]:
        if not isinstance(msg, dict) or set(msg) != {"slots", "hist"}:
            raise IntegrityError(f"host {info.party} sent a malformed histogram message")
        slots = int_array(msg["slots"], f"host {info.party} histogram slots", high=len(info.sizes))
        if len(np.unique(slots)) != len(slots):
            raise IntegrityError(f"host {info.party} named a feature twice in its histograms")
        hists = msg["hist"]
        width = int(sum(info.sizes[s] for s in slots.tolist()))
        if (
            not isinstance(hists, list)
            or len(hists) != columns
            or not all(isinstance(v, EncryptedVector) and len(v) == nodes * width for v in hists)
        ):
            raise IntegrityError(f"host {info.party} sent histograms of the wrong shape")
        starts = np.concatenate([[0], np.cumsum(info.sizes)[:-1]]).astype(np.int64)
        return starts, slots.tolist(), hists

    def _best(
        self,
        node: int,
        node_of_row: np.ndarray,
        sampled: np.ndarray,
        g: np.ndarray,
        h: np.ndarray,
        own: np.ndarray,
        host_hists: dict[int, tuple[np.ndarray, ...]],
    ) -> tuple[int, Split] | None:
        rows = np.flatnonzero((node_of_row == node) & sampled)
        flat = H.plain_histograms(self.binned, self.offsets, self.total, rows, g, h)
        mine = [H.padded(a, self.sizes, self.max_bins) for a in flat]
        mine = [np.where(own[:, None], a, 0.0) for a in mine]
        nb = np.asarray([s - 1 for s in self.sizes], dtype=np.int64)
        best: tuple[int, Split] | None = None
        found = boosting.best_split(mine, nb, self.rules)
        if found is not None:
            best = (self.ctx.party_id, found)
        for info in self.hosts:
            if info.party not in host_hists:
                continue
            hb = np.asarray([s - 1 for s in info.sizes], dtype=np.int64)
            found = boosting.best_split(host_hists[info.party], hb, self.rules)
            if found is not None and (best is None or found.gain > best[1].gain):
                best = (info.party, found)
        return best

    def _apply(
        self, t: int, d: int, tree: Tree, best: dict[int, tuple[int, Split] | None], node_of_row: np.ndarray
    ) -> np.ndarray:
        """Record every chosen split, ask hosts to route their rows, and move rows to the children."""
        ctx = self.ctx
        out = node_of_row.copy()
        requests: dict[int, list[tuple[int, Split]]] = {info.party: [] for info in self.hosts}
        for node, choice in best.items():
            if choice is None:
                continue
            party, split = choice
            tree.owner[node] = party
            tree.gain[node] = split.gain
            key = (party, split.feature)
            self.gain_by[key] = self.gain_by.get(key, 0.0) + split.gain
            self.splits_by[key] = self.splits_by.get(key, 0) + 1
            if party == ctx.party_id:
                edges = self.edges[split.feature]
                tree.feature[node] = split.feature
                tree.threshold[node] = float(edges[split.bin]) if split.bin < len(edges) else np.inf
                tree.missing_left[node] = split.missing_left
                rows = node_of_row == node
                go = (self.binned[:, split.feature] <= split.bin) & (
                    self.binned[:, split.feature] < len(edges) + 1
                )
                go |= (self.binned[:, split.feature] == len(edges) + 1) & split.missing_left
                left, right = tree.add_children(node)
                out[rows & go] = left
                out[rows & ~go] = right
            else:
                requests[party].append((node, split))
        for info in self.hosts:
            asked = requests[info.party]
            ctx.send(
                info.party,
                "split",
                {
                    "node": np.asarray([v for v, _ in asked], np.int32),
                    "slot": np.asarray([s.feature for _, s in asked], np.int32),
                    "bin": np.asarray([s.bin for _, s in asked], np.int32),
                    "missing_left": np.asarray([s.missing_left for _, s in asked], bool),
                },
                tag=f"t{t}d{d}",
            )
        for info in self.hosts:
            asked = requests[info.party]
            reply = recv_checked(ctx, info.party, "split_result", f"t{t}d{d}")
            if not isinstance(reply, dict) or set(reply) != {"ids", "left"}:
                raise IntegrityError(f"host {info.party} sent a malformed split result")
            ids = int_array(reply["ids"], f"host {info.party} split ids", size=len(asked), high=2**62)
            go = bool_array(reply["left"], f"host {info.party} routing", self.n)
            for (node, _), sid in zip(asked, ids.tolist(), strict=True):
                tree.split_id[node] = int(sid)
                rows = node_of_row == node
                left, right = tree.add_children(node)
                out[rows & go] = left
                out[rows & ~go] = right
        return out


# --- training ---------------------------------------------------------------------------------------


def _labels(table: Table, ctx: TaskContext, objective: str) -> tuple[np.ndarray, int]:
    if table.label is None:
        raise ComponentError(
            f"missing label column: the guest's input table at party {ctx.party_id} has no label"
        )
    y = table.label
    if not np.all(np.isfinite(y)):
        raise ComponentError(f"the label column at party {ctx.party_id} holds NaN or infinite values")
    if objective == "regression":
        return y, 1
    if not np.all(y == np.round(y)) or y.min() < 0:
        raise ComponentError(f"{objective} labels at party {ctx.party_id} must be class numbers 0, 1, ...")
    classes = int(y.max()) + 1
    if objective == "binary" and classes > 2:
        raise ComponentError(
            f"label column at party {ctx.party_id} must hold only 0 and 1 for binary classification"
        )
    if objective == "multiclass" and not 3 <= classes <= MAX_CLASSES:
        raise ComponentError(f"multiclass needs 3 to {MAX_CLASSES} classes, the labels name {classes}")
    return y, classes if objective == "multiclass" else 1


def _host_info(ctx: TaskContext, party: int, value: Any, rows: int, validate_rows: int) -> HostInfo:
    if not isinstance(value, dict) or set(value) != {"rows", "bins", "min_rows", "validate_rows"}:
        raise IntegrityError(f"host {party} sent a malformed feature summary")
    if value["rows"] != rows or value["validate_rows"] != validate_rows:
        raise ComponentError(
            f"row counts differ: the guest holds {rows} rows ({validate_rows} to validate), host {party} holds "
            f"{value['rows']} ({value['validate_rows']}) (run psi first so that every party holds the same rows)"
        )
    sizes = int_array(value["bins"], f"host {party} bin counts", low=2, high=int(ctx.param("max_bins")) + 2)
    k = value["min_rows"]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= rows:
        raise IntegrityError(f"host {party} declared an invalid minimum aggregation size {k!r}")
    return HostInfo(party, sizes.tolist(), k)


def train(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    objective = str(ctx.param("objective"))
    y, outputs = _labels(table, ctx, objective)
    check_features(table.features, ctx)
    hosts = ctx.parties_of("host")
    if not hosts:
        raise ComponentError("hetero_secureboost needs a guest and at least one host")
    validate = ctx.inputs.get("validate")
    if int(ctx.param("early_stopping_rounds")) and validate is None:
        raise ComponentError("early_stopping_rounds needs a 'validate' input table at the guest")
    if validate is not None:
        if validate.label is None or validate.feature_names != table.feature_names:
            raise ComponentError(
                f"the 'validate' table at party {ctx.party_id} needs the label and the training table's columns"
            )
        _labels(validate, ctx, objective)
        check_features(validate.features, ctx)
    min_rows(ctx, table.rows, "hetero_secureboost: the training rows")
    pk, sk = generate_keypair(int(ctx.param("key_bits")))
    ctx.trust_key(pk)
    ctx.send("host", "pubkey", pk, tag="setup")
    validate_rows = validate.rows if validate is not None else 0
    ctx.send(
        "host", "plan", {"rows": table.rows, "outputs": outputs, "validate_rows": validate_rows}, tag="setup"
    )
    infos = [
        _host_info(ctx, h, v, table.rows, validate_rows)
        for h, v in zip(hosts, recv_all_checked(ctx, "host", "features", "setup"), strict=True)
    ]
    grower = Grower(ctx, table, infos, sk)
    init = boosting.init_score(objective, y, max(outputs, 2) if objective == "multiclass" else outputs)
    raw = np.tile(init, (table.rows, 1))
    raw_valid = np.tile(init, (validate_rows, 1)) if validate is not None else None
    trees: list[Tree] = []
    losses: list[float] = []
    valid_losses: list[float] = []
    best_round, patience = 0, int(ctx.param("early_stopping_rounds"))
    rounds = int(ctx.param("num_trees"))
    for rnd in range(rounds):
        for k, (g, h) in enumerate(boosting.gradients(objective, y, raw)):
            t = rnd * outputs + k
            tree, leaf_of_row = grower.grow(t, g, h)
            trees.append(tree)
            raw[:, k] += np.asarray(tree.value)[leaf_of_row]
            if validate is not None and raw_valid is not None:
                raw_valid[:, k] += _validation_scores(ctx, tree, validate, t)
        losses.append(boosting.loss(objective, y, raw))
        ctx.log_metric("loss", losses[-1], rnd)
        ctx.progress((rnd + 1) / rounds)
        if validate is not None and raw_valid is not None:
            valid_losses.append(boosting.loss(objective, validate.label, raw_valid))  # type: ignore[arg-type]
            ctx.log_metric("validation_loss", valid_losses[-1], rnd)
            if valid_losses[-1] < valid_losses[best_round]:
                best_round = rnd
            elif patience and rnd - best_round >= patience:
                break
    keep = (best_round + 1) * outputs if patience and valid_losses else len(trees)
    ctx.send("host", "gh", {"stop": True, "keep": keep}, tag=f"t{len(trees)}")
    trees = trees[:keep]
    model = _export(ctx, grower, table, trees, init, outputs, objective, losses)
    raw_final = raw_scores(trees, outputs, init, grower_leaves(trees, table, ctx))
    predictions = _predictions(table, boosting.outputs(objective, raw_final), objective)
    summary = {"trees": float(len(trees)), "loss": losses[-1], **_timing_summary(grower.timings)}
    summary.update(_score_summary(objective, y, raw_final))
    if valid_losses:
        summary["validation_loss"] = valid_losses[best_round if patience else -1]
        summary["best_round"] = float(best_round + 1)
    return TaskResult(tables={"predictions": predictions}, model=model, summary=summary)


def grower_leaves(trees: list[Tree], table: Table, ctx: TaskContext) -> list[np.ndarray]:
    """Training rows' leaves (re-derived with the hosts' masks so train and predict agree)."""
    return _leaves(ctx, trees, table, tag="train_leaves")


def _validation_scores(ctx: TaskContext, tree: Tree, table: Table, t: int) -> np.ndarray:
    (leaves,) = _leaves(ctx, [tree], table, tag=f"valid_leaves_t{t}")
    return np.asarray(np.asarray(tree.value, dtype=np.float64)[leaves], dtype=np.float64)


def _leaves(ctx: TaskContext, trees: list[Tree], table: Table, *, tag: str) -> list[np.ndarray]:
    """The leaf of every row in every tree: this party's reachable leaves AND every host's."""
    combined = own_reach(trees, table.features, ctx.party_id)
    total = combined.shape[1]
    for h, value in zip(ctx.parties_of("host"), recv_all_checked(ctx, "host", "leaves", tag), strict=True):
        combined &= bool_array(value, f"host {h} leaf masks", table.rows * total).reshape(table.rows, total)
    return leaves_of(trees, combined)


def own_reach(trees: list[Tree], X: np.ndarray, party_id: int) -> np.ndarray:
    """Per row, the leaves of every tree (one block per tree, leaves in node order) that the
    guest's own splits allow; host nodes are left open."""
    masks = []
    for tree in trees:
        left, right = np.asarray(tree.left), np.asarray(tree.right)
        own = {
            v: goes_left(X[:, tree.feature[v]], tree.threshold[v], tree.missing_left[v])
            for v in range(len(left))
            if left[v] >= 0 and tree.owner[v] == party_id
        }
        masks.append(reach(left, right, own, X.shape[0]))
    return np.concatenate(masks, axis=1) if masks else np.zeros((X.shape[0], 0), dtype=bool)


def leaves_of(trees: list[Tree], combined: np.ndarray) -> list[np.ndarray]:
    """Per tree, the leaf node of every row from every party's reachable leaves intersected."""
    out = []
    start = 0
    for tree in trees:
        leaf_nodes = np.flatnonzero(np.asarray(tree.left) < 0)
        block = combined[:, start : start + leaf_nodes.size]
        if not np.all(block.sum(axis=1) == 1):
            raise IntegrityError("the hosts' leaf masks do not single out one leaf per row")
        out.append(leaf_nodes[np.argmax(block, axis=1)])
        start += leaf_nodes.size
    return out


def raw_scores(trees: list[Tree], outputs: int, init: np.ndarray, leaves: list[np.ndarray]) -> np.ndarray:
    rows = len(leaves[0]) if leaves else 0
    raw = np.tile(init, (rows, 1))
    for t, (tree, leaf) in enumerate(zip(trees, leaves, strict=True)):
        raw[:, t % outputs] += np.asarray(tree.value)[leaf]
    return raw


def _predictions(table: Table, scores: np.ndarray, objective: str) -> Table:
    if objective == "multiclass":
        names_out = [f"score_{k}" for k in range(scores.shape[1])] + ["predicted"]
        features = np.column_stack([scores, np.argmax(scores, axis=1)])
    else:
        names_out = ["score"]
        features = scores[:, :1]
    return Table(
        ids=table.ids,
        features=features,
        feature_names=names_out,
        label=table.label,
        id_name=table.id_name,
        label_name=table.label_name,
    )


def _score_summary(objective: str, y: np.ndarray | None, raw: np.ndarray) -> dict[str, float]:
    if y is None:
        return {}
    out = boosting.outputs(objective, raw)
    if objective == "binary" and y.min() != y.max():
        return {"train_auc": metrics.auc(y, out[:, 0])}
    if objective == "multiclass":
        return {"train_accuracy": float(np.mean(np.argmax(out, axis=1) == y))}
    if objective == "regression":
        return {"train_rmse": float(np.sqrt(np.mean((out[:, 0] - y) ** 2)))}
    return {}


def _timing_summary(t: Timings) -> dict[str, float]:
    return {
        "seconds_encrypt": t.encrypt,
        "seconds_decrypt": t.decrypt,
        "seconds_per_tree": float(np.mean(t.trees)) if t.trees else 0.0,
        "seconds_per_layer": float(np.mean(t.layers)) if t.layers else 0.0,
    }


def _export(
    ctx: TaskContext,
    grower: Grower,
    table: Table,
    trees: list[Tree],
    init: np.ndarray,
    outputs: int,
    objective: str,
    losses: list[float],
) -> dict[str, Any]:
    """The guest's model: tree structure, its own splits, host nodes as (party, opaque id), leaf values."""

    def cat(attr: str, dtype: Any) -> np.ndarray:
        return np.asarray([v for tree in trees for v in getattr(tree, attr)], dtype=dtype)

    sizes = np.asarray([len(tree.left) for tree in trees], dtype=np.int64)
    own = [
        (f, grower.splits_by.get((ctx.party_id, f), 0), grower.gain_by.get((ctx.party_id, f), 0.0))
        for f in range(len(table.feature_names))
    ]
    host_keys = sorted(k for k in grower.gain_by if k[0] != ctx.party_id)
    return {
        "objective": objective,
        "outputs": outputs,
        "init_score": init.astype(np.float64),
        "tree_sizes": sizes,
        "left": cat("left", np.int32),
        "right": cat("right", np.int32),
        "owner": cat("owner", np.int64),
        "feature": cat("feature", np.int32),
        "threshold": cat("threshold", np.float64),
        "missing_left": cat("missing_left", bool),
        "split_id": cat("split_id", np.int64),
        "leaf_value": cat("value", np.float64),
        "feature_names": np.asarray(table.feature_names, dtype=str),
        "importance_split": np.asarray([s for _, s, _ in own], dtype=np.int64),
        "importance_gain": np.asarray([g for _, _, g in own], dtype=np.float64),
        # Host features by (party, anonymous slot): the guest never learns their names.
        "host_importance_party": np.asarray([k[0] for k in host_keys], dtype=np.int64),
        "host_importance_slot": np.asarray([k[1] for k in host_keys], dtype=np.int64),
        "host_importance_split": np.asarray([grower.splits_by[k] for k in host_keys], dtype=np.int64),
        "host_importance_gain": np.asarray([grower.gain_by[k] for k in host_keys], dtype=np.float64),
        "loss_history": np.asarray(losses, dtype=np.float64),
    }


def trees_from_model(model: Any, party_id: int) -> tuple[list[Tree], np.ndarray, int, str]:
    """(trees, init score, outputs per round, objective) of a guest model; refused otherwise."""
    if not isinstance(model, dict) or "tree_sizes" not in model or "leaf_value" not in model:
        raise ComponentError(f"the model at party {party_id} is not a guest hetero_secureboost model")
    sizes = np.asarray(model["tree_sizes"], dtype=np.int64)
    trees = []
    start = 0
    for size in sizes.tolist():
        sl = slice(start, start + size)
        trees.append(
            Tree(
                left=np.asarray(model["left"])[sl].tolist(),
                right=np.asarray(model["right"])[sl].tolist(),
                owner=np.asarray(model["owner"])[sl].tolist(),
                feature=np.asarray(model["feature"])[sl].tolist(),
                threshold=np.asarray(model["threshold"], dtype=np.float64)[sl].tolist(),
                missing_left=np.asarray(model["missing_left"], dtype=bool)[sl].tolist(),
                split_id=np.asarray(model["split_id"])[sl].tolist(),
                value=np.asarray(model["leaf_value"], dtype=np.float64)[sl].tolist(),
            )
        )
        start += size
    init = np.asarray(model["init_score"], dtype=np.float64).ravel()
    return trees, init, int(model["outputs"]), str(model["objective"])


def predict(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    check_features(table.features, ctx)
    model = ctx.input_models.get("model")
    trees, init, outputs, objective = trees_from_model(model, ctx.party_id)
    if names(model) != list(table.feature_names):  # type: ignore[arg-type]
        raise ComponentError(
            f"the input table's feature columns at party {ctx.party_id} differ from the model's"
        )
    for h, rows in zip(ctx.parties_of("host"), recv_all_checked(ctx, "host", "rows", "predict"), strict=True):
        if rows != table.rows:
            raise ComponentError(
                f"row counts differ: the guest holds {table.rows} rows, host {h} holds {rows}"
            )
    raw = raw_scores(trees, outputs, init, _leaves(ctx, trees, table, tag="predict"))
    predictions = _predictions(table, boosting.outputs(objective, raw), objective)
    summary = {"rows": float(table.rows)}
    if table.label is not None:
        scored = _score_summary(objective, table.label, raw)
        summary.update({k.replace("train_", ""): v for k, v in scored.items()})
    return TaskResult(tables={"predictions": predictions}, summary=summary)

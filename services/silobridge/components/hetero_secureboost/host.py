"""Host of Hetero SecureBoost: bins its own features, sums the guest's encrypted ``[[g, h]]`` per bin.

Its bin edges, feature values and thresholds never leave it. The guest sees the histograms of
anonymous feature slots (a random permutation of the host's columns, fixed per job) and names a
chosen split by (slot, bin); the host answers with an opaque random id and the rows that go left.
It refuses histograms of fewer than *k* rows and splits that leave a child with fewer than *k*.
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
    check_topology,
    goes_left,
    int_array,
    names,
    reach,
)
from silobridge.components.registry import TaskResult
from silobridge.crypto import EncryptedVector, PublicKey
from silobridge.errors import ComponentError, IntegrityError
from silobridge.federation.context import TaskContext
from silobridge.ml.checks import min_rows
from silobridge.ml.protocol import recv_checked
from silobridge.ml.quantile import fit_bins
from silobridge.table import Table


@dataclass
class HostTree:
    """A tree's topology with this host's own splits (node -> feature, threshold, default side)."""

    left: np.ndarray
    right: np.ndarray
    splits: dict[int, tuple[int, float, bool, int]] = field(
        default_factory=dict
    )  # node -> (col, thr, miss, id)

    def decisions(self, X: np.ndarray) -> dict[int, np.ndarray]:
        return {node: goes_left(X[:, col], thr, miss) for node, (col, thr, miss, _) in self.splits.items()}


def _plan(ctx: TaskContext, value: Any) -> dict[str, int]:
    if not isinstance(value, dict) or set(value) != {"rows", "outputs", "validate_rows"}:
        raise IntegrityError("the guest sent a malformed training plan")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values()):
        raise IntegrityError("the guest's training plan holds invalid values")
    multi = ctx.param("objective") == "multiclass"
    if (multi and not 3 <= value["outputs"] <= MAX_CLASSES) or (not multi and value["outputs"] != 1):
        raise IntegrityError(
            f"the guest plans {value['outputs']} trees per round for {ctx.param('objective')}"
        )
    return dict(value)


class HostState:
    def __init__(self, ctx: TaskContext, table: Table, pk: PublicKey) -> None:
        self.ctx = ctx
        self.pk = pk
        self.X = table.features
        self.n = table.rows
        max_bins = int(ctx.param("max_bins"))
        edges, binned = fit_bins(self.X, max_bins)
        # Slot s of the guest's view is column perm[s]: the guest never learns which column it is.
        self.perm = np.asarray(
            secrets.SystemRandom().sample(range(self.X.shape[1]), self.X.shape[1]), dtype=np.int64
        )
        self.edges = [edges[c] for c in self.perm.tolist()]
        self.binned = np.ascontiguousarray(binned[:, self.perm])
        self.sizes = [len(e) + 2 for e in self.edges]
        seed = ctx.param("seed")
        self.rng = np.random.default_rng(seed if seed is not None else secrets.randbits(64))
        self.trees: list[HostTree] = []
        self.split_count = np.zeros(self.X.shape[1], dtype=np.int64)
        self.seconds_histograms = self.seconds_rerandomise = 0.0
        self.ciphertexts_summed = 0

    def _active(self) -> np.ndarray:
        col = float(self.ctx.param("colsample"))
        slots = len(self.sizes)
        if col >= 1.0:
            return np.arange(slots)
        return np.sort(self.rng.choice(slots, max(1, round(col * slots)), replace=False))

    def tree(self, t: int, msg: Any) -> None:
        """Serve one tree: histograms per layer, routing of the chosen splits, then its topology."""
        ctx, n = self.ctx, self.n
        gh = msg["gh"]
        if (
            not isinstance(gh, list)
            or len(gh) != (1 if ctx.param("packing") else 2)
            or not all(isinstance(v, EncryptedVector) and len(v) == n and v.packing is not None for v in gh)
        ):
            raise IntegrityError(f"the guest sent malformed encrypted gradients for tree {t}")
        sampled = bool_array(msg["sampled"], "sampled rows", n)
        active = self._active()
        splits: dict[int, tuple[int, float, bool, int]] = {}
        for d in range(int(ctx.param("max_depth"))):
            nodes = recv_checked(ctx, "guest", "nodes", f"t{t}d{d}")
            if not isinstance(nodes, dict) or set(nodes) != {"layer", "compute", "node_of_row"}:
                raise IntegrityError("the guest sent a malformed node assignment")
            layer = set(int_array(nodes["layer"], "layer nodes", high=2**31).tolist())
            if not layer:
                break
            node_of_row = int_array(nodes["node_of_row"], "node assignment", size=n, low=-1, high=2**31)
            compute = int_array(nodes["compute"], "nodes to histogram", high=2**31).tolist()
            if not set(compute) <= layer or len(set(compute)) != len(compute):
                raise IntegrityError("the guest asked for histograms of nodes outside the layer")
            node_rows = []
            for node in compute:
                rows = np.flatnonzero((node_of_row == node) & sampled)
                min_rows(ctx, len(rows), f"hetero_secureboost: the histogram of node {node}")
                node_rows.append(rows)
            tick = time.perf_counter()
            hists = H.encrypted_histograms(
                gh, self.binned[:, active], [self.sizes[s] for s in active.tolist()], node_rows, ctx.compute
            )
            self.seconds_histograms += time.perf_counter() - tick
            tick = time.perf_counter()
            fresh = [v.obfuscate(compute=ctx.compute) for v in hists]
            self.seconds_rerandomise += time.perf_counter() - tick
            self.ciphertexts_summed += sum(len(rows) for rows in node_rows) * len(active) * len(gh)
            ctx.send("guest", "hist", {"slots": active, "hist": fresh}, tag=f"t{t}d{d}")
            self._route(t, d, layer, active, node_of_row, splits)
        topo = recv_checked(ctx, "guest", "tree", f"t{t}")
        if not isinstance(topo, dict) or set(topo) != {"left", "right"}:
            raise IntegrityError("the guest sent a malformed tree")
        left, right = check_topology(topo["left"], topo["right"])
        if any(node >= left.size or left[node] < 0 for node in splits):
            raise IntegrityError("the guest's tree does not contain this host's splits")
        self.trees.append(HostTree(left, right, splits))

    def _route(
        self,
        t: int,
        d: int,
        layer: set[int],
        active: np.ndarray,
        node_of_row: np.ndarray,
        splits: dict[int, tuple[int, float, bool, int]],
    ) -> None:
        ctx = self.ctx
        req = recv_checked(ctx, "guest", "split", f"t{t}d{d}")
        if not isinstance(req, dict) or set(req) != {"node", "slot", "bin", "missing_left"}:
            raise IntegrityError("the guest sent a malformed split request")
        node = int_array(req["node"], "split nodes", high=2**31)
        count = len(node)
        slot = int_array(req["slot"], "split slots", size=count, high=len(self.sizes))
        b = int_array(req["bin"], "split bins", size=count, high=int(ctx.param("max_bins")))
        miss = req["missing_left"]
        if not isinstance(miss, np.ndarray) or miss.dtype != np.bool_ or miss.shape != (count,):
            raise IntegrityError("split request: missing_left must be one bool per split")
        if (
            len(set(node.tolist())) != count
            or not set(node.tolist()) <= layer
            or not set(slot.tolist()) <= set(active.tolist())
        ):
            raise IntegrityError("the guest asked to split nodes or features it did not offer")
        go = np.zeros(self.n, dtype=bool)
        ids = []
        for v, s, bb, m in zip(node.tolist(), slot.tolist(), b.tolist(), miss.tolist(), strict=True):
            edges = self.edges[s]
            if bb >= len(edges):
                raise IntegrityError(f"split request: bin {bb} of slot {s} has no upper edge")
            column = int(self.perm[s])
            rows = node_of_row == v
            left = goes_left(self.X[:, column], float(edges[bb]), bool(m))
            in_left = int(np.count_nonzero(rows & left))
            min_rows(ctx, in_left, f"hetero_secureboost: the left child of node {v}")
            min_rows(
                ctx, int(np.count_nonzero(rows)) - in_left, f"hetero_secureboost: the right child of node {v}"
            )
            go |= rows & left
            sid = secrets.randbits(62)
            splits[v] = (column, float(edges[bb]), bool(m), sid)
            self.split_count[column] += 1
            ids.append(sid)
        ctx.send(
            "guest",
            "split_result",
            {"ids": np.asarray(ids, dtype=np.int64), "left": bits(go)},
            tag=f"t{t}d{d}",
        )


def send_leaves(ctx: TaskContext, trees: list[HostTree], X: np.ndarray, tag: str) -> None:
    """Per row and tree, the leaves this host's own splits allow (every other node left open)."""
    min_rows(ctx, X.shape[0], "hetero_secureboost: the leaf masks")
    ctx.send("guest", "leaves", bits(leaf_masks(trees, X).ravel()), tag=tag)


def leaf_masks(trees: list[HostTree], X: np.ndarray) -> np.ndarray:
    """(rows, leaves of all trees): the leaves each row can reach by this host's own splits."""
    masks = [reach(tree.left, tree.right, tree.decisions(X), X.shape[0]) for tree in trees]
    return np.concatenate(masks, axis=1) if masks else np.zeros((X.shape[0], 0), dtype=bool)


def train(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    check_features(table.features, ctx)
    msg = recv_checked(ctx, "guest", "pubkey", "setup")
    if not isinstance(msg, PublicKey):
        raise IntegrityError("the guest sent no Paillier public key")
    if msg.bits < int(ctx.param("key_bits")):
        raise IntegrityError(f"the guest's key has {msg.bits} bits, the job accepted {ctx.param('key_bits')}")
    ctx.trust_key(msg)
    plan = _plan(ctx, recv_checked(ctx, "guest", "plan", "setup"))
    validate = ctx.inputs.get("validate")
    if validate is not None:
        if validate.feature_names != table.feature_names:
            raise ComponentError(
                f"the 'validate' table at party {ctx.party_id} has other columns than the training table"
            )
        check_features(validate.features, ctx)
    state = HostState(ctx, table, msg)
    ctx.send(
        "guest",
        "features",
        {
            "rows": table.rows,
            "bins": np.asarray(state.sizes, dtype=np.int64),
            "min_rows": ctx.limits.min_rows,
            "validate_rows": validate.rows if validate is not None else 0,
        },
        tag="setup",
    )
    if plan["rows"] != table.rows:
        raise ComponentError(f"the guest plans {plan['rows']} rows, party {ctx.party_id} holds {table.rows}")
    if plan["validate_rows"] and (validate is None or validate.rows != plan["validate_rows"]):
        raise ComponentError(
            f"the guest validates on {plan['validate_rows']} rows, party {ctx.party_id} has no such table"
        )
    total = int(ctx.param("num_trees")) * plan["outputs"]
    for t in range(total + 1):
        msg_t = recv_checked(ctx, "guest", "gh", f"t{t}")
        if not isinstance(msg_t, dict) or "stop" not in msg_t:
            raise IntegrityError("the guest sent a malformed tree start")
        if msg_t["stop"] is True:
            keep = msg_t.get("keep")
            if not isinstance(keep, int) or isinstance(keep, bool) or not 0 <= keep <= len(state.trees):
                raise IntegrityError("the guest's final message keeps an invalid number of trees")
            state.trees = state.trees[:keep]
            break
        if t == total or set(msg_t) != {"stop", "gh", "sampled"}:
            raise IntegrityError("the guest sent more trees than the job has, or a malformed tree")
        state.tree(t, msg_t)
        if plan["validate_rows"] and validate is not None:
            send_leaves(ctx, state.trees[-1:], validate.features, f"valid_leaves_t{t}")
    send_leaves(ctx, state.trees, table.features, "train_leaves")
    summary = {
        "features": float(table.features.shape[1]),
        "seconds_histograms": state.seconds_histograms,
        "seconds_rerandomise": state.seconds_rerandomise,
        "ciphertexts_summed": float(state.ciphertexts_summed),
    }
    return TaskResult(model=_export(state, table), summary=summary)


def _export(state: HostState, table: Table) -> dict[str, Any]:
    """This host's model: topologies and its own splits by node; the guest holds the leaf values."""
    sizes = np.asarray([tree.left.size for tree in state.trees], dtype=np.int64)
    nodes = int(sizes.sum())
    feature = np.full(nodes, -1, dtype=np.int32)
    threshold = np.full(nodes, np.nan)
    missing_left = np.zeros(nodes, dtype=bool)
    split_id = np.full(nodes, -1, dtype=np.int64)
    start = 0
    for tree in state.trees:
        for node, (col, thr, miss, sid) in tree.splits.items():
            feature[start + node], threshold[start + node] = col, thr
            missing_left[start + node], split_id[start + node] = miss, sid
        start += tree.left.size
    return {
        "tree_sizes": sizes,
        "left": np.concatenate([t.left for t in state.trees]).astype(np.int32)
        if state.trees
        else np.zeros(0, np.int32),
        "right": np.concatenate([t.right for t in state.trees]).astype(np.int32)
        if state.trees
        else np.zeros(0, np.int32),
        "feature": feature,
        "threshold": threshold,
        "missing_left": missing_left,
        "split_id": split_id,
        "feature_names": np.asarray(table.feature_names, dtype=str),
        "importance_split": state.split_count,
    }


def host_trees(model: Any, party_id: int) -> list[HostTree]:
    """This host's trees with its own splits from its model; refused if it is not one."""
    if not isinstance(model, dict) or "tree_sizes" not in model or "leaf_value" in model:
        raise ComponentError(
            f"predict at party {party_id} needs a host hetero_secureboost model named 'model'"
        )
    trees = []
    start = 0
    for size in np.asarray(model["tree_sizes"], dtype=np.int64).tolist():
        sl = slice(start, start + size)
        left = np.asarray(model["left"])[sl].astype(np.int64)
        right = np.asarray(model["right"])[sl].astype(np.int64)
        feats = np.asarray(model["feature"])[sl]
        splits = {
            int(v): (
                int(feats[v]),
                float(model["threshold"][start + v]),
                bool(model["missing_left"][start + v]),
                int(model["split_id"][start + v]),
            )
            for v in np.flatnonzero(feats >= 0).tolist()
        }
        trees.append(HostTree(left, right, splits))
        start += size
    return trees


def predict(ctx: TaskContext) -> TaskResult:
    table = ctx.input("data")
    check_features(table.features, ctx)
    model = ctx.input_models.get("model")
    trees = host_trees(model, ctx.party_id)
    if names(model) != list(table.feature_names):  # type: ignore[arg-type]
        raise ComponentError(
            f"the input table's feature columns at party {ctx.party_id} differ from the model's"
        )
    ctx.send("guest", "rows", table.rows, tag="predict")
    send_leaves(ctx, trees, table.features, "predict")
    return TaskResult(summary={"rows": float(table.rows)})

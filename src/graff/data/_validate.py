"""Graph checks and repairs shared by every loader, plus summary statistics.

:func:`validate_graph` enforces the convention every loader returns (see :mod:`graff.data`),
:func:`graph_stats` summarises a graph and :func:`row_normalize` is the usual feature
preprocessing (applied by the runner, never inside loaders).
"""

from __future__ import annotations

import math
import os
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, homophily, remove_self_loops, to_undirected

from graff.nn.checks import check_flags

from ._errors import GraphDataError

__all__ = ["graph_stats", "row_normalize", "validate_graph"]

MASK_KEYS = ("train_mask", "val_mask", "test_mask")

#: Features larger than this in magnitude are refused: their squares overflow float32
#: (~3.4e38), so any energy, norm or matrix product over them is inf.
FEATURE_LIMIT = 1e18


def row_normalize(x: Tensor) -> Tensor:
    """Scale each row of ``x`` to sum to one; all-zero rows stay zero.

    Args:
        x: non-negative features ``[N, F]`` (counts, bag-of-words, one-hot).

    Returns:
        A new tensor of the same shape and dtype.

    Raises:
        GraphDataError: ``x`` is no matrix, or has negative entries: a row of signed numbers
            can sum to (nearly) zero, and dividing by that sum flips or explodes the row.
    """
    if not isinstance(x, Tensor):
        raise TypeError(
            f"row_normalize takes node features x [N, F] as a torch.Tensor, got "
            f"{type(x).__name__}" + ("; pass data.x" if hasattr(x, "x") else "")
        )
    if x.dim() != 2:
        raise GraphDataError(
            f"row_normalize takes node features x [N, F] (one row per node), got shape "
            f"{tuple(x.shape)}"
        )
    negative = x < 0
    if bool(negative.any()):
        rows = int(negative.any(dim=1).sum())
        raise GraphDataError(
            f"row normalisation divides each feature row by its sum, which needs non-negative "
            f"features (counts, bag-of-words, one-hot); x has negative entries in {rows} of "
            f"{x.size(0)} rows (min {float(x.min()):.4g}): keep the features as they are "
            "(data.normalize_features=false), or shift them to be non-negative first"
        )
    s = x.sum(dim=-1, keepdim=True)
    s = torch.where(s == 0, torch.ones_like(s), s)
    return x / s


def require_graph(data: object, who: str) -> None:
    """A ``TypeError`` unless ``data`` is a graph with ``x``, ``y`` and ``edge_index`` (a
    PyG ``Data``): a dataset's name is told to be loaded first."""
    if isinstance(data, str | os.PathLike):
        raise TypeError(
            f"{who} takes a loaded graph (a torch_geometric.data.Data), got "
            f"{type(data).__name__} {str(data)!r:.60}; load it first: "
            f"graff.data.load_dataset({str(data)!r:.40})"
        )
    if not all(hasattr(data, k) for k in ("x", "y", "edge_index")):
        raise TypeError(
            f"{who} takes a loaded graph with x, y and edge_index (a "
            f"torch_geometric.data.Data), got {type(data).__name__} {data!r:.60}"
        )


def _notes(data: Data) -> list[str]:
    notes = getattr(data, "notes", None)
    if notes is None:
        notes = []
    return list(notes)


def _check_x(x: Any) -> Tensor:
    return _checked_features(x)[0]


def _checked_features(x: Any) -> tuple[Tensor, float]:
    """``x`` checked and as float32, with its largest magnitude."""
    if not isinstance(x, Tensor):
        raise GraphDataError(
            f"data.x must be a torch.Tensor of node features [N, F], got {type(x).__name__}; "
            "convert it with torch.as_tensor(x, dtype=torch.float32)"
        )
    if x.layout != torch.strided:  # sparse COO or CSR
        x = x.to_dense()
    if x.dim() != 2:
        raise GraphDataError(
            f"data.x must be 2-D [N, F], got shape {tuple(x.shape)}; reshape it, e.g. "
            "x.view(N, -1) or x.unsqueeze(1) for a single feature"
        )
    if x.size(0) == 0:
        raise GraphDataError("graph is empty (N == 0 nodes); load a graph with at least one node")
    if x.size(1) == 0:
        raise GraphDataError(
            f"data.x has no feature columns (shape {tuple(x.shape)}); graff's models need at "
            "least one feature per node: add a constant feature (x = torch.ones(N, 1)) or one-hot "
            "node ids (x = torch.eye(N))"
        )
    if x.is_complex():
        raise GraphDataError(
            f"data.x has complex dtype {x.dtype}; graff needs real features: put the real and "
            "imaginary parts in separate columns (torch.cat([x.real, x.imag], 1)) or use x.abs()"
        )
    if x.dtype == torch.bool:
        return x.to(torch.float32), float(bool(x.any()))
    lo, hi = torch.aminmax(x if x.is_floating_point() else x.to(torch.float64))
    big = max(abs(float(lo)), abs(float(hi)))  # one fast pass; NaN/inf propagate into it
    clean = math.isfinite(big)
    if not clean:
        finite = x[torch.isfinite(x)]
        big = float(finite.abs().max()) if finite.numel() else 0.0
    if big > FEATURE_LIMIT:
        raise GraphDataError(
            f"data.x reaches |x| = {big:.3g}: features this large overflow float32 arithmetic "
            f"(squares above ~1.8e19 are inf; graff refuses |x| > {FEATURE_LIMIT:g}), so training "
            "would only report non-finite values; rescale them, e.g. standardise each column"
        )
    x = x.to(torch.float32)
    bad = ~torch.isfinite(x) if not clean else None
    if bad is not None and bool(bad.any()):
        rows = bad.any(dim=1).nonzero().flatten()
        raise GraphDataError(
            f"data.x has {int(bad.sum())} NaN/inf entries in {rows.numel()} rows (first offending "
            f"row: {int(rows[0])}); impute or drop them before loading, e.g. "
            "torch.nan_to_num(x, nan=0.0)"
        )
    return x, big


def _check_y(y: Any, n: int, notes: list[str]) -> tuple[Tensor, int]:
    if not isinstance(y, Tensor):
        raise GraphDataError(
            f"data.y must be a torch.Tensor of class labels [N], got {type(y).__name__}; "
            "convert it with torch.as_tensor(y, dtype=torch.long)"
        )
    if y.dim() == 2 and y.size(1) == 1:
        y = y.flatten()
    if y.dim() != 1 or y.numel() != n:
        multi = (
            y.dim() == 2
            and y.size(0) == n
            and not bool(((y != 0).sum(dim=1) == 1).all())  # rows that are not one-hot
        )
        fix = (
            "rows with several (or no) non-zero entries make it a multi-label target, which "
            "graff does not train (single-label node classification)"
            if multi
            else "use integer class ids (argmax of a one-hot matrix) for every node"
        )
        raise GraphDataError(
            f"data.y must have shape [N] = [{n}] (one label per row of x), got "
            f"{tuple(y.shape)}; {fix}"
        )
    if y.dtype == torch.bool:
        notes.append("cast bool labels to int64 classes 0/1")
        y = y.long()
    if y.is_floating_point() or y.is_complex():
        if y.is_floating_point() and not bool(torch.isfinite(y).all()):
            raise GraphDataError(
                "data.y has NaN/inf labels; use -1 for unlabelled nodes and 0..C-1 for classes"
            )
        if y.is_floating_point() and bool((y == y.round()).all()):
            notes.append(f"cast integral {y.dtype} labels to int64")
            y = y.long()
        else:
            raise GraphDataError(
                f"data.y must hold integer class ids, got dtype {y.dtype} with non-integer "
                "values; node classification needs labels 0..C-1 (regression targets are not "
                "supported)"
            )
    y = y.long()
    if bool((y < -1).any()):
        raise GraphDataError(
            f"data.y has values < -1 (min {int(y.min())}); use 0..C-1 for classes and -1 only "
            "for unlabelled nodes"
        )
    labels = torch.unique(y[y >= 0])
    c = int(labels.numel())
    if c == 0:
        raise GraphDataError("data.y has no labelled node (all -1); give at least one node a label")
    if int(labels.max()) != c - 1:
        raise GraphDataError(
            f"data.y labels are not contiguous: {c} distinct classes but the largest id is "
            f"{int(labels.max())} (ids present: {labels.tolist()[:20]}); remap them to 0..{c - 1}, "
            "e.g. y = torch.unique(y, return_inverse=True)[1]"
        )
    return y, c


def check_edges(ei: Any, n: int) -> Tensor:
    """``edge_index`` checked (a tensor, integers, [2, E], at least one edge, ids in
    [0, n)) and as int64; a clear :class:`GraphDataError` otherwise."""
    if not isinstance(ei, Tensor):
        raise GraphDataError(
            f"data.edge_index must be a torch.Tensor [2, E], got {type(ei).__name__}; "
            "convert it with torch.as_tensor(edges, dtype=torch.long)"
        )
    if ei.is_floating_point() or ei.is_complex() or ei.dtype == torch.bool:
        raise GraphDataError(
            f"data.edge_index must be an integer tensor, got dtype {ei.dtype}; use .long()"
        )
    if ei.dim() != 2 or ei.size(0) != 2:
        hint = (
            " (it looks like [E, 2]: transpose it with .t())"
            if (ei.dim() == 2 and ei.size(1) == 2)
            else ""
        )
        raise GraphDataError(f"data.edge_index must have shape [2, E], got {tuple(ei.shape)}{hint}")
    ei = ei.long()
    if ei.size(1) == 0:
        raise GraphDataError(
            "graph has no edges; check that the edge list was loaded (an npz needs "
            "edge_index [2, E] or edges [E, 2]): graff trains graph models, and every model "
            "here, the MLP baseline included, is trained on a graph with at least one edge"
        )
    if bool((ei < 0).any()) or bool((ei >= n).any()):
        bad = ((ei < 0) | (ei >= n)).any(dim=0).nonzero().flatten()
        j = int(bad[0])
        raise GraphDataError(
            f"data.edge_index has {bad.numel()} edges with node ids outside [0, {n}) (first: "
            f"column {j} = ({int(ei[0, j])}, {int(ei[1, j])})); node ids must index rows of x "
            "(0-based): re-index the edges or add the missing nodes"
        )
    return ei


def _check_masks(data: Data, n: int, y: Tensor, repair: bool, notes: list[str]) -> None:
    present = [k for k in MASK_KEYS if getattr(data, k, None) is not None]
    if not present:
        return
    if len(present) != 3:
        missing = [k for k in MASK_KEYS if k not in present]
        raise GraphDataError(
            f"data has {present} but not {missing}; give all three masks or none (then call "
            "graff.data.random_splits)"
        )
    masks: dict[str, Tensor] = {}
    for k in MASK_KEYS:
        m = getattr(data, k)
        if not isinstance(m, Tensor):
            raise GraphDataError(f"data.{k} must be a bool torch.Tensor, got {type(m).__name__}")
        if m.dtype != torch.bool:
            if bool(((m != 0) & (m != 1)).any()):
                raise GraphDataError(
                    f"data.{k} must be boolean (or 0/1), got values outside {{0, 1}}; "
                    "pass a bool mask, not node indices"
                )
            m = m.bool()
        if m.dim() == 1:
            m = m.unsqueeze(1)
        if m.dim() != 2 or m.size(0) != n:
            raise GraphDataError(
                f"data.{k} must have shape [N] or [N, S] with N = {n}, got {tuple(m.shape)}; "
                "transpose [S, N] masks with .t()"
            )
        masks[k] = m
    sizes = {k: m.size(1) for k, m in masks.items()}
    if len(set(sizes.values())) != 1:
        raise GraphDataError(
            f"masks disagree on the number of splits: {sizes}; give each mask the same S columns"
        )
    tr, va, te = masks["train_mask"], masks["val_mask"], masks["test_mask"]
    for (a, ma), (b, mb) in (
        (("train", tr), ("val", va)),
        (("train", tr), ("test", te)),
        (("val", va), ("test", te)),
    ):
        ov = ma & mb
        if bool(ov.any()):
            s = int(ov.any(dim=0).nonzero()[0])
            node = int(ov[:, s].nonzero()[0])
            raise GraphDataError(
                f"{a} and {b} masks overlap in {int(ov.sum())} (node, split) pairs (first: node "
                f"{node} in split {s}); masks of one split must be disjoint — rebuild the split"
            )
    unl = (y < 0).unsqueeze(1)
    for k, m in masks.items():
        hit = m & unl
        if bool(hit.any()):
            if not repair:
                raise GraphDataError(
                    f"data.{k} selects {int(hit.sum())} unlabelled (y == -1) node-split pairs; "
                    "drop them from the mask or call validate_graph(..., repair=True)"
                )
            per = hit.sum(dim=0).tolist()
            nodes = sorted(set(hit.nonzero()[:, 0].tolist()))
            notes.append(
                f"dropped unlabelled (y=-1) nodes from {k}: {int(hit.sum())} node-split pairs "
                f"(per split {per}; nodes {nodes[:20]}{'…' if len(nodes) > 20 else ''})"
            )
            masks[k] = m & ~unl
    _note_untrained_classes(y, masks, notes)
    for k, m in masks.items():
        setattr(data, k, m)


def _note_untrained_classes(y: Tensor, masks: dict[str, Tensor], notes: list[str]) -> None:
    """Note the splits whose validation or test nodes have a class no training node has: the
    model can never predict it there, so those nodes always count as errors."""
    labelled = y >= 0
    if not bool(labelled.any()):
        return
    onehot = torch.zeros(y.numel(), int(y.max()) + 1)
    onehot[labelled.nonzero().flatten(), y[labelled]] = 1.0
    trained = onehot.T @ masks["train_mask"].float()  # [C, S]: training nodes per class
    scored = onehot.T @ (masks["val_mask"] | masks["test_mask"]).float()
    missing = (trained == 0) & (scored > 0)
    if not bool(missing.any()):
        return
    by_classes: dict[tuple[int, ...], list[int]] = {}
    for s in missing.any(dim=0).nonzero().flatten().tolist():
        by_classes.setdefault(tuple(missing[:, s].nonzero().flatten().tolist()), []).append(s)
    parts = [
        f"split{'s' if len(ss) > 1 else ''} {_short(ss)}: class{'es' if len(cs) > 1 else ''} "
        f"{_short(list(cs))}"
        for cs, ss in by_classes.items()
    ]
    notes.append(
        "validation/test nodes of a class with no training node (the model cannot learn it, so "
        "they always count as errors; give every split training nodes of each class): "
        + "; ".join(parts)
    )


def _short(values: list[int], limit: int = 10) -> str:
    head = ", ".join(map(str, values[:limit]))
    return head + (f", … ({len(values)} in all)" if len(values) > limit else "")


def validate_graph(data: Data, *, repair: bool = True) -> Data:
    """Check a graph against graff's data convention, repairing what can be repaired.

    Convention: ``x`` float32 ``[N, F]`` finite; ``y`` int64 ``[N]`` with classes ``0..C-1`` and
    ``-1`` for unlabelled nodes; ``edge_index`` int64 ``[2, E]`` undirected, coalesced, without
    self-loops; optional ``train_mask``/``val_mask``/``test_mask`` bool ``[N, S]``, disjoint per
    split and never selecting an unlabelled node.

    Errors (:class:`GraphDataError`): NaN/inf, complex or zero-column features, features above
    :data:`FEATURE_LIMIT` in magnitude, wrong shapes or dtypes, non-integer labels, node ids out
    of range, an empty graph or a graph without edges, non-contiguous labels, overlapping masks.
    Whether the graph is a usable *classification task* (two classes, non-empty distinct
    splits, a fitting metric) is checked by :func:`check_task`, which :func:`prepare_data` runs.

    Repairs (each recorded in ``data.notes``; with ``repair=False`` each raises instead):
    symmetrising directed edges, removing self-loops and duplicate edges, dropping unlabelled
    nodes from masks. Integer-valued float and bool labels are cast to int64 (with a note).
    Isolated nodes are allowed and counted in a note. ``[N]`` masks become
    ``[N, 1]``. Sets ``data.num_label_classes`` and ensures ``data.notes`` exists.

    Args:
        data: the graph; modified in place and returned.
        repair: apply the repairs above (default) or raise on them.
    """
    require_graph(data, "validate_graph")
    check_flags(repair=repair)  # "no" would count as true: repairs instead of the error asked for
    notes = _notes(data)
    x = _check_x(data.x)
    n = x.size(0)
    y, c = _check_y(data.y, n, notes)
    ei = check_edges(data.edge_index, n)

    loops = ei[0] == ei[1]
    n_loops = int(loops.sum())
    if n_loops:
        if not repair:
            raise GraphDataError(
                f"edge_index has {n_loops} self-loops; remove them (torch_geometric.utils."
                "remove_self_loops) or call validate_graph(..., repair=True)"
            )
        ei, _ = remove_self_loops(ei)
        notes.append(f"removed {n_loops} self-loop edges (the model adds its own self-loops)")
        if ei.size(1) == 0:
            raise GraphDataError(
                "graph has no edges besides self-loops; check that the edge list was loaded: "
                "every model here, the MLP baseline included, needs a graph with at least one edge"
            )
    e_in = ei.size(1)
    ei_c = coalesce(ei, num_nodes=n)
    n_dup = e_in - ei_c.size(1)
    if n_dup:
        if not repair:
            raise GraphDataError(
                f"edge_index has {n_dup} duplicate edges; coalesce it (torch_geometric.utils."
                "coalesce) or call validate_graph(..., repair=True)"
            )
        notes.append(f"removed {n_dup} duplicate directed edges")
    ei_u = to_undirected(ei_c, num_nodes=n)
    n_added = ei_u.size(1) - ei_c.size(1)
    if n_added:
        if not repair:
            raise GraphDataError(
                f"edge_index is directed: {n_added} edges lack their reverse; symmetrise it "
                "(torch_geometric.utils.to_undirected) or call validate_graph(..., repair=True)"
            )
        notes.append(f"symmetrised directed edges: added {n_added} reverse edges")
    deg = torch.bincount(ei_u[0], minlength=n)
    n_iso = int((deg == 0).sum())
    if n_iso:
        notes.append(
            f"{n_iso} isolated nodes kept (the self-loop in the normalised adjacency handles them)"
        )
    data.x = x
    data.y = y
    data.edge_index = ei_u
    _check_masks(data, n, y, repair, notes)
    data.num_label_classes = c
    data.notes = notes
    return data


def graph_stats(data: Data) -> dict[str, Any]:
    """Summary statistics of a graph in graff's convention.

    Returns a dict with ``nodes``, ``undirected_edges`` (unique unordered pairs, no self-loops),
    ``features``, ``classes``, ``class_counts`` (list, labelled nodes only), ``edge_homophily``
    (:func:`torch_geometric.utils.homophily`, ``method="edge"``, over edges between labelled
    nodes of the undirected graph), ``isolated_nodes``, ``num_splits``, ``split_sizes`` (list of
    ``(train, val, test)`` per split) and ``directed`` (whether ``edge_index`` lacks reverses).
    """
    require_graph(data, "graph_stats")
    n = int(data.num_nodes)
    ei = data.edge_index
    ei_nl, _ = remove_self_loops(ei)
    und = to_undirected(ei_nl, num_nodes=n)
    directed = und.size(1) != coalesce(ei_nl, num_nodes=n).size(1)
    y = data.y
    lab = (y[und[0]] >= 0) & (y[und[1]] >= 0)
    und_l = und[:, lab]
    h = float(homophily(und_l, y, method="edge")) if und_l.size(1) else float("nan")
    yl = y[y >= 0]
    c = int(yl.max()) + 1 if yl.numel() else 0
    deg = torch.bincount(und[0], minlength=n)
    split_sizes: list[tuple[int, int, int]] = []
    if getattr(data, "train_mask", None) is not None:
        ms = [getattr(data, k) for k in MASK_KEYS]
        ms = [m.unsqueeze(1) if m.dim() == 1 else m for m in ms]
        for s in range(ms[0].size(1)):
            tr, va, te = (int(m[:, s].sum()) for m in ms)
            split_sizes.append((tr, va, te))
    return {
        "nodes": n,
        "undirected_edges": und.size(1) // 2,
        "features": int(data.x.size(1)),
        "classes": c,
        "class_counts": torch.bincount(yl, minlength=c).tolist(),
        "edge_homophily": h,
        "isolated_nodes": int((deg == 0).sum()),
        "num_splits": len(split_sizes),
        "split_sizes": split_sizes,
        "directed": bool(directed),
    }

"""Is a graph a usable node-classification task? :func:`check_task` and :func:`check_features`.

:func:`~graff.data.validate_graph` checks a graph against the data convention; these check what
a *run* needs on top: two classes, a metric that fits them, splits that are non-empty, disjoint
and distinct, and features whose scale float32 training can handle. :func:`prepare_data` runs
both, so ``graff train``, ``graff tune`` and the Python API all get the same errors.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._errors import GraphDataError, GraphDataWarning
from ._splits import drawn_note
from ._validate import MASK_KEYS, _checked_features, require_graph

__all__ = ["FEATURE_WARN", "METRICS", "check_features", "check_task"]

#: Metrics a run can report; ``roc_auc`` is binary (positive class = class 1).
METRICS = ("accuracy", "roc_auc")

#: Features larger than this in magnitude get a :class:`GraphDataWarning`: unscaled features this
#: large usually make training diverge, which would otherwise be blamed on the ODE's step size.
FEATURE_WARN = 1e6

_KIND = {"train_mask": "training", "val_mask": "validation", "test_mask": "test"}


def check_features(x: Any, *, name: str = "graph", warn: bool = True) -> None:
    """Refuse node features graff cannot train on; warn about a worrying scale.

    Errors (:class:`GraphDataError`): not a 2-D tensor, no rows or no columns, complex, NaN/inf,
    or magnitude above :data:`~graff.data._validate.FEATURE_LIMIT`. With ``warn``, features
    above :data:`FEATURE_WARN` in magnitude emit a :class:`GraphDataWarning` naming the scale.
    """
    _, big = _checked_features(x)
    if warn and big > FEATURE_WARN:
        warnings.warn(
            f"{name}: node features reach |x| = {big:.3g}; unscaled features this large usually "
            "make training diverge (reported as non-finite values / unstable Euler steps). "
            "Rescale them (e.g. standardise each column) or row-normalise them "
            "(data.normalize_features).",
            GraphDataWarning,
            stacklevel=3,
        )


def _masks(data: Any, n: int, name: str) -> dict[str, Tensor]:
    got = {k: getattr(data, k, None) for k in MASK_KEYS}
    missing = [k for k, m in got.items() if m is None]
    if missing:
        raise GraphDataError(
            f"{name} has no {', '.join(missing)}; a run needs train/validation/test masks: give "
            "them in the data (bool [N] or [N, S]) or draw stratified ones: "
            "data.train_mask, data.val_mask, data.test_mask = graff.data.random_splits(data.y)"
        )
    out: dict[str, Tensor] = {}
    for k, m in got.items():
        if not isinstance(m, Tensor):
            raise GraphDataError(f"{name}: {k} must be a bool torch.Tensor, got {type(m).__name__}")
        if m.dim() == 1 and m.size(0) != n and not m.is_floating_point() and m.dtype != torch.bool:
            raise GraphDataError(
                f"{name}: {k} holds {m.size(0)} node indices ({m.dtype}), not a mask over the "
                f"N = {n} nodes; turn the indices into a bool mask: "
                f"mask = torch.zeros({n}, dtype=torch.bool); mask[idx] = True"
            )
        m = m.unsqueeze(1) if m.dim() == 1 else m
        if m.dim() != 2 or m.size(0) != n:
            raise GraphDataError(
                f"{name}: {k} must have shape [N] or [N, S] with N = {n}, got {tuple(m.shape)}"
            )
        out[k] = m.bool()
    sizes = {k: m.size(1) for k, m in out.items()}
    if len(set(sizes.values())) != 1:
        raise GraphDataError(f"{name}: masks disagree on the number of splits: {sizes}")
    return out


def _class_sizes(y: Tensor) -> dict[int, int]:
    classes, counts = torch.unique(y[y >= 0], return_counts=True)
    return dict(zip(classes.tolist(), counts.tolist(), strict=True))


def check_task(data: Any, splits: Sequence[int] | None = None) -> None:
    """Refuse a graph that is not a usable node-classification task.

    ``data`` is a loaded :class:`~torch_geometric.data.Data` (``graff.data`` convention) or a
    :class:`~graff.data.PreparedData`. :func:`prepare_data` calls this on every split; a runner
    that trains only some splits may call it again with ``splits`` to check its selection.

    Checks, each a :class:`GraphDataError` that names the problem and the fix:

    * ``y`` is an integer ``[N]`` tensor and at least **two classes** occur among the labelled
      nodes (``y >= 0``): a one-class "task" scores 100 % and means nothing;
    * the metric is ``accuracy`` or ``roc_auc``, and ``roc_auc`` (binary) only with exactly two
      classes; every checked split's validation and test sets then hold both classes, else
      ROC-AUC is undefined;
    * train/val/test masks exist, with one row per node and the same number of splits ``S``;
    * every checked split has non-empty **training, validation and test** sets (the best epoch
      is picked on validation and reported on test), disjoint from each other, without
      unlabelled nodes;
    * **no duplicate splits**: two splits with the same train, validation and test nodes, or an
      index listed twice in ``splits``, would turn one result into a mean ± std over copies;
      this is an error, not a warning, because the reported spread would be meaningless.

    Args:
        data: the graph.
        splits: the split indices to check (default: all); indices outside ``0..S-1`` raise.
    """
    require_graph(data, "check_task")
    name = str(getattr(data, "name", None) or "graph")
    y = getattr(data, "y", None)
    if not isinstance(y, Tensor) or y.dim() != 1:
        raise GraphDataError(f"{name}: y must be a 1-D tensor of class ids [N]")
    if y.is_complex() or (
        y.is_floating_point() and not bool((torch.isfinite(y) & (y == y.round())).all())
    ):
        raise GraphDataError(
            f"{name}: y must hold integer class ids 0..C-1 (-1 = unlabelled), got dtype {y.dtype} "
            "with other values; regression targets are not supported"
        )
    y = y.long()
    n = int(y.numel())
    sizes = _class_sizes(y)
    if len(sizes) < 2:
        if sizes:
            ((cls, count),) = sizes.items()
            what = f"every labelled node has class {cls} ({count} nodes)"
        else:
            what = "no node is labelled"
        raise GraphDataError(
            f"{name}: a classification task needs at least 2 classes, but {what}; give the "
            "nodes their real labels, or use a dataset with two or more classes"
        )
    metric = str(getattr(data, "metric", "accuracy"))
    if metric not in METRICS:
        raise GraphDataError(f"{name}: metric must be one of {list(METRICS)}, got {metric!r}")
    if metric == "roc_auc" and len(sizes) != 2:
        raise GraphDataError(
            f"{name}: metric 'roc_auc' is for binary tasks, but the labels have {len(sizes)} "
            "classes; use metric='accuracy' (or merge the classes into two)"
        )
    if metric == "roc_auc" and sorted(sizes) != [0, 1]:
        raise GraphDataError(
            f"{name}: metric 'roc_auc' scores class 1 against class 0, but the classes are "
            f"{sorted(sizes)}; relabel them 0 and 1"
        )
    masks = _masks(data, n, name)
    num_splits = masks["train_mask"].size(1)
    if splits is None:
        chosen = list(range(num_splits))
    else:
        chosen = [int(s) for s in splits]
        bad = [s for s in chosen if not 0 <= s < num_splits]
        if bad:
            raise GraphDataError(
                f"{name}: split indices {bad} out of range; the data has {num_splits} splits "
                f"(0..{num_splits - 1})"
            )
        twice = sorted({s for s in chosen if chosen.count(s) > 1})
        if twice:
            raise GraphDataError(
                f"{name}: split(s) {twice} listed more than once; a mean ± std over copies of "
                "one split is meaningless — list each split once"
            )
    if not chosen:
        raise GraphDataError(f"{name}: no split selected; select at least one split")
    unl = y < 0
    for s in chosen:
        cols = {k: m[:, s] for k, m in masks.items()}
        for k, m in cols.items():
            if not bool(m.any()):
                raise GraphDataError(_empty_message(name, s, k, sizes, n))
            if bool((m & unl).any()):
                raise GraphDataError(
                    f"{name}: split {s}'s {_KIND[k]} set contains unlabelled nodes (y = -1); "
                    "drop them from the mask (graff.data.validate_graph does)"
                )
        tr, va, te = cols["train_mask"], cols["val_mask"], cols["test_mask"]
        if bool((tr & va).any() | (tr & te).any() | (va & te).any()):
            raise GraphDataError(
                f"{name}: split {s}'s training, validation and test sets overlap; the masks of "
                "one split must be disjoint — rebuild the split"
            )
        if metric == "roc_auc":
            for k in ("val_mask", "test_mask"):
                if torch.unique(y[cols[k]]).numel() < 2:
                    raise GraphDataError(
                        f"{name}: split {s}'s {_KIND[k]} set holds only class "
                        f"{int(y[cols[k]][0])}; ROC-AUC needs both classes in it — re-draw "
                        "the split (stratified: graff.data.random_splits) or use "
                        "metric='accuracy'"
                    )
    _check_duplicates(name, masks, chosen, drawn_note(data), sizes)


def _empty_message(name: str, s: int, key: str, sizes: dict[int, int], n: int) -> str:
    what = f"{name}: split {s} has an empty {_KIND[key]} set"
    labelled = sum(sizes.values())
    if labelled < 10 or min(sizes.values()) < 3:
        return (
            f"{what}: too few labelled nodes to split ({labelled} labelled of {n} nodes; class "
            f"sizes {dict(sorted(sizes.items()))}); label more nodes, or give masks with at "
            "least one node in each of the training, validation and test sets"
        )
    if key == "val_mask":
        hint = (
            "graff picks the best epoch on the validation set: give every split validation "
            "nodes (random splits: val_frac > 0, e.g. the default 0.32)"
        )
    elif key == "test_mask":
        hint = (
            "there would be nothing to report: give every split test nodes (random splits: "
            "train_frac + val_frac < 1)"
        )
    else:
        hint = "give every split training nodes (random splits: train_frac > 0)"
    return f"{what}; {hint}. Fix or drop that mask column."


def _check_duplicates(
    name: str, masks: dict[str, Tensor], chosen: list[int], drawn: str | None, sizes: dict[int, int]
) -> None:
    """Refuse two identical splits among ``chosen``; ``drawn``: graff's note when it drew the
    splits itself (a file without masks), whose fix is fewer splits or masks, not dropping
    mask columns the file never had."""
    if len(chosen) < 2:
        return
    stacked = torch.cat([masks[k][:, chosen] for k in MASK_KEYS], dim=0)  # [3N, s]
    packed = np.packbits(stacked.t().contiguous().numpy(), axis=1)
    first: dict[bytes, int] = {}
    pairs: list[tuple[int, int]] = []
    for row, s in zip(packed, chosen, strict=True):
        key = row.tobytes()
        if key in first:
            pairs.append((first[key], s))
        else:
            first[key] = s
    if not pairs:
        return
    shown = ", ".join(f"{a} and {b}" for a, b in pairs[:5])
    if drawn is not None:
        distinct = len(first)
        raise GraphDataError(
            f"{name}: the file has no masks and graff drew {drawn.partition(': ')[2]}, but with "
            f"{sum(sizes.values())} labelled nodes (class sizes {dict(sorted(sizes.items()))}) "
            f"they repeat: splits {shown} are identical, {distinct} of {len(chosen)} distinct; "
            "a mean ± std over copies of one split overstates certainty — draw at most "
            f"{distinct} (--set data.params.num_splits={distinct}), label more nodes, or give "
            "train/val/test masks in the file"
        )
    raise GraphDataError(
        f"{name}: splits {shown} are identical (same training, validation and test nodes); "
        "a mean ± std over copies of one split overstates certainty — drop the duplicate "
        "mask columns (or select distinct splits)"
    )

"""Seeded, class-stratified random train/val/test splits."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from graff.nn.checks import check_sizes, is_int, is_real

from ._errors import GraphDataError

__all__ = ["DRAWN_NOTE", "MAX_SPLITS", "check_split_params", "drawn_note", "random_splits"]

#: How a loaded graph's notes begin when graff drew its splits (a user file without masks).
DRAWN_NOTE = "no masks in file"


def drawn_note(graph: Any) -> str | None:
    """``graph``'s note saying graff drew its splits (:data:`DRAWN_NOTE`), or None."""
    notes = getattr(graph, "notes", None) or []
    return next((str(n) for n in notes if str(n).startswith(DRAWN_NOTE)), None)


def random_splits(
    y: Tensor,
    num_splits: int = 10,
    train_frac: float = 0.48,
    val_frac: float = 0.32,
    seed: int = 0,
    labeled: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Draw ``num_splits`` class-stratified random splits.

    Within every class, the labelled nodes are shuffled and the first
    ``round(train_frac · n_c)`` go to train, the next ``round(val_frac · n_c)`` to validation and
    the rest to test (48/32/20 by default, the geom-gcn proportions). Splits are seeded by
    ``seed`` (split ``s`` is the ``s``-th draw of one :class:`torch.Generator`), so they are
    reproducible across machines.

    Args:
        y: labels ``[N]``; nodes with ``y < 0`` are never selected.
        num_splits: number of independent splits ``S``.
        train_frac: fraction of each class in train.
        val_frac: fraction of each class in validation.
        seed: generator seed.
        labeled: optional bool ``[N]`` restricting the eligible nodes further.

    Returns:
        ``(train_mask, val_mask, test_mask)``, each bool ``[N, S]`` and disjoint per split.
    """
    if not isinstance(y, Tensor):
        hint = (
            ": pass the graph's labels, data.train_mask, data.val_mask, data.test_mask = "
            "random_splits(data.y)"
            if hasattr(y, "y")
            else ""
        )
        raise TypeError(f"random_splits takes the labels y [N], got {type(y).__name__}{hint}")
    if is_int(num_splits) and num_splits < 1:
        raise GraphDataError(f"num_splits must be >= 1, got {num_splits}")
    check_sizes(num_splits=num_splits)
    if not is_int(seed):
        raise TypeError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    if not 0 <= int(seed) < 2**63:
        raise GraphDataError(f"seed must be an integer in [0, 2**63), got {seed}")
    for name, frac in (("train_frac", train_frac), ("val_frac", val_frac)):
        if not is_real(frac):
            raise TypeError(f"{name} must be a number, got {frac!r}")
    if not (0 < train_frac < 1 and 0 <= val_frac < 1 and train_frac + val_frac <= 1):
        raise GraphDataError(
            f"need 0 < train_frac < 1, 0 <= val_frac < 1 and train_frac + val_frac <= 1, got "
            f"train_frac={train_frac}, val_frac={val_frac}"
        )
    y = _labels(y)
    n = y.numel()
    ok = y >= 0
    if labeled is not None:
        if labeled.shape != (n,):
            raise GraphDataError(f"labeled must be a bool mask of shape [{n}], got {labeled.shape}")
        ok = ok & labeled.bool()
    gen = torch.Generator().manual_seed(int(seed))
    classes = torch.unique(y[ok]).tolist()
    members = [(ok & (y == c)).nonzero().flatten() for c in classes]
    masks = [torch.zeros(n, num_splits, dtype=torch.bool) for _ in range(3)]
    for s in range(num_splits):
        for idx in members:
            perm = idx[torch.randperm(idx.numel(), generator=gen)]
            n_tr = round(train_frac * idx.numel())
            n_va = round(val_frac * idx.numel())
            n_va = min(n_va, idx.numel() - n_tr)
            masks[0][perm[:n_tr], s] = True
            masks[1][perm[n_tr : n_tr + n_va], s] = True
            masks[2][perm[n_tr + n_va :], s] = True
    return masks[0], masks[1], masks[2]


def _labels(y: Tensor) -> Tensor:
    """``y`` as int64 class ids [N]: a vector (or a column [N, 1]) of integer values; a
    one-hot matrix or non-integer labels are refused, not flattened or truncated."""
    if y.dim() == 2 and y.size(1) == 1:
        y = y.flatten()
    if y.dim() != 1:
        raise GraphDataError(
            f"random_splits takes the labels as a vector y [N] of class ids, got shape "
            f"{tuple(y.shape)}; for one-hot labels pass y.argmax(dim=1)"
        )
    if y.is_floating_point() and not bool((y == y.round()).all()):
        raise GraphDataError(
            f"random_splits takes integer class ids (-1 = unlabelled), got {y.dtype} labels "
            "with non-integer values"
        )
    return y.long()


#: Most random splits a dataset parameter may ask for (each is a mask column per node).
MAX_SPLITS = 1000


def check_split_params(params: dict[str, Any], where: str) -> None:
    """Refuse random-split parameters that would give an empty or meaningless split.

    ``params`` holds ``num_splits``, ``train_frac``, ``val_frac`` and ``seed`` (already of the
    right types, see the registry's parameter check). Unlike :func:`random_splits` itself
    (which allows ``val_frac=0``), a dataset used for a run needs validation nodes (the best
    epoch is picked on them) and test nodes, so ``0 < val_frac`` and
    ``train_frac + val_frac < 1`` are required here.
    """
    ns, tf, vf, seed = (params[k] for k in ("num_splits", "train_frac", "val_frac", "seed"))
    if not 1 <= ns <= MAX_SPLITS:
        raise GraphDataError(f"{where}: num_splits must be 1..{MAX_SPLITS}, got {ns}")
    if not 0 <= seed < 2**63:
        raise GraphDataError(f"{where}: seed must be an integer in [0, 2**63), got {seed}")
    if not 0 < tf < 1:
        raise GraphDataError(
            f"{where}: train_frac must be in (0, 1), got {tf}; e.g. the default 0.48"
        )
    if not 0 < vf < 1:
        raise GraphDataError(
            f"{where}: val_frac={vf} leaves no validation nodes, but graff picks the best epoch "
            "on the validation set; use 0 < val_frac < 1, e.g. the default 0.32"
        )
    if tf + vf >= 1:
        raise GraphDataError(
            f"{where}: train_frac + val_frac = {tf + vf:g} leaves no test nodes; keep "
            "train_frac + val_frac < 1 (default 0.48 + 0.32)"
        )

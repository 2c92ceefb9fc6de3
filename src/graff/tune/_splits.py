"""The splits a trial is scored on: the default rule and the ``--splits`` option."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from graff.tune import _backend as backend

__all__ = ["TARGET_VAL_NODES", "default_splits", "parse_splits", "resolve_splits"]

#: Validation nodes the default objective averages over (summed over its splits).
TARGET_VAL_NODES = 2000


def default_splits(data: Any) -> list[int]:
    """The splits a trial is scored on by default: the first K of the dataset's S splits,

    .. math::  K = \\min\\big(S,\\ \\lceil 2000 / \\bar n_{val} \\rceil\\big),

    with :math:`\\bar n_{val}` the mean number of validation nodes of a split. The rule is on
    the size of the validation sets, not of the graph, because that is what sets the noise
    of the objective: a split's validation accuracy has a binomial standard deviation of
    up to :math:`0.5/\\sqrt{n_{val}}`, so the mean over K splits has at most
    :math:`0.5/\\sqrt{K n_{val}}` ≈ 1.1 points at 2000 validation nodes, below the gaps
    between settings worth telling apart. Small graphs have tiny validation sets (texas and
    cornell: 59 nodes per split, one node = 1.7 points) and get all their splits; large graphs
    have large ones and get few, which is also where a split is dear. With the shipped data:
    texas, wisconsin, cornell: 10 splits; chameleon-filtered: 7; chameleon, citeseer, cora,
    squirrel-filtered: 3; squirrel: 2; film, pubmed, minesweeper, tolokers: 1.
    """
    n_val = float(data.val_mask.sum()) / max(1, data.num_splits)
    k = math.ceil(TARGET_VAL_NODES / max(1.0, n_val))
    return list(range(min(data.num_splits, max(1, k))))


def parse_splits(text: str | None) -> int | list[int] | None:
    """``--splits`` of the command line: ``""``/None → None (the default rule), ``"3"`` → 3
    (the first three), ``"0,2,5"`` → [0, 2, 5]."""
    if text is None or not text.strip():
        return None
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise backend.ConfigError(
            f"--splits {text!r}: give a number K (the first K splits) or indices like 0,1,2"
        ) from None
    return values[0] if len(parts) == 1 else values


def resolve_splits(splits: int | Sequence[int] | None, data: Any) -> list[int]:
    if splits is None:
        return default_splits(data)
    s = data.num_splits
    if isinstance(splits, str):
        raise backend.ConfigError(
            f"splits={splits!r}: give K (the first K splits) or a list of indices such as "
            f"[0, 1] (parse_splits reads the command line's text)"
        )
    if isinstance(splits, int):
        if not 1 <= splits <= s:
            raise backend.ConfigError(
                f"splits={splits}: {data.name} has {s} splits; ask for 1..{s} (the first K) "
                "or a list of split indices"
            )
        return list(range(splits))
    out = [int(k) for k in splits]
    if not out or len(set(out)) != len(out) or any(not 0 <= k < s for k in out):
        raise backend.ConfigError(
            f"splits={list(splits)}: give distinct split indices in 0..{s - 1} ({data.name} has "
            f"{s} splits)"
        )
    return out

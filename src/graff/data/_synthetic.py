"""Synthetic graphs: the contextual stochastic block model (CSBM)."""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

from ._errors import GraphDataError
from ._splits import random_splits

__all__ = ["csbm"]

#: Most feature entries (``N · F``) or edges (``N · d``) :func:`csbm` generates (~4 GB float32).
_MAX_ENTRIES = 10**9


def _sample_pairs(
    rng: np.random.Generator,
    y: np.ndarray,
    by_class: list[np.ndarray],
    count: int,
    same: bool,
    taken: set[tuple[int, int]],
) -> list[tuple[int, int]]:
    """Sample ``count`` new unordered pairs, intra-class if ``same`` else inter-class."""
    n = y.size
    out: list[tuple[int, int]] = []
    while len(out) < count:
        need = count - len(out)
        m = 2 * need + 16
        i = rng.integers(0, n, size=m)
        if same:
            j = np.empty_like(i)
            for c, members in enumerate(by_class):
                sel = y[i] == c
                j[sel] = members[rng.integers(0, members.size, size=int(sel.sum()))]
        else:
            j = rng.integers(0, n, size=m)
        for a, b in zip(i.tolist(), j.tolist(), strict=True):
            if a == b or (y[a] == y[b]) != same:
                continue
            key = (a, b) if a < b else (b, a)
            if key in taken:
                continue
            taken.add(key)
            out.append(key)
            if len(out) == count:
                break
    return out


def csbm(
    num_nodes: int = 1000,
    num_classes: int = 5,
    homophily: float = 0.2,
    avg_degree: float = 10.0,
    num_features: int = 64,
    feature_signal: float = 1.0,
    num_splits: int = 10,
    train_frac: float = 0.48,
    val_frac: float = 0.32,
    seed: int = 0,
) -> Data:
    r"""Contextual stochastic block model with a prescribed edge homophily.

    Nodes get balanced classes (``i mod C``, then shuffled). Each class ``c`` has a mean
    :math:`\mu_c = s\,u_c` with :math:`u_c` a random unit direction in :math:`\mathbb{R}^F` and
    ``s = feature_signal``; features are :math:`x_i = \mu_{y_i} + \varepsilon_i`,
    :math:`\varepsilon_i \sim \mathcal{N}(0, I)`. The graph has
    :math:`M = \operatorname{round}(N\,d/2)` undirected edges with ``d = avg_degree``, of which
    :math:`\operatorname{round}(hM)` join two nodes of the same class and the rest join nodes of
    different classes, each drawn uniformly without repetition. So the edge homophily equals
    ``homophily`` up to rounding, the mean degree is ``avg_degree`` and there are no
    self-loops or duplicate edges. Splits come from :func:`random_splits`.

    Args:
        num_nodes: ``N``.
        num_classes: ``C``.
        homophily: target edge homophily ``h`` in [0, 1].
        avg_degree: mean degree ``d``.
        num_features: ``F``.
        feature_signal: ``s``, the norm of each class mean.
        num_splits, train_frac, val_frac: passed to :func:`random_splits`.
        seed: seeds features, labels, edges and splits (numpy ``default_rng``).

    Returns:
        A :class:`~torch_geometric.data.Data` following the :mod:`graff.data` convention.
    """
    if num_classes < 2 or num_nodes < 2 * num_classes:
        raise GraphDataError(
            f"csbm needs num_classes >= 2 and num_nodes >= 2*num_classes, got "
            f"num_nodes={num_nodes}, num_classes={num_classes}"
        )
    if num_nodes * max(num_features, 1) > _MAX_ENTRIES or num_nodes * avg_degree > _MAX_ENTRIES:
        raise GraphDataError(
            f"csbm: num_nodes={num_nodes} with num_features={num_features} and "
            f"avg_degree={avg_degree} is too large to generate (more than {_MAX_ENTRIES:.0e} "
            "features or edges); choose a smaller graph"
        )
    if not 0.0 <= homophily <= 1.0:
        raise GraphDataError(f"csbm homophily must be in [0, 1], got {homophily}")
    if avg_degree <= 0 or num_features < 1:
        raise GraphDataError(
            f"csbm needs avg_degree > 0 and num_features >= 1, got {avg_degree}, {num_features}"
        )
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(num_nodes) % num_classes)
    by_class = [np.flatnonzero(y == c) for c in range(num_classes)]
    m = round(num_nodes * avg_degree / 2)
    m_in = round(homophily * m)
    m_out = m - m_in
    max_in = sum(c.size * (c.size - 1) // 2 for c in by_class)
    max_out = num_nodes * (num_nodes - 1) // 2 - max_in
    if m_in > max_in // 2 or m_out > max_out // 2:
        raise GraphDataError(
            f"csbm: {m} edges at homophily {homophily} would fill more than half of the possible "
            "intra- or inter-class pairs; lower avg_degree or raise num_nodes"
        )
    dirs = rng.standard_normal((num_classes, num_features))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    x = feature_signal * dirs[y] + rng.standard_normal((num_nodes, num_features))
    taken: set[tuple[int, int]] = set()
    pairs = _sample_pairs(rng, y, by_class, m_in, True, taken)
    pairs += _sample_pairs(rng, y, by_class, m_out, False, taken)
    und = torch.tensor(pairs, dtype=torch.long).t().reshape(2, -1)
    edge_index = to_undirected(und, num_nodes=num_nodes)
    yt = torch.from_numpy(y).long()
    tr, va, te = random_splits(yt, num_splits, train_frac, val_frac, seed)
    data = Data(
        x=torch.from_numpy(x).float(),
        edge_index=edge_index,
        y=yt,
        train_mask=tr,
        val_mask=va,
        test_mask=te,
    )
    data.name = "csbm"
    data.metric = "accuracy"
    data.num_label_classes = num_classes
    data.notes = [
        f"csbm(N={num_nodes}, C={num_classes}, h={homophily}, d={avg_degree}, F={num_features}, "
        f"signal={feature_signal}, seed={seed}): {m_in} intra- and {m_out} inter-class edges"
    ]
    return data

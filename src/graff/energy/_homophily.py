"""Homophily of a labelling: how often adjacent nodes share a class.

Edge, node and class-insensitive homophily are PyG's :func:`torch_geometric.utils.homophily`
(Zhu et al. 2020; Pei et al. 2020; Lim et al. 2021); adjusted homophily is Platonov et al.
(2023), "A critical look at the evaluation of GNNs under heterophily", eq. (5).
``edge_index`` lists both directions of each undirected edge.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import homophily

from graff.energy._graph import check_edge_index

__all__ = [
    "adjusted_homophily",
    "class_insensitive_homophily",
    "edge_homophily",
    "node_homophily",
    "prediction_homophily",
]


def _labels(y: Tensor, edge_index: Tensor) -> Tensor:
    if not isinstance(y, Tensor):
        raise ValueError(f"labels must be a torch.Tensor, got {type(y).__name__}")
    if y.dim() == 2 and y.size(1) == 1:
        y = y.squeeze(1)
    if y.dim() == 2 and y.size(0) == 2 and isinstance(edge_index, Tensor) and edge_index.dim() == 1:
        raise ValueError(
            f"labels must be a vector [n] of class ids, got {tuple(y.shape)}, and edge_index "
            f"{tuple(edge_index.shape)}: the two look swapped; graff's homophily functions take "
            "(y, edge_index), labels first (PyG's torch_geometric.utils.homophily takes "
            "edge_index first)"
        )
    if y.dim() != 1:
        raise ValueError(f"labels must be a vector [n] of class ids, got {tuple(y.shape)}")
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(f"labels must be integer class ids, got dtype {y.dtype}")
    if y.numel() > 0 and int(y.min()) < 0:
        raise ValueError("labels must be non-negative class ids (mask unlabelled nodes first)")
    check_edge_index(edge_index, max(y.numel(), 1), "the labels y")
    if edge_index.size(1) == 0:
        raise ValueError("homophily is undefined on a graph without edges")
    return y


def edge_homophily(y: Tensor, edge_index: Tensor) -> float:
    r"""Fraction of (directed) edges joining same-class nodes (Zhu et al. 2020).

    .. math:: h_{edge} = |\{(i,j)\in\mathsf{E} : y_i = y_j\}| \,/\, |\mathsf{E}|

    Example:
        >>> import torch
        >>> from graff.energy import edge_homophily
        >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])  # the path 0 - 1 - 2
        >>> edge_homophily(torch.tensor([0, 0, 1]), edge_index)  # 0 - 1 joins a class, 1 - 2 not
        0.5
    """
    y = _labels(y, edge_index)
    return float(homophily(edge_index, y, method="edge"))


def node_homophily(y: Tensor, edge_index: Tensor) -> float:
    r"""Mean over nodes of the fraction of same-class neighbours (Pei et al. 2020).

    .. math::
        h_{node} = \frac1{|V|}\sum_{v}
        \frac{|\{u\in\mathcal N(v): y_u = y_v\}|}{|\mathcal N(v)|}

    Isolated nodes count as 0 (PyG's convention).
    """
    y = _labels(y, edge_index)
    return float(homophily(edge_index, y, method="node"))


def class_insensitive_homophily(y: Tensor, edge_index: Tensor) -> float:
    r"""Class-insensitive edge homophily (Lim et al. 2021).

    .. math:: \hat h = \frac1{C-1}\sum_{k=1}^{C}\max\Big(0,\ h_k - \frac{|\mathcal C_k|}{|V|}\Big)

    with h_k the fraction of edges leaving class-k nodes that land in class k, and C the number
    of classes (max label + 1, at least 2).
    """
    y = _labels(y, edge_index)
    if int(y.max()) + 1 < 2:
        raise ValueError("class-insensitive homophily needs at least two classes")
    return float(homophily(edge_index, y, method="edge_insensitive"))


def adjusted_homophily(y: Tensor, edge_index: Tensor) -> float:
    r"""Adjusted homophily (Platonov et al. 2023): edge homophily corrected for chance.

    .. math::
        h_{adj} = \frac{h_{edge} - \sum_k \bar p_k^2}{1 - \sum_k \bar p_k^2},\qquad
        \bar p_k = \frac{D_k}{2|E|},\ D_k = \sum_{v: y_v = k} d_v

    (2|E| = number of directed edges). 0 in expectation for labels independent of the graph,
    1 for a perfectly homophilous labelling, negative for heterophily.
    """
    y = _labels(y, edge_index)
    h = edge_homophily(y, edge_index)
    num_classes = int(y.max()) + 1
    deg = torch.bincount(edge_index[0], minlength=y.numel()).to(torch.float64)
    d_k = torch.zeros(num_classes, dtype=torch.float64).index_add_(0, y, deg)
    chance = float((d_k / d_k.sum()).pow(2).sum())
    if chance >= 1.0:
        raise ValueError("adjusted homophily is undefined when every edge end has one class")
    return (h - chance) / (1.0 - chance)


def prediction_homophily(logits_or_labels: Tensor, edge_index: Tensor) -> float:
    """Edge homophily of a model's predictions: logits/probabilities [n, k] are argmax-ed,
    integer labels [n] are used as given.
    """
    pred = logits_or_labels
    if isinstance(pred, Tensor) and pred.dtype.is_floating_point:
        if pred.dim() != 2:
            raise ValueError(
                f"logits must have shape [n, k], got {tuple(pred.shape)}; pass labels as integers"
            )
        bad = ~torch.isfinite(pred.detach()).all(dim=1)
        if bool(bad.any()):
            raise ValueError(
                f"logits have NaN or infinite entries in {int(bad.sum())} of their "
                f"{pred.size(0)} rows (first: row {int(bad.nonzero()[0])}; a diverged model?): "
                "their predictions are undefined"
            )
        pred = pred.argmax(dim=-1)
    return edge_homophily(pred, edge_index)

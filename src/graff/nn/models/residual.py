r"""Classic GNN layers inside the residual recipe of `Platonov et al. (ICLR 2023)
<https://arxiv.org/abs/2302.11640>`_ ("A critical look at the evaluation of GNNs under
heterophily"), whose tuned GCN, SAGE, GAT and graph transformer are strong on heterophilous
graphs.

.. math::
    H^{(0)} = \mathrm{GELU}\big(\mathrm{dropout}(\mathrm{dropout}_{in}(X)\,W_{in} + b_{in})\big),
    \qquad H^{(l+1)} = H^{(l)} + M_l\big(\mathrm{Norm}_l(H^{(l)})\big),
    \qquad Y = \mathrm{Norm}_{out}(H^{(L)})\,W_{out} + b_{out}

Each block is pre-norm and residual; its module :math:`M` aggregates the neighbours and ends
in a two-layer feed-forward network
:math:`\mathrm{FF}(Z) = \mathrm{dropout}(\mathrm{GELU}(\mathrm{dropout}(Z W_1 + b_1)) W_2 + b_2)`
of width ``ffn_multiplier · hidden``:

* GCN: :math:`M(H) = \mathrm{FF}(\bar{A} H)`,
  :math:`\bar{A} = \tilde{D}^{-1/2}(A+I)\tilde{D}^{-1/2}`;
* SAGE: :math:`M(H) = \mathrm{FF}([H \,\Vert\, D^{-1} A H])` (no self-loops);
* GAT: :math:`Z = HW + b`, per head
  :math:`\alpha_{ij} = \mathrm{softmax}_{j \in \mathcal{N}(i)\cup\{i\}}
  \mathrm{LeakyReLU}_{0.2}(u^\top z_j + c + v^\top z_i)`, :math:`M(H) = \mathrm{FF}(\alpha Z)`, or
  with ``sep`` (GAT-sep) :math:`\mathrm{FF}([Z \,\Vert\, \alpha Z])`;
* GT: scaled dot-product attention over the edges (self-loops included),
  :math:`M(H) = \mathrm{dropout}(\alpha V W_o)` (``sep``, GT-sep:
  :math:`\mathrm{dropout}([H \,\Vert\, \alpha V] W_o)`), then a second block with
  :math:`M = \mathrm{FF}`;
* ResNet (graff's ``mlp``): :math:`M = \mathrm{FF}`, the graph is not used.

Heads split the hidden width (``hidden`` must be a multiple of ``heads``). The registry
(:mod:`graff.train.models`) builds these for ``model.block: residual``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graff.nn.adjacency import edge_structure, gcn_adjacency, graph_cached, mean_adjacency
from graff.nn.checks import CheckedModule, check_flags, check_probs, check_sizes
from graff.nn.functional import dropout
from graff.nn.linear import InputDropoutLinear, param_dtype
from graff.nn.sparse import (
    EdgeStructure,
    edge_head_dot,
    edge_softmax,
    edge_values_mm,
    spmm,
    unbind_heads,
)

__all__ = [
    "NORMS",
    "FeedForward",
    "ResidualBlock",
    "ResidualGAT",
    "ResidualGATSep",
    "ResidualGCN",
    "ResidualGNN",
    "ResidualGT",
    "ResidualGTSep",
    "ResidualMLP",
    "ResidualSAGE",
    "make_norm",
]

#: The normalisations of a residual block (``model.norm``): none, LayerNorm, BatchNorm.
NORMS = ("none", "layer", "batch")


def make_norm(kind: str, dim: int) -> nn.Module:
    """The normalisation ``kind`` (one of :data:`NORMS`) of width ``dim``."""
    if kind == "layer":
        return nn.LayerNorm(dim)
    if kind == "batch":
        return nn.BatchNorm1d(dim)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {kind!r}")


def _width(dim: int, multiplier: float) -> int:
    if not (math.isfinite(multiplier) and multiplier > 0):
        raise ValueError(f"ffn_multiplier must be a positive number, got {multiplier}")
    width = int(dim * multiplier)
    if width < 1:
        raise ValueError(
            f"ffn_multiplier = {multiplier} gives a feed-forward width of {width} for hidden "
            f"{dim}; raise it to at least {1 / dim:g}"
        )
    return width


class FeedForward(nn.Module):
    r""":math:`\mathrm{dropout}(\mathrm{GELU}(\mathrm{dropout}(Z W_1 + b_1)) W_2 + b_2)`.

    Args:
        in_dim (int): input width (``2 · dim`` after a concatenation).
        dim (int): output width. multiplier (float): the hidden width is ``int(dim · multiplier)``.
        dropout (float): after each linear map.
    """

    def __init__(self, in_dim: int, dim: int, multiplier: float, dropout: float) -> None:
        super().__init__()
        width = _width(dim, multiplier)
        self.lin1 = nn.Linear(in_dim, width)
        self.lin2 = nn.Linear(width, dim)
        self.dropout = dropout

    def forward(self, z: Tensor) -> Tensor:
        h = F.gelu(dropout(self.lin1(z), self.dropout, self.training))
        return dropout(self.lin2(h), self.dropout, self.training)


class ResidualBlock(nn.Module):
    r"""The pre-norm residual block :math:`H + M(\mathrm{Norm}(H))`.

    Args:
        module (nn.Module): :math:`M`, called as ``module(z, graph)``.
        norm (nn.Module): the normalisation (:func:`make_norm`).
    """

    def __init__(self, module: nn.Module, norm: nn.Module) -> None:
        super().__init__()
        self.norm = norm
        self.module = module

    def forward(self, h: Tensor, graph: Any) -> Tensor:
        out: Tensor = h + self.module(self.norm(h), graph)
        return out


class FeedForwardModule(nn.Module):
    """:math:`M(H) = \\mathrm{FF}(H)`: ResNet's block and the graph transformer's second block."""

    def __init__(self, dim: int, multiplier: float, dropout: float) -> None:
        super().__init__()
        self.ffn = FeedForward(dim, dim, multiplier, dropout)

    def forward(self, z: Tensor, graph: Any) -> Tensor:
        out: Tensor = self.ffn(z)
        return out


class GCNModule(nn.Module):
    """:math:`M(H) = \\mathrm{FF}(\\bar{A} H)`; ``graph`` is the CSR Ā."""

    def __init__(self, dim: int, multiplier: float, dropout: float) -> None:
        super().__init__()
        self.ffn = FeedForward(dim, dim, multiplier, dropout)

    def forward(self, z: Tensor, graph: Tensor) -> Tensor:
        out: Tensor = self.ffn(spmm(graph, z))
        return out


class SAGEModule(nn.Module):
    """:math:`M(H) = \\mathrm{FF}([H \\Vert D^{-1}AH])`; ``graph`` is the CSR D⁻¹A."""

    def __init__(self, dim: int, multiplier: float, dropout: float) -> None:
        super().__init__()
        self.ffn = FeedForward(2 * dim, dim, multiplier, dropout)

    def forward(self, z: Tensor, graph: Tensor) -> Tensor:
        out: Tensor = self.ffn(torch.cat([z, spmm(graph, z)], dim=-1))
        return out


def _split_heads(dim: int, heads: int) -> int:
    if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
        raise ValueError(
            f"heads = {heads!r} is invalid: expected a positive integer (the number of "
            "attention heads); change model.params.heads"
        )
    if dim % heads:
        raise ValueError(
            f"hidden = {dim} must be a multiple of heads = {heads} (the heads split the "
            "hidden width); change model.hidden or model.params.heads"
        )
    return dim // heads


def attend(alpha: Tensor, values: Tensor, structure: EdgeStructure) -> Tensor:
    """Per head k, row i of the output is :math:`\\sum_j \\alpha^k_{ij} v^k_j`: alpha [H, E]
    (head-major, as the modules' ``attention`` returns it) on the entries of ``structure``,
    values [N, H, C] → [N, H·C]."""
    per_head = zip(alpha.unbind(0), unbind_heads(values), strict=True)
    return torch.cat([edge_values_mm(a, v, structure) for a, v in per_head], dim=-1)


def additive_attention(src: Tensor, dst: Tensor, graph: EdgeStructure) -> Tensor:
    """GAT's α [heads, E]: softmax over each row of LeakyReLU₀.₂(src_j + dst_i), from the
    per-node scores src, dst [heads, N] (any number of heads: a stack's K·H included)."""
    scores = src.index_select(1, graph.col) + dst.index_select(1, graph.row)
    return edge_softmax(F.leaky_relu(scores, 0.2), graph, dim=1)


def dot_attention(q: Tensor, k: Tensor, graph: EdgeStructure) -> Tensor:
    """The transformer's α [heads, E]: softmax over each row of q_i·k_j / √C, q, k [N, heads, C]."""
    return edge_softmax(edge_head_dot(q, k, graph) / math.sqrt(q.size(-1)), graph, dim=1)


class GATModule(nn.Module):
    r"""Additive attention (``heads`` heads of width ``dim / heads``) then :math:`\mathrm{FF}`.

    Entry (i, j) of ``graph`` (the pattern of A + I) is the message j → i with score
    :math:`\mathrm{LeakyReLU}_{0.2}(u^\top z_j + c + v^\top z_i)` per head, where
    :math:`Z = HW + b`; the scores are normalised over each row (:meth:`attention`).
    With ``sep`` the feed-forward network reads :math:`[Z \Vert \alpha Z]`.
    """

    def __init__(self, dim: int, multiplier: float, dropout: float, heads: int, sep: bool) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, _split_heads(dim, heads)
        self.lin = nn.Linear(dim, dim)
        self.att_src = nn.Linear(dim, heads)
        self.att_dst = nn.Linear(dim, heads, bias=False)
        self.sep = sep
        self.ffn = FeedForward(2 * dim if sep else dim, dim, multiplier, dropout)

    def attention(self, z: Tensor, graph: EdgeStructure) -> Tensor:
        """The attention coefficients α [heads, E] of the entries of ``graph`` (rows sum to 1).

        Head-major: each head's scores, softmax and coefficients are contiguous, so no
        [E, heads] tensor is transposed, forward or backward (a fifth of a layer's time on a
        large graph)."""
        return additive_attention(self.att_src(z).t(), self.att_dst(z).t(), graph)

    def forward(self, h: Tensor, graph: EdgeStructure) -> Tensor:
        z = self.lin(h)
        alpha = self.attention(z, graph)
        msg = attend(alpha, z.view(-1, self.heads, self.head_dim), graph)
        out: Tensor = self.ffn(torch.cat([z, msg], dim=-1) if self.sep else msg)
        return out


class AttentionModule(nn.Module):
    r"""Scaled dot-product attention over the edges: per head
    :math:`\alpha_{ij} = \mathrm{softmax}_j\, q_i^\top k_j / \sqrt{C}`, then
    :math:`\mathrm{dropout}(\alpha V W_o + b_o)` (with ``sep``: :math:`[H \Vert \alpha V] W_o`)."""

    def __init__(self, dim: int, dropout: float, heads: int, sep: bool) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, _split_heads(dim, heads)
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.sep = sep
        self.out = nn.Linear(2 * dim if sep else dim, dim)
        self.dropout = dropout

    def attention(self, h: Tensor, graph: EdgeStructure) -> Tensor:
        """α [heads, E] (head-major) of the entries of ``graph`` (each row sums to one)."""
        q = self.query(h).view(-1, self.heads, self.head_dim)
        k = self.key(h).view(-1, self.heads, self.head_dim)
        return dot_attention(q, k, graph)

    def forward(self, h: Tensor, graph: EdgeStructure) -> Tensor:
        alpha = self.attention(h, graph)
        msg = attend(alpha, self.value(h).view(-1, self.heads, self.head_dim), graph)
        out = self.out(torch.cat([h, msg], dim=-1) if self.sep else msg)
        return dropout(out, self.dropout, self.training)


class ResidualGNN(CheckedModule, nn.Module):
    """The recipe's network around one module kind; use a subclass (:class:`ResidualGCN`,
    :class:`ResidualSAGE`, :class:`ResidualGAT`, :class:`ResidualGT`, :class:`ResidualMLP`).

    Args:
        in_channels, hidden_channels, out_channels (int): widths.
        num_layers (int): residual layers (≥ 1; a GT layer is two blocks).
        input_dropout (float): dropout on the input features X, before the input linear map
            (default: 0, as the recipe; graff's other models call this ``input_dropout`` too).
        dropout (float): after the input linear map and inside every block (default: 0.2).
        norm (str): the blocks' and the output's normalisation, one of :data:`NORMS`
            (default: ``"layer"``).
        ffn_multiplier (float): feed-forward width / hidden width (default: 1).

    Shapes:
        x [N, in_channels] (dense or sparse CSR) → logits [N, out_channels].
    """

    accepts_sparse_features = True

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        num_layers: int = 2,
        input_dropout: float = 0.0,
        dropout: float = 0.2,
        norm: str = "layer",
        ffn_multiplier: float = 1.0,
    ) -> None:
        super().__init__()
        check_sizes(
            in_channels=in_channels,
            hidden_channels=hidden_channels,
            out_channels=out_channels,
            num_layers=num_layers,
        )
        check_probs(input_dropout=input_dropout, dropout=dropout)
        make_norm(norm, 1)  # the check, before any layer is built
        _width(hidden_channels, ffn_multiplier)
        self.input = InputDropoutLinear(nn.Linear(in_channels, hidden_channels), input_dropout)
        self.blocks = nn.ModuleList(
            ResidualBlock(module, make_norm(norm, hidden_channels))
            for _ in range(num_layers)
            for module in self.layer_modules(hidden_channels, ffn_multiplier, dropout)
        )
        self.output_norm = make_norm(norm, hidden_channels)
        self.output = nn.Linear(hidden_channels, out_channels)
        self.dropout = dropout

    def layer_modules(self, dim: int, multiplier: float, dropout: float) -> list[nn.Module]:
        """The modules of one layer, one residual block each."""
        raise NotImplementedError

    def graph(self, edge_index: Any, num_nodes: int, edge_weight: Tensor | None) -> Any:
        """The graph operator the modules read (cached per graph); None: no graph."""
        return None

    def reset_parameters(self) -> None:
        for mod in self.modules():
            reset = getattr(mod, "reset_parameters", None)
            if mod is not self and callable(reset):
                reset()

    def embed(self, x: Tensor) -> Tensor:
        """H⁽⁰⁾ = GELU(dropout(dropout_in(X) W_in + b_in)): the input map of the recipe."""
        return F.gelu(dropout(self.input(x), self.dropout, self.training))

    def forward(
        self, x: Tensor, edge_index: Any = None, edge_weight: Tensor | None = None
    ) -> Tensor:
        graph = self.graph(edge_index, x.size(0), edge_weight)
        h = self.embed(x)
        for block in self.blocks:
            h = block(h, graph)
        out: Tensor = self.output(self.output_norm(h))
        return out


class ResidualMLP(ResidualGNN):
    """The recipe's ResNet: feed-forward blocks only; the graph is not used."""

    def layer_modules(self, dim: int, multiplier: float, dropout: float) -> list[nn.Module]:
        return [FeedForwardModule(dim, multiplier, dropout)]


class ResidualGCN(ResidualGNN):
    """The recipe's GCN (:class:`~graff.nn.models.residual.GCNModule` blocks, Ā with or
    without ``self_loops``)."""

    def __init__(self, *args: Any, self_loops: bool = True, **kwargs: Any) -> None:
        check_flags(self_loops=self_loops)
        super().__init__(*args, **kwargs)
        self.self_loops = self_loops

    def layer_modules(self, dim: int, multiplier: float, dropout: float) -> list[nn.Module]:
        return [GCNModule(dim, multiplier, dropout)]

    def graph(self, edge_index: Any, num_nodes: int, edge_weight: Tensor | None) -> Any:
        return gcn_adjacency(
            edge_index, num_nodes, edge_weight, self_loops=self.self_loops, dtype=param_dtype(self)
        )


class ResidualSAGE(ResidualGNN):
    """The recipe's GraphSAGE (:class:`~graff.nn.models.residual.SAGEModule` blocks: [H ‖ mean
    of the neighbours])."""

    def layer_modules(self, dim: int, multiplier: float, dropout: float) -> list[nn.Module]:
        return [SAGEModule(dim, multiplier, dropout)]

    def graph(self, edge_index: Any, num_nodes: int, edge_weight: Tensor | None) -> Any:
        dtype = param_dtype(self)
        return graph_cached(
            "mean",
            edge_index,
            num_nodes,
            edge_weight,
            dtype,
            lambda: mean_adjacency(edge_index, num_nodes, edge_weight, dtype=dtype),
        )


def _pattern(edge_index: Any, num_nodes: int, edge_weight: Tensor | None) -> EdgeStructure:
    if edge_weight is not None:
        raise ValueError("attention models take no edge_weight; pass the graph alone")
    return graph_cached(
        "pattern",
        edge_index,
        num_nodes,
        None,
        torch.int64,
        lambda: edge_structure(edge_index, num_nodes),
    )


class ResidualGAT(ResidualGNN):
    """The recipe's GAT (:class:`~graff.nn.models.residual.GATModule` blocks on A + I);
    ``sep``: GAT-sep.

    Args:
        heads (int): attention heads (default: 8); ``hidden_channels`` must be a multiple.
        sep (bool): keep a node's own embedding apart from the attended message (default: False).
    """

    def __init__(self, *args: Any, heads: int = 8, sep: bool = False, **kwargs: Any) -> None:
        check_flags(sep=sep)
        self._heads, self._sep = heads, sep
        super().__init__(*args, **kwargs)

    def layer_modules(self, dim: int, multiplier: float, dropout: float) -> list[nn.Module]:
        return [GATModule(dim, multiplier, dropout, self._heads, self._sep)]

    def graph(self, edge_index: Any, num_nodes: int, edge_weight: Tensor | None) -> Any:
        return _pattern(edge_index, num_nodes, edge_weight)


class ResidualGATSep(ResidualGAT):
    """Platonov et al.'s GAT-sep: :class:`ResidualGAT` with ``sep=True``, a model of its own
    (registered as ``gat_sep``) so that its row has its own configs and searches.

    Args:
        heads (int): attention heads (default: 8); ``hidden_channels`` must be a multiple.
    """

    def __init__(self, *args: Any, heads: int = 8, **kwargs: Any) -> None:
        super().__init__(*args, heads=heads, sep=True, **kwargs)


class ResidualGT(ResidualGNN):
    """The recipe's graph transformer: per layer an
    :class:`~graff.nn.models.residual.AttentionModule` block (on A + I) and a feed-forward
    block; ``sep``: GT-sep.

    Args:
        heads (int): attention heads (default: 8); ``hidden_channels`` must be a multiple.
        sep (bool): concatenate a node's own embedding with the attended message (default: False).
    """

    def __init__(self, *args: Any, heads: int = 8, sep: bool = False, **kwargs: Any) -> None:
        check_flags(sep=sep)
        self._heads, self._sep = heads, sep
        super().__init__(*args, **kwargs)

    def layer_modules(self, dim: int, multiplier: float, dropout: float) -> list[nn.Module]:
        return [
            AttentionModule(dim, dropout, self._heads, self._sep),
            FeedForwardModule(dim, multiplier, dropout),
        ]

    def graph(self, edge_index: Any, num_nodes: int, edge_weight: Tensor | None) -> Any:
        return _pattern(edge_index, num_nodes, edge_weight)


class ResidualGTSep(ResidualGT):
    """Platonov et al.'s GT-sep: :class:`ResidualGT` with ``sep=True``, a model of its own
    (registered as ``gt_sep``) so that its row has its own configs and searches.

    Args:
        heads (int): attention heads (default: 8); ``hidden_channels`` must be a multiple.
    """

    def __init__(self, *args: Any, heads: int = 8, **kwargs: Any) -> None:
        super().__init__(*args, heads=heads, sep=True, **kwargs)

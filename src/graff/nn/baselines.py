r"""Discrete baselines of the GRAFF paper's Table 1, with GRAFF's ``forward(x, edge_index)``.

PyTorch Geometric's layers are used where they exist (``GCNConv``, ``GATConv``, ``SAGEConv``,
``GCN2Conv``, ``APPNP``); GPRGNN and H2GCN, which PyG lacks, are written here, compactly.

Speed (full-batch, transductive, CPU, no torch_sparse): every model derives its graph
operators from ``edge_index`` once and caches them (:class:`~graff.nn._csr_ops.GraphCache`):
Ā = D̃^{-1/2}(A+I)D̃^{-1/2} as CSR for the GCN-type propagations, which the PyG layers receive
with ``normalize=False`` and multiply through :func:`~graff.nn.adjacency.sym_spmm` (a CSR
product whose backward reuses the symmetric Ā instead of transposing it every step). The
first linear map of each model accepts sparse CSR node features (:class:`InputDropoutLinear`):
dropout then touches only the non-zeros, which is 10–100× cheaper than dense dropout on
bag-of-words features.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import APPNP as PygAPPNP
from torch_geometric.nn import GATConv, GCN2Conv, GCNConv, SAGEConv

from graff.nn._csr_ops import (
    EdgeStructure,
    GraphCache,
    csr_mm,
    edge_softmax,
    edge_structure,
    edge_values_mm,
    mean_adjacency,
    two_hop_adjacency,
)
from graff.nn.adjacency import normalized_adjacency, sym_spmm, sym_spmm_add
from graff.nn.functional import dropout
from graff.nn.graff import GRAFF, StepCallback
from graff.nn.sparse import CSRTransposePlan, csr_transpose_plan, sparse_dropout_linear

__all__ = [
    "GAT",
    "GCN",
    "GCNII",
    "GPRGNN",
    "H2GCN",
    "APPNPNet",
    "GRAFFNoResidual",
    "GraphSAGE",
    "InputDropoutLinear",
    "MLPClassifier",
    "gat_conv_csr",
]


# -- shared pieces ---------------------------------------------------------------------------
def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value}")


def _check_probs(**probs: float) -> None:
    for name, p in probs.items():
        if not 0.0 <= p < 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1), got {p}")


def _no_edge_weight(model: str, edge_weight: Tensor | None) -> None:
    if edge_weight is not None:
        raise ValueError(f"{model} does not use edge weights; pass edge_weight=None")


class _FeaturePlans:
    """The transpose plan of a sparse feature matrix, computed once per matrix."""

    def __init__(self) -> None:
        self._key: tuple[int, ...] | None = None
        self._plan: CSRTransposePlan | None = None

    def __call__(self, x: Tensor) -> CSRTransposePlan:
        key = (
            x.crow_indices().data_ptr(),
            x.col_indices().data_ptr(),
            x.values().numel(),
            *x.shape,
        )
        if self._key != key or self._plan is None:
            self._plan, self._key = csr_transpose_plan(x), key
        return self._plan


def _dropout_linear(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    p: float,
    training: bool,
    plans: _FeaturePlans,
) -> Tensor:
    """``dropout(x) Wᵀ + b`` for dense or sparse CSR ``x``."""
    if x.layout == torch.sparse_csr:
        return sparse_dropout_linear(x, weight, bias, p, training, plans(x))
    return F.linear(dropout(x, p, training), weight, bias)


class InputDropoutLinear(nn.Module):
    r"""Dropout on the input, then a linear map: :math:`\mathrm{dropout}(X)W^\top + b`.

    Wraps an existing linear module (``torch.nn.Linear`` or PyG's ``Linear``; its parameters
    and initialisation are kept). ``X`` may be dense or sparse CSR; for CSR features dropout
    acts on the stored values only (same distribution as dense dropout, since dropped zeros
    stay zero) and the product's backward uses a precomputed CSR Xᵀ.

    Args:
        lin (nn.Module): the linear map (needs ``weight``, ``bias`` and ``reset_parameters``).
        dropout (float): dropout probability on X in training mode.
    """

    def __init__(self, lin: nn.Module, dropout: float = 0.0) -> None:
        super().__init__()
        _check_probs(dropout=dropout)
        self.lin = lin
        self.dropout = dropout
        self._plans = _FeaturePlans()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()  # type: ignore[operator]

    def forward(self, x: Tensor) -> Tensor:
        weight: Tensor = self.lin.weight  # type: ignore[assignment]
        bias: Tensor | None = self.lin.bias  # type: ignore[assignment]
        return _dropout_linear(x, weight, bias, self.dropout, self.training, self._plans)

    def extra_repr(self) -> str:
        return f"dropout={self.dropout}"


def _gcn_adjacency(
    cache: GraphCache,
    edge_index: Tensor,
    num_nodes: int,
    edge_weight: Tensor | None,
    dtype: torch.dtype,
    self_loops: bool = True,
) -> Tensor:
    """Cached Ā = D̃^{-1/2}(A+I)D̃^{-1/2} (or without self-loops) as CSR."""
    return cache.get(
        f"gcn{int(self_loops)}",
        edge_index,
        num_nodes,
        edge_weight,
        dtype,
        lambda: normalized_adjacency(
            edge_index, num_nodes, edge_weight, self_loops=self_loops, dtype=dtype
        ).to(edge_index.device),
    )


# PyG layers fed with the cached CSR Ā (normalize=False): PyG routes a sparse adjacency to
# message_and_aggregate, which here multiplies through the symmetric CSR product.
class _SymGCNConv(GCNConv):
    def message_and_aggregate(self, adj_t: Tensor, x: Tensor) -> Tensor:
        return sym_spmm(adj_t, x)


class _SymGCN2Conv(GCN2Conv):
    def message_and_aggregate(self, adj_t: Tensor, x: Tensor) -> Tensor:
        return sym_spmm(adj_t, x)


class _SymAPPNP(PygAPPNP):
    def message_and_aggregate(self, adj_t: Tensor, x: Tensor) -> Tensor:
        return sym_spmm(adj_t, x)


class _MLP(nn.Module):
    """Linear layers with ReLU and dropout between them; the first takes sparse input."""

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        num_layers: int,
        input_dropout: float,
        dropout: float,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be ≥ 1, got {num_layers}")
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        lins = [nn.Linear(a, b) for a, b in itertools.pairwise(dims)]
        self.input = InputDropoutLinear(lins[0], input_dropout)
        self.lins = nn.ModuleList(lins[1:])
        self.dropout = dropout

    def reset_parameters(self) -> None:
        self.input.reset_parameters()
        for lin in self.lins:
            lin.reset_parameters()  # type: ignore[operator]

    def forward(self, x: Tensor) -> Tensor:
        h = self.input(x)
        for lin in self.lins:
            h = lin(dropout(torch.relu(h), self.dropout, self.training))
        return h


# -- MLP ---------------------------------------------------------------------------------------
class MLPClassifier(nn.Module):
    r"""A graph-agnostic MLP: :math:`Y = W_L\,\sigma(\cdots\sigma(W_1\,\mathrm{dropout}(X)))`.

    It ignores the graph: the reference point that tells whether a GNN uses the edges at all.

    Args:
        in_channels (int): input features p.
        hidden_channels (int): hidden width.
        out_channels (int): classes k.
        num_layers (int): linear layers (≥ 1; 1 = logistic regression).
        input_dropout (float): dropout on X.
        dropout (float): dropout after each hidden ReLU.
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
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        _check_sizes(
            in_channels=in_channels, hidden_channels=hidden_channels, out_channels=out_channels
        )
        _check_probs(input_dropout=input_dropout, dropout=dropout)
        self.mlp = _MLP(
            in_channels, hidden_channels, out_channels, num_layers, input_dropout, dropout
        )

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def forward(
        self, x: Tensor, edge_index: Tensor | None = None, edge_weight: Tensor | None = None
    ) -> Tensor:
        return self.mlp(x)


# -- GCN ---------------------------------------------------------------------------------------
class GCN(nn.Module):
    r"""GCN of `Kipf and Welling (2017) <https://arxiv.org/abs/1609.02907>`_.

    .. math::
        H^{(l+1)} = \sigma\big(\bar{A}\,\mathrm{dropout}(H^{(l)})\,W^{(l)} + b^{(l)}\big),
        \qquad \bar{A} = \tilde{D}^{-1/2}(A+I)\tilde{D}^{-1/2},

    with σ = ReLU between layers and none after the last (logits). Layers are PyG
    ``GCNConv`` fed with the cached CSR Ā.

    Args:
        in_channels, hidden_channels, out_channels (int): widths.
        num_layers (int): graph convolutions (≥ 1).
        input_dropout (float): dropout on X. dropout (float): dropout before later layers.
        self_loops (bool): self-loops in Ā.
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
        dropout: float = 0.0,
        self_loops: bool = True,
    ) -> None:
        super().__init__()
        _check_sizes(
            in_channels=in_channels,
            hidden_channels=hidden_channels,
            out_channels=out_channels,
            num_layers=num_layers,
        )
        _check_probs(input_dropout=input_dropout, dropout=dropout)
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.convs = nn.ModuleList(
            _SymGCNConv(a, b, normalize=False) for a, b in itertools.pairwise(dims)
        )
        first: Any = self.convs[0]
        first.lin = InputDropoutLinear(first.lin, input_dropout)
        self.dropout = dropout
        self.self_loops = self_loops
        self._graph = GraphCache()

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()  # type: ignore[operator]

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        adj = _gcn_adjacency(
            self._graph, edge_index, x.size(0), edge_weight, _dtype(self), self.self_loops
        )
        h = x
        for i, conv in enumerate(self.convs):
            if i > 0:
                h = dropout(torch.relu(h), self.dropout, self.training)
            h = conv(h, adj)
        return h


def _dtype(module: nn.Module) -> torch.dtype:
    return next(module.parameters()).dtype


# -- GAT ---------------------------------------------------------------------------------------
class GAT(nn.Module):
    r"""GAT of `Veličković et al. (2018) <https://arxiv.org/abs/1710.10903>`_.

    .. math::
        h_i' = \big\Vert_{k=1}^{K} \sum_{j\in\mathcal{N}(i)\cup\{i\}}
        \alpha^k_{ij} W^k h_j,\quad
        \alpha^k_{ij} = \mathrm{softmax}_j\,\mathrm{LeakyReLU}\big(a_{dst}^{k\top} W^k h_i
        + a_{src}^{k\top} W^k h_j\big)

    Hidden layers concatenate ``heads`` heads of ``hidden_channels`` each, with ELU between
    layers; the output layer averages ``output_heads`` heads. The parameters and their
    initialisation are PyG ``GATConv``'s (``lin``, ``att_src``, ``att_dst``, ``bias``); the
    propagation runs on the cached CSR pattern of A + I (:func:`gat_conv_csr`), which gives
    ``GATConv``'s output without its per-edge [E, heads, channels] gather and scatter.

    Args:
        in_channels, hidden_channels (per head), out_channels (int): widths.
        num_layers (int): attention layers (≥ 1).
        heads (int): heads of hidden layers. output_heads (int): heads of the output layer.
        input_dropout, dropout (float): dropout on X and before later layers.
        attention_dropout (float): dropout on the attention coefficients.
        negative_slope (float): LeakyReLU slope of the attention scores.
    """

    accepts_sparse_features = True

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        num_layers: int = 2,
        heads: int = 8,
        output_heads: int = 1,
        input_dropout: float = 0.0,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        negative_slope: float = 0.2,
    ) -> None:
        super().__init__()
        _check_sizes(
            in_channels=in_channels,
            hidden_channels=hidden_channels,
            out_channels=out_channels,
            num_layers=num_layers,
            heads=heads,
            output_heads=output_heads,
        )
        _check_probs(
            input_dropout=input_dropout, dropout=dropout, attention_dropout=attention_dropout
        )
        if not negative_slope >= 0:
            raise ValueError(f"negative_slope must be ≥ 0, got {negative_slope}")
        convs = []
        width = in_channels
        for i in range(num_layers):
            last = i == num_layers - 1
            conv = GATConv(
                width,
                out_channels if last else hidden_channels,
                heads=output_heads if last else heads,
                concat=not last,
                negative_slope=negative_slope,
                dropout=attention_dropout,
            )
            convs.append(conv)
            width = hidden_channels * heads
        first: Any = convs[0]
        first.lin = InputDropoutLinear(first.lin, input_dropout)
        self.convs = nn.ModuleList(convs)
        self.dropout = dropout
        self._graph = GraphCache()

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()  # type: ignore[operator]

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        _no_edge_weight("GAT", edge_weight)
        n = x.size(0)
        s = self._graph.get(
            "pattern", edge_index, n, None, torch.int64, lambda: edge_structure(edge_index, n)
        )
        h = x
        for i, conv in enumerate(self.convs):
            if i > 0:
                h = dropout(F.elu(h), self.dropout, self.training)
            h = gat_conv_csr(conv, h, s)
        return h


def gat_conv_csr(conv: GATConv, x: Tensor, structure: EdgeStructure) -> Tensor:
    """``GATConv(x, edge_index)`` computed on a CSR pattern (self-loops included in it).

    Attention logits on the E stored entries, a softmax per row, attention dropout, then one
    CSR product per head; the same value as PyG's message passing for ``GATConv`` without
    edge features or residual.
    """
    s = structure
    H, C = conv.heads, conv.out_channels
    lin: Any = conv.lin
    h = lin(x).view(-1, H, C)
    a_src = (h * conv.att_src).sum(dim=-1)  # [n, H]
    a_dst = (h * conv.att_dst).sum(dim=-1)
    # Entry (i, j) of row i: the message j → i (source j, target i).
    scores = a_dst.index_select(0, s.row) + a_src.index_select(0, s.col)
    scores = F.leaky_relu(scores, conv.negative_slope)
    alpha = dropout(edge_softmax(scores, s), conv.dropout, conv.training)
    alpha_t = alpha.t().contiguous()  # [H, E]
    heads = [edge_values_mm(alpha_t[k], h[:, k], s) for k in range(H)]
    out = torch.cat(heads, dim=-1) if conv.concat else torch.stack(heads).mean(dim=0)
    return out if conv.bias is None else out + conv.bias


# -- GraphSAGE ---------------------------------------------------------------------------------
class GraphSAGE(nn.Module):
    r"""GraphSAGE-mean of `Hamilton et al. (2017) <https://arxiv.org/abs/1706.02216>`_.

    .. math::
        h_i' = W_1 h_i + W_2\,\mathrm{mean}_{j\in\mathcal{N}(i)} h_j + b

    Parameters live in PyG ``SAGEConv`` layers (``lin_r`` = W₁, ``lin_l`` = W₂, b); the mean
    is taken after the linear map (the same value, by linearity) with a cached CSR D⁻¹A, so
    the first layer never aggregates the wide raw features.

    Args:
        in_channels, hidden_channels, out_channels (int): widths.
        num_layers (int): layers (≥ 1), ReLU between them.
        input_dropout, dropout (float): dropout on X and before later layers.
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
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        _check_sizes(
            in_channels=in_channels,
            hidden_channels=hidden_channels,
            out_channels=out_channels,
            num_layers=num_layers,
        )
        _check_probs(input_dropout=input_dropout, dropout=dropout)
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.convs = nn.ModuleList(SAGEConv(a, b, aggr="mean") for a, b in itertools.pairwise(dims))
        self.input_dropout = input_dropout
        self.dropout = dropout
        self._graph = GraphCache()
        self._plans = _FeaturePlans()

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()  # type: ignore[operator]

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        n, dtype = x.size(0), _dtype(self)
        adj, adj_t = self._graph.get(
            "mean",
            edge_index,
            n,
            edge_weight,
            dtype,
            lambda: mean_adjacency(edge_index, n, edge_weight, dtype=dtype),
        )
        h = x
        for i, conv in enumerate(self.convs):
            if i > 0:
                h = torch.relu(h)
            p = self.input_dropout if i == 0 else self.dropout
            sage: Any = conv
            lin_l, lin_r = sage.lin_l, sage.lin_r
            out = lin_l.weight.size(0)
            both = torch.cat([lin_l.weight, lin_r.weight])
            z = _dropout_linear(h, both, None, p, self.training, self._plans)
            h = csr_mm(adj, adj_t, z[:, :out]) + lin_l.bias + z[:, out:]
        return h


# -- GCNII -------------------------------------------------------------------------------------
class GCNII(nn.Module):
    r"""GCNII of `Chen et al. (2020) <https://arxiv.org/abs/2007.02133>`_ (PyG ``GCN2Conv``).

    .. math::
        H^{(0)} = \sigma(\mathrm{dropout}(X) W_{in}),\quad
        H^{(l+1)} = \sigma\Big(\big((1-\alpha)\bar{A}H^{(l)} + \alpha H^{(0)}\big)
        \big((1-\beta_l)I + \beta_l W^{(l)}\big)\Big),\quad \beta_l = \log(\theta/l + 1)

    with dropout before every layer and before the output linear map.

    Args:
        in_channels, hidden_channels, out_channels (int): widths.
        num_layers (int): GCNII layers L (the paper uses 8–64).
        alpha (float): initial-residual strength α. theta (float): λ of β_l = log(λ/l + 1).
        input_dropout, dropout (float): dropout on X and inside.
        self_loops (bool): self-loops in Ā.
    """

    accepts_sparse_features = True

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        num_layers: int = 16,
        alpha: float = 0.1,
        theta: float = 0.5,
        input_dropout: float = 0.0,
        dropout: float = 0.0,
        self_loops: bool = True,
    ) -> None:
        super().__init__()
        _check_sizes(
            in_channels=in_channels,
            hidden_channels=hidden_channels,
            out_channels=out_channels,
            num_layers=num_layers,
        )
        _check_probs(input_dropout=input_dropout, dropout=dropout)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        if not (math.isfinite(theta) and theta > 0):
            raise ValueError(f"theta (λ) must be a positive number, got {theta}")
        self.input = InputDropoutLinear(nn.Linear(in_channels, hidden_channels), input_dropout)
        self.convs = nn.ModuleList(
            _SymGCN2Conv(hidden_channels, alpha, theta, layer=i + 1, normalize=False)
            for i in range(num_layers)
        )
        self.output = nn.Linear(hidden_channels, out_channels)
        self.dropout = dropout
        self.self_loops = self_loops
        self._graph = GraphCache()

    def reset_parameters(self) -> None:
        self.input.reset_parameters()
        for conv in self.convs:
            conv.reset_parameters()  # type: ignore[operator]
        self.output.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        adj = _gcn_adjacency(
            self._graph, edge_index, x.size(0), edge_weight, _dtype(self), self.self_loops
        )
        h = h0 = torch.relu(self.input(x))
        for conv in self.convs:
            h = torch.relu(conv(dropout(h, self.dropout, self.training), h0, adj))
        return self.output(dropout(h, self.dropout, self.training))


# -- APPNP -------------------------------------------------------------------------------------
class APPNPNet(nn.Module):
    r"""APPNP of `Gasteiger et al. (2019) <https://arxiv.org/abs/1810.05997>`_.

    An MLP predicts H = f(X); K steps of personalised-PageRank propagation (PyG ``APPNP``)
    follow: :math:`Z^{(k+1)} = (1-\alpha)\bar{A}Z^{(k)} + \alpha H`, :math:`Z^{(0)} = H`.

    Args:
        in_channels, hidden_channels, out_channels (int): widths.
        num_layers (int): MLP layers. K (int): propagation steps. alpha (float): teleport α.
        input_dropout, dropout (float): dropout on X and inside the MLP.
        self_loops (bool): self-loops in Ā.
    """

    accepts_sparse_features = True

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        num_layers: int = 2,
        K: int = 10,
        alpha: float = 0.1,
        input_dropout: float = 0.0,
        dropout: float = 0.0,
        self_loops: bool = True,
    ) -> None:
        super().__init__()
        _check_sizes(
            in_channels=in_channels, hidden_channels=hidden_channels, out_channels=out_channels
        )
        _check_probs(input_dropout=input_dropout, dropout=dropout)
        if K < 0:
            raise ValueError(f"K must be ≥ 0, got {K}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.mlp = _MLP(
            in_channels, hidden_channels, out_channels, num_layers, input_dropout, dropout
        )
        self.prop = _SymAPPNP(K, alpha, normalize=False)
        self.self_loops = self_loops
        self._graph = GraphCache()

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        adj = _gcn_adjacency(
            self._graph, edge_index, x.size(0), edge_weight, _dtype(self), self.self_loops
        )
        return self.prop(self.mlp(x), adj)


# -- GPRGNN ------------------------------------------------------------------------------------
GPR_INITS = ("ppr", "delta", "uniform")


class GPRGNN(nn.Module):
    r"""GPR-GNN of `Chien et al. (2021) <https://arxiv.org/abs/2006.07988>`_.

    .. math::
        H = f(X),\qquad Z = \sum_{k=0}^{K} \gamma_k \bar{A}^k\,\mathrm{dropout}(H)

    with an MLP f and learnable generalised-PageRank weights γ. ``init="ppr"`` starts from
    γ_k = α(1−α)^k (γ_K = (1−α)^K), ``"delta"`` from γ_k = δ_{k,K}, ``"uniform"`` from
    γ_k = 1/(K+1); an explicit ``gamma`` list overrides ``init``.

    Args:
        in_channels, hidden_channels, out_channels (int): widths.
        num_layers (int): MLP layers. K (int): propagation steps.
        alpha (float): α of the PPR initialisation.
        init (str): ``"ppr"``, ``"delta"`` or ``"uniform"``.
        gamma (list[float] | None): initial γ_0..γ_K (length K+1).
        dprate (float): dropout before the propagation.
        input_dropout, dropout (float): dropout on X and inside the MLP.
        self_loops (bool): self-loops in Ā.
    """

    accepts_sparse_features = True

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        num_layers: int = 2,
        K: int = 10,
        alpha: float = 0.1,
        init: str = "ppr",
        gamma: list[float] | None = None,
        dprate: float = 0.0,
        input_dropout: float = 0.0,
        dropout: float = 0.0,
        self_loops: bool = True,
    ) -> None:
        super().__init__()
        _check_sizes(
            in_channels=in_channels, hidden_channels=hidden_channels, out_channels=out_channels
        )
        _check_probs(input_dropout=input_dropout, dropout=dropout, dprate=dprate)
        if K < 0:
            raise ValueError(f"K must be ≥ 0, got {K}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        if init not in GPR_INITS:
            raise ValueError(f"init must be one of {', '.join(GPR_INITS)}, got {init!r}")
        if gamma is not None and (len(gamma) != K + 1 or not all(math.isfinite(g) for g in gamma)):
            raise ValueError(f"gamma must list K+1 = {K + 1} finite numbers, got {gamma}")
        self.K, self.alpha, self.init = K, alpha, init
        self.gamma_init = None if gamma is None else [float(g) for g in gamma]
        self.mlp = _MLP(
            in_channels, hidden_channels, out_channels, num_layers, input_dropout, dropout
        )
        self.gamma = nn.Parameter(torch.empty(K + 1))
        self.dprate = dprate
        self.self_loops = self_loops
        self._graph = GraphCache()
        self._reset_gamma()

    def _reset_gamma(self) -> None:
        K, a = self.K, self.alpha
        if self.gamma_init is not None:
            g = torch.tensor(self.gamma_init)
        elif self.init == "ppr":
            g = torch.tensor([a * (1 - a) ** k for k in range(K)] + [(1 - a) ** K])
        elif self.init == "delta":
            g = torch.zeros(K + 1)
            g[K] = 1.0
        else:
            g = torch.full((K + 1,), 1.0 / (K + 1))
        with torch.no_grad():
            self.gamma.copy_(g)

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()
        self._reset_gamma()

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        adj = _gcn_adjacency(
            self._graph, edge_index, x.size(0), edge_weight, _dtype(self), self.self_loops
        )
        h = dropout(self.mlp(x), self.dprate, self.training)
        out = h * self.gamma[0]
        for k in range(1, self.K + 1):
            h = sym_spmm(adj, h)
            out = out + self.gamma[k] * h
        return out

    def extra_repr(self) -> str:
        return f"K={self.K}, init={self.init!r}, alpha={self.alpha}, dprate={self.dprate}"


# -- H2GCN -------------------------------------------------------------------------------------
class H2GCN(nn.Module):
    r"""H2GCN of `Zhu et al. (2020) <https://arxiv.org/abs/2006.11468>`_.

    Ego-embedding, separate one- and strict two-hop aggregation, all rounds combined:

    .. math::
        R^{(0)} = \sigma(\mathrm{dropout}(X) W_e),\quad
        R^{(k)} = \big[\bar{A}_1 R^{(k-1)} \,\Vert\, \bar{A}_2 R^{(k-1)}\big],\quad
        Y = \big[R^{(0)} \Vert \cdots \Vert R^{(K)}\big]\,W_c

    Ā₁ = D^{-1/2}AD^{-1/2} (no self-loops) and Ā₂ the same normalisation of the strict
    two-hop graph (shortest-path distance exactly 2). Both are built once (CSR) and cached.

    Args:
        in_channels, hidden_channels, out_channels (int): widths (the final representation
            has ``hidden_channels · (2^{K+1} − 1)`` columns).
        rounds (int): aggregation rounds K.
        input_dropout (float): dropout on X. dropout (float): dropout before the classifier.
    """

    accepts_sparse_features = True

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        rounds: int = 2,
        input_dropout: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        _check_sizes(
            in_channels=in_channels,
            hidden_channels=hidden_channels,
            out_channels=out_channels,
            rounds=rounds,
        )
        _check_probs(input_dropout=input_dropout, dropout=dropout)
        self.rounds = rounds
        self.embed = InputDropoutLinear(
            nn.Linear(in_channels, hidden_channels, bias=False), input_dropout
        )
        self.classify = nn.Linear(hidden_channels * (2 ** (rounds + 1) - 1), out_channels)
        self.dropout = dropout
        self._graph = GraphCache()

    def reset_parameters(self) -> None:
        self.embed.reset_parameters()
        self.classify.reset_parameters()

    def adjacencies(self, edge_index: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
        """(Ā₁, Ā₂), cached."""
        dtype = _dtype(self)
        a1 = _gcn_adjacency(self._graph, edge_index, num_nodes, None, dtype, self_loops=False)
        a2 = self._graph.get(
            "two_hop",
            edge_index,
            num_nodes,
            None,
            dtype,
            lambda: two_hop_adjacency(edge_index, num_nodes, dtype=dtype),
        )
        return a1, a2

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        _no_edge_weight("H2GCN", edge_weight)
        a1, a2 = self.adjacencies(edge_index, x.size(0))
        r = torch.relu(self.embed(x))
        reps = [r]
        for _ in range(self.rounds):
            r = torch.cat([sym_spmm(a1, r), sym_spmm(a2, r)], dim=-1)
            reps.append(r)
        h = dropout(torch.cat(reps, dim=-1), self.dropout, self.training)
        return self.classify(h)


# -- GRAFF without residual --------------------------------------------------------------------
class GRAFFNoResidual(GRAFF):
    r"""The paper's ablation "GRAFF without residual connection".

    .. math::
        \mathbf{F}(t+\tau) = \tau\big(-\mathbf{F}(t)\boldsymbol{\Omega}
        + \bar{\mathbf{A}}\mathbf{F}(t)\mathbf{W} + \beta\mathbf{F}(0)\big)

    i.e. GRAFF's Euler step (eq. 6) without the ``F(t) +``; with Ω = 0 and β = 0 it is
    F ← τĀFW, which is LFD for almost every F(0) on a non-bipartite graph whatever the
    spectrum of W (the paper's theorem on the residual connection). Same constructor,
    parameters, encoder and decoder as :class:`~graff.nn.GRAFF`.
    """

    def evolve(
        self,
        f0: Tensor,
        edge_index: Tensor | None = None,
        edge_weight: Tensor | None = None,
        *,
        adj: Tensor | None = None,
        callback: StepCallback | None = None,
    ) -> Tensor:
        """Iterate the residual-free step from F(0) to F(T); ``callback(k, t, F)`` as GRAFF."""
        conv = self.conv
        if adj is None:
            if edge_index is None:
                raise ValueError("evolve needs edge_index or a precomputed adj")
            adj = conv.adjacency(edge_index, f0.size(0), edge_weight)
        f, t = f0, 0.0
        if callback is not None:
            callback(0, t, f)
        shared = conv.operators(0) if len(conv.ws) == 1 else None
        for k, tau in enumerate(self.steps):
            w_op, om_op = shared if shared is not None else conv.operators(k)
            fw = f * w_op if w_op.dim() == 1 else f @ w_op
            base = conv.beta * f0
            if not conv.omega.is_zero:
                base = base - (f * om_op if om_op.dim() == 1 else f @ om_op)
            inc = sym_spmm_add(adj, fw, base)
            if conv.increment_norm:
                inc = F.batch_norm(inc, None, None, training=True)
            if conv.nonlinear:
                inc = torch.relu(inc)
            f = tau * inc
            t += tau
            if callback is not None:
                callback(k + 1, t, f)
        return f

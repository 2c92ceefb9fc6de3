"""Graph operators built from a graph input: Ā, D⁻¹A, the strict two-hop Ā₂, CSR patterns.

Every model takes its graph the PyG way: ``edge_index`` [2, E] (row 0 sources, row 1
targets) with optional ``edge_weight`` [E], or a sparse adjacency ``adj_t`` [n, n] in its
place (a ``torch.sparse`` COO/CSR tensor or a ``torch_sparse.SparseTensor``, whose entry
(i, j) is the weight of the edge j → i, as ``ToSparseTensor`` builds it).
:func:`as_edge_index` turns either into (edge_index, edge_weight).

Operators follow PyG's message-passing orientation: row i of an operator aggregates the
messages that node i *receives*, so Ā_ij is the normalised weight of edge j → i
(``Ā F == GCNConv``'s propagation). On an undirected graph Ā is symmetric and the
orientation does not matter; on a directed one it matches PyG.

Each builder registers the operator's transpose (:func:`graff.nn.sparse.register_transpose`)
so that the backward pass of a product multiplies by the exact Āᵀ (Ā itself when symmetric).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from graff.nn import cache
from graff.nn.checks import is_int
from graff.nn.sparse import (
    EdgeStructure,
    csr_from_coo,
    csr_from_scipy,
    csr_transpose_plan,
    edge_list,
    register_transpose,
)

__all__ = [
    "as_edge_index",
    "check_node_ids",
    "edge_structure",
    "gcn_adjacency",
    "graph_cached",
    "mean_adjacency",
    "normalized_adjacency",
    "normalized_edges",
    "rcm_order",
    "two_hop_adjacency",
]

_SPARSE_LAYOUTS = (torch.sparse_coo, torch.sparse_csr, torch.sparse_csc)
T = TypeVar("T")


def graph_cached(
    name: str,
    graph: Any,
    num_nodes: int,
    edge_weight: Tensor | None,
    dtype: torch.dtype,
    build: Callable[[], T],
) -> T:
    """The operator ``name`` of a graph, built once per graph (see :mod:`graff.nn.cache`):
    keyed on the graph tensors themselves (``edge_index`` or ``adj_t``, ``edge_weight``),
    the node count and ``dtype``, and shared by every model of the process.

    Under ``torch.compile`` the lookup runs outside the compiled graph and a sparse operator
    comes back as its :class:`~graff.nn.sparse.EdgeList` (a compiled graph cannot take a
    sparse tensor; an edge list is two dense tensors whose products compile), cached too."""
    if not isinstance(graph, Tensor) or torch.jit.is_tracing():
        # A SparseTensor is converted at each call; a trace must record the build itself
        # (a cached operator would be baked into it as a constant of the traced graph).
        return build()
    if torch.compiler.is_compiling():
        return _compiled_lookup(name, graph, num_nodes, edge_weight, dtype, build)
    value: T = cache.cached([graph, edge_weight], (num_nodes, str(dtype)), name, build)
    return value


def _as_edge_lists(value: Any) -> Any:
    """``value`` with each sparse matrix in it (alone or in a tuple) as an :class:`EdgeList`."""
    if isinstance(value, Tensor) and value.layout in _SPARSE_LAYOUTS:
        return edge_list(value)
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_as_edge_lists(v) for v in value)
    return value


@torch.compiler.disable(reason="graff.nn.adjacency: graph operators are built and cached eagerly")
def _compiled_lookup(
    name: str,
    graph: Tensor,
    num_nodes: int,
    edge_weight: Tensor | None,
    dtype: torch.dtype,
    build: Callable[[], T],
) -> T:
    """:func:`~graff.nn.adjacency.graph_cached` for a compiled model: sparse operators as
    edge lists."""
    keys, extra = [graph, edge_weight], (num_nodes, str(dtype))
    value = cache.cached(keys, extra, name, build)
    converted: T = cache.cached(keys, extra, f"{name}:edges", lambda: _as_edge_lists(value))
    return converted


def gcn_adjacency(
    graph: Any,
    num_nodes: int,
    edge_weight: Tensor | None = None,
    *,
    self_loops: bool = True,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """:func:`normalized_adjacency`, cached per graph by
    :func:`~graff.nn.adjacency.graph_cached`."""
    return graph_cached(
        f"gcn{int(self_loops)}",
        graph,
        num_nodes,
        edge_weight,
        dtype,
        lambda: normalized_adjacency(
            graph, num_nodes, edge_weight, self_loops=self_loops, dtype=dtype
        ),
    )


def as_edge_index(
    graph: Any, num_nodes: int, edge_weight: Tensor | None = None
) -> tuple[Tensor, Tensor | None]:
    """``(edge_index, edge_weight)`` of a graph given as ``edge_index`` or as ``adj_t``.

    Args:
        graph: ``edge_index`` [2, E] of integer node ids, or a sparse ``adj_t`` [n, n] (a
            ``torch.sparse`` tensor or a ``torch_sparse.SparseTensor``) whose entry (i, j)
            weighs the edge j → i.
        num_nodes: n.
        edge_weight: optional weights [E] of ``edge_index`` (an ``adj_t`` carries its own).
    """
    if not is_int(num_nodes):
        raise TypeError(
            f"num_nodes must be an integer, got {num_nodes!r} ({type(num_nodes).__name__})"
        )
    if num_nodes < 0:
        raise ValueError(f"num_nodes must be ≥ 0, got {num_nodes}")
    if isinstance(graph, Tensor) and graph.layout == torch.strided:
        if graph.dim() != 2 or graph.size(0) != 2:
            raise ValueError(
                "edge_index must have shape [2, E] (sources in row 0, targets in row 1), "
                f"got {tuple(graph.shape)}; a sparse adjacency must be a torch.sparse tensor"
            )
        if graph.dtype.is_floating_point or graph.dtype == torch.bool:
            raise ValueError(f"edge_index must hold integer node ids, got dtype {graph.dtype}")
        check_node_ids(graph, num_nodes)
        if edge_weight is not None and edge_weight.shape != (graph.size(1),):
            raise ValueError(
                f"edge_weight must have one entry per edge, shape [{graph.size(1)}], "
                f"got {tuple(edge_weight.shape)}"
            )
        if edge_weight is not None and not bool(torch.isfinite(edge_weight.detach()).all()):
            bad = int((~torch.isfinite(edge_weight.detach())).sum())
            raise ValueError(f"edge_weight has {bad} NaN or infinite entries; Ā would carry them")
        if graph.dtype not in (torch.int64, torch.int32):  # uint8, int16, ...: PyG's scatter
            graph = graph.long()  # and index_select take int32/int64 indices only
        return graph, edge_weight
    if not isinstance(graph, Tensor):  # torch_sparse.SparseTensor, duck-typed (optional)
        convert = getattr(graph, "to_torch_sparse_coo_tensor", None)
        if convert is None:
            raise TypeError(
                "the graph must be edge_index [2, E], a torch.sparse adjacency or a "
                f"torch_sparse.SparseTensor, got {type(graph).__name__}"
            )
        graph = convert()
    if graph.layout not in _SPARSE_LAYOUTS:
        raise TypeError(f"unsupported sparse layout {graph.layout} of adj_t; use COO or CSR")
    if edge_weight is not None:
        raise ValueError("adj_t carries the edge weights as its values; pass edge_weight=None")
    if tuple(graph.shape) != (num_nodes, num_nodes):
        raise ValueError(
            f"adj_t must be [n, n] = [{num_nodes}, {num_nodes}] for {num_nodes} nodes, "
            f"got {tuple(graph.shape)}"
        )
    coo = graph.to_sparse_coo().coalesce()
    return coo.indices().flip(0), coo.values()  # adj_t[i, j] is the edge j → i


def check_node_ids(
    edge_index: Tensor, num_nodes: int, counted_by: str = "the rows of the features"
) -> None:
    """Every node id of ``edge_index`` in 0..num_nodes-1 (a negative id would otherwise
    index from the end, silently): one pass over the edges, made where an operator is built,
    i.e. once per graph (and by :mod:`graff.energy`'s argument checks); not while tracing or
    compiling, where it would be recorded. ``counted_by`` names what gave ``num_nodes``
    (the features' rows, the labels, an explicit ``num_nodes``), for the message."""
    if edge_index.numel() == 0 or torch.jit.is_tracing() or torch.compiler.is_compiling():
        return
    lo, hi = int(edge_index.min()), int(edge_index.max())
    if lo < 0 or hi >= num_nodes:
        raise ValueError(
            f"edge_index refers to node {lo if lo < 0 else hi}, but the graph has {num_nodes} "
            f"nodes (from {counted_by}): ids must lie in [0, {num_nodes}); check that "
            f"{counted_by} and edge_index describe the same graph (a subgraph's edges must be "
            "relabelled, e.g. torch_geometric.utils.subgraph(..., relabel_nodes=True))"
        )


def check_degrees(
    edge_index: Tensor, edge_weight: Tensor, num_nodes: int, *, self_loops: bool
) -> None:
    """Signed edge weights must leave every node a non-negative weighted degree: D̃^{-1/2} of a
    negative degree is NaN, which PyG's ``gcn_norm`` would pass on to every feature it
    touches. Non-negative weights (the usual case) cost one comparison; not checked while
    tracing or compiling."""
    if torch.jit.is_tracing() or torch.compiler.is_compiling() or edge_weight.numel() == 0:
        return
    w = edge_weight.detach()
    if not bool((w < 0).any()):
        return
    deg = torch.zeros(num_nodes, dtype=w.dtype, device=w.device)
    deg.index_add_(0, edge_index[1], w)
    if self_loops:
        deg += 1.0
    negative = deg < 0
    if bool(negative.any()):
        node = int(negative.nonzero()[0, 0])
        raise ValueError(
            f"edge_weight has {int((w < 0).sum())} negative entries and leaves "
            f"{int(negative.sum())} node(s) a negative weighted degree (node {node}: "
            f"{float(deg[node]):.4g}{', self-loop included' if self_loops else ''}): "
            "Ā = D^{-1/2} A D^{-1/2} is undefined there (NaN); use non-negative weights "
            "(e.g. edge_weight.abs(), or drop the negative edges)"
        )


def normalized_edges(
    edge_index: Tensor,
    num_nodes: int,
    edge_weight: Tensor | None = None,
    *,
    self_loops: bool = True,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Ā as an edge list: (index [2, E'] of edges j → i, weight Ā_ij [E']) — PyG's
    :func:`~torch_geometric.nn.conv.gcn_conv.gcn_norm`, differentiable in ``edge_weight``."""
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating dtype (Ā's values), got {dtype}")
    if edge_weight is not None:
        edge_weight = edge_weight.to(dtype)
        check_degrees(edge_index, edge_weight, num_nodes, self_loops=self_loops)
    index, value = gcn_norm(
        edge_index, edge_weight, num_nodes, add_self_loops=self_loops, dtype=dtype
    )
    assert value is not None
    return index, value.to(dtype)


def normalized_adjacency(
    edge_index: Tensor,
    num_nodes: int,
    edge_weight: Tensor | None = None,
    *,
    self_loops: bool = True,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """The normalised adjacency Ā as a sparse CSR tensor [n, n].

    Ā = D̃^{-1/2}(A + I)D̃^{-1/2} with self-loops (the public GRAFF code and GCN), or
    Ā = D^{-1/2} A D^{-1/2} without (an isolated node then gets a zero row); D counts the
    edges a node receives (PyG's ``gcn_norm``). Ā_ij weighs the edge j → i.

    Args:
        edge_index: edges [2, E] (an undirected graph lists both directions), or ``adj_t``.
        num_nodes: number of nodes n.
        edge_weight: optional weights [E] (Ā is differentiable in them).
        self_loops: add self-loops before normalising (D̃^{-1/2}(A+I)D̃^{-1/2}).
        dtype: floating dtype of the values.

    Example:
        >>> import torch
        >>> from graff.nn import normalized_adjacency
        >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])  # the path 0 - 1 - 2
        >>> normalized_adjacency(edge_index, 3).to_dense()
        tensor([[0.5000, 0.4082, 0.0000],
                [0.4082, 0.3333, 0.4082],
                [0.0000, 0.4082, 0.5000]])
    """
    edge_index, edge_weight = as_edge_index(edge_index, num_nodes, edge_weight)
    index, value = normalized_edges(
        edge_index, num_nodes, edge_weight, self_loops=self_loops, dtype=dtype
    )
    shape = (num_nodes, num_nodes)
    adj = csr_from_coo(index.flip(0), value, shape)
    if not adj.requires_grad:
        register_transpose(adj, csr_from_coo(index, value, shape))
    return adj


def rcm_order(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Reverse Cuthill–McKee order of an undirected graph: ``order[new_id] = old_id``.

    Renumbering the nodes this way puts neighbours close in memory, so the rows of F that one
    row of Ā F gathers share cache lines: the sparse product gets 1.5× (Pubmed) to 5× (a
    200k-node graph with shuffled ids) faster on the CPU (benchmarks/README.md).
    """
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    ei = edge_index.cpu().numpy()
    ones = np.ones(ei.shape[1], dtype=np.int8)
    mat = sp.csr_matrix((ones, (ei[0], ei[1])), shape=(num_nodes, num_nodes))
    order = reverse_cuthill_mckee(mat, symmetric_mode=True).astype(np.int64)
    return torch.from_numpy(order).to(edge_index.device)


def _scipy_adjacency(edge_index: Tensor, n: int, edge_weight: Tensor | None) -> sp.csr_matrix:
    """A with A_ij = weight of edge j → i (duplicates summed), as scipy CSR."""
    if torch.jit.is_tracing():
        raise RuntimeError(
            "this model builds its graph operators with scipy, which torch.jit.trace cannot "
            "record (the trace would only work on the traced graph); GRAFF, GRAFFConv, MLP, "
            "GCN, GCNII, APPNP, GPR-GNN, CGNN and PDE-GCN_D can be traced"
        )
    ei = edge_index.detach().cpu().numpy()
    w = (
        np.ones(ei.shape[1], dtype=np.float64)
        if edge_weight is None
        else edge_weight.detach().cpu().double().numpy()
    )
    mat = sp.csr_matrix((w, (ei[1], ei[0])), shape=(n, n))
    mat.sum_duplicates()
    return mat


def _binary_without_loops(mat: sp.csr_matrix) -> sp.csr_matrix:
    """The 0/1 pattern of ``mat`` with its diagonal removed."""
    coo = mat.tocoo()
    keep = (coo.row != coo.col) & (coo.data != 0)
    ones = np.ones(int(keep.sum()), dtype=np.float64)
    return sp.csr_matrix((ones, (coo.row[keep], coo.col[keep])), shape=mat.shape)


def mean_adjacency(
    edge_index: Tensor,
    num_nodes: int,
    edge_weight: Tensor | None = None,
    *,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """GraphSAGE's mean aggregation D⁻¹A as CSR [n, n] (row i averages the messages node i
    receives; its transpose is registered for the backward pass).

    A node without incoming edges gets a zero row (PyG's mean of nothing). Differentiable in
    ``edge_weight`` when it requires grad.
    """
    edge_index, edge_weight = as_edge_index(edge_index, num_nodes, edge_weight)
    if cache.needs_grad(edge_weight):  # differentiable in the weights (explainer masks)
        assert edge_weight is not None
        w = edge_weight.to(dtype)
        total = torch.zeros(num_nodes, dtype=dtype, device=w.device).index_add(0, edge_index[1], w)
        scale = torch.where(total > 0, 1.0 / total, torch.zeros_like(total))
        return csr_from_coo(edge_index.flip(0), w * scale[edge_index[1]], (num_nodes, num_nodes))
    a = _scipy_adjacency(edge_index, num_nodes, edge_weight)
    deg = np.asarray(a.sum(axis=1)).ravel()
    inv = np.divide(1.0, deg, out=np.zeros_like(deg), where=deg > 0)
    mean = sp.diags(inv) @ a
    dev = edge_index.device
    adj = csr_from_scipy(mean.tocsr(), dtype, dev)
    return register_transpose(adj, csr_from_scipy(mean.T.tocsr(), dtype, dev))


def two_hop_adjacency(
    edge_index: Tensor, num_nodes: int, *, dtype: torch.dtype = torch.float32
) -> Tensor:
    """H2GCN's strict two-hop operator D₂^{-1/2} A₂ D₂^{-1/2} as CSR [n, n].

    A₂ is binary: (A₂)_ij = 1 iff the shortest path between i and j has length exactly 2
    (so A₂ excludes the node itself and its one-hop neighbours). Rows without two-hop
    neighbours are zero. Symmetric on an undirected graph.
    """
    edge_index, _ = as_edge_index(edge_index, num_nodes)
    a = _binary_without_loops(_scipy_adjacency(edge_index, num_nodes, None))
    reach = _binary_without_loops((a @ a).tocsr())
    two = (reach - reach.multiply(a)).tocsr()
    two.eliminate_zeros()
    deg = np.asarray(two.sum(axis=1)).ravel()
    inv = np.divide(1.0, np.sqrt(deg), out=np.zeros_like(deg), where=deg > 0)
    norm = (sp.diags(inv) @ two @ sp.diags(inv)).tocsr()
    dev = edge_index.device
    adj = csr_from_scipy(norm, dtype, dev)
    return register_transpose(adj, csr_from_scipy(norm.T.tocsr(), dtype, dev))


def edge_structure(edge_index: Tensor, num_nodes: int, *, self_loops: bool = True) -> EdgeStructure:
    """The CSR pattern of the graph (plus self-loops), for attention values on its edges:
    entry (i, j) of row i is the edge j → i."""
    edge_index, _ = as_edge_index(edge_index, num_nodes)
    a = _scipy_adjacency(edge_index, num_nodes, None)
    a.data[:] = 1.0
    if self_loops:
        a = (a + sp.eye(num_nodes, format="csr")).tocsr()
        a.data[:] = 1.0
    pattern = csr_from_scipy(a.tocsr(), torch.float64, edge_index.device)
    plan = csr_transpose_plan(pattern)
    # Copies, not views whose base is a sparse matrix (torch.compile cannot take those).
    crow, col = pattern.crow_indices().clone(), pattern.col_indices().clone()
    row = torch.repeat_interleave(torch.arange(num_nodes, device=crow.device), crow[1:] - crow[:-1])
    return EdgeStructure(crow, col, row, plan.crow.clone(), plan.col.clone(), plan.perm, num_nodes)

"""Graph operators of the energy analysis: Ā, Δ = I − Ā, the spectrum of Δ, bipartiteness.

Notation of Di Giovanni et al. (2022), §2: A adjacency, D degrees, Ā = D^{-1/2} A D^{-1/2},
Δ = I − Ā with spectrum 0 = λ_0 ≤ … ≤ ρ_Δ ≤ 2, and ρ_Δ = 2 iff a component is bipartite.
The theory uses Ā *without* self-loops (``self_loops=False``, the default here); the
GRAFF model and GCN use D̃^{-1/2}(A + I)D̃^{-1/2} (``self_loops=True``), whose Laplacian
has ρ_Δ < 2 on every graph. An isolated node has a zero row of Ā, hence Δ_ii = 1.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla
import torch
from torch import Tensor

from graff.nn.adjacency import check_node_ids, normalized_adjacency
from graff.nn.checks import check_flags, check_sizes

__all__ = [
    "DENSE_SPECTRUM_MAX_NODES",
    "is_bipartite",
    "laplacian_spectrum",
    "normalized_laplacian",
    "spectral_radius",
]

#: Largest n for which :func:`laplacian_spectrum` builds and diagonalises a dense Δ.
DENSE_SPECTRUM_MAX_NODES = 2000


def check_edge_index(edge_index: Tensor, num_nodes: int, counted_by: str = "num_nodes") -> None:
    """Raise ``ValueError`` unless ``edge_index`` is an integer [2, E] tensor with ids < n
    (``counted_by``: what gave n, for the message)."""
    check_edge_list(edge_index)
    check_node_ids(edge_index, check_num_nodes(num_nodes), counted_by)


def check_edge_list(edge_index: Tensor) -> None:
    """Raise ``ValueError`` unless ``edge_index`` is an integer [2, E] tensor (its ids are
    checked against the graph's size by :func:`check_edge_index`)."""
    if not isinstance(edge_index, Tensor):
        raise ValueError(f"edge_index must be a torch.Tensor, got {type(edge_index).__name__}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(
            f"edge_index must have shape [2, E] (sources in row 0, targets in row 1), "
            f"got {tuple(edge_index.shape)}"
        )
    if edge_index.dtype.is_floating_point or edge_index.dtype == torch.bool:
        raise ValueError(f"edge_index must hold integer node ids, got dtype {edge_index.dtype}")


def check_num_nodes(num_nodes: int) -> int:
    """``num_nodes`` as an ``int``; a ``TypeError`` / ``ValueError`` unless it is a positive
    integer (a NumPy or 0-d tensor integer included; not a float, a bool or a tensor of
    several values)."""
    check_sizes(num_nodes=num_nodes)
    return int(num_nodes)


def resolve_adjacency(
    edge_index: Tensor | None,
    num_nodes: int | None,
    *,
    self_loops: bool,
    adj: Tensor | None,
    dtype: torch.dtype,
    device: torch.device | None = None,
    counted_by: str = "num_nodes",
) -> Tensor:
    """Ā from either ``edge_index`` (+ ``num_nodes``, which ``counted_by`` names in an
    error) or a precomputed ``adj``.

    ``adj`` may be dense [n, n], sparse COO or sparse CSR; it is cast to ``dtype``. The
    returned Ā keeps its layout (CSR when built here).
    """
    check_flags(self_loops=self_loops)
    if adj is not None:
        if edge_index is not None:
            raise ValueError("pass either edge_index (with num_nodes) or adj, not both")
        _check_adj(adj)
        if adj.dim() != 2 or adj.size(0) != adj.size(1):
            raise ValueError(f"adj must be a square [n, n] matrix, got {tuple(adj.shape)}")
        if num_nodes is not None and adj.size(0) != check_num_nodes(num_nodes):
            raise ValueError(f"adj is {tuple(adj.shape)} but num_nodes={num_nodes}")
        out = adj.to(dtype)
        return out if device is None else out.to(device)
    if edge_index is None:
        raise ValueError("the graph is missing: pass edge_index (with num_nodes) or adj")
    if num_nodes is None:
        raise ValueError("num_nodes is required with edge_index")
    check_edge_index(edge_index, num_nodes, counted_by)
    out = normalized_adjacency(edge_index, int(num_nodes), self_loops=self_loops, dtype=dtype)
    return out if device is None else out.to(device)


def _check_adj(adj: object) -> None:
    """``adj`` must be Ā itself: a real floating torch tensor (dense, COO or CSR), finite."""
    if not isinstance(adj, Tensor):
        hint = (
            "; convert a SciPy matrix with torch_geometric.utils.from_scipy_sparse_matrix and "
            "pass edge_index"
            if sp.issparse(adj)
            else ""
        )
        raise TypeError(
            f"adj must be the normalised adjacency Ā as a torch tensor (dense, COO or CSR), "
            f"got {type(adj).__name__}{hint}; or pass edge_index (with num_nodes)"
        )
    if not adj.dtype.is_floating_point and adj.dim() == 2 and adj.size(0) == 2 != adj.size(1):
        raise ValueError(
            f"adj {tuple(adj.shape)} of dtype {adj.dtype} looks like an edge_index: pass it as "
            "edge_index (with num_nodes); adj is the normalised adjacency Ā [n, n]"
        )
    if not adj.dtype.is_floating_point:
        raise ValueError(
            f"adj must be the normalised adjacency Ā (floating), got dtype {adj.dtype}: an "
            "integer or boolean matrix looks like the raw adjacency A; pass edge_index (with "
            "num_nodes), or normalized_adjacency(edge_index, n) for Ā"
        )
    values = adj
    if adj.layout == torch.sparse_coo:
        values = adj._values()
    elif adj.layout != torch.strided:
        values = adj.values()
    if not bool(torch.isfinite(values.detach()).all()):
        raise ValueError("adj has NaN or infinite entries; Ā and its energies are undefined")


def adj_matmul(adj: Tensor, x: Tensor) -> Tensor:
    """Ā X for a dense, COO or CSR Ā (differentiable in X)."""
    if adj.layout == torch.strided:
        return adj @ x
    return torch.sparse.mm(adj, x)


def _dense(adj: Tensor) -> Tensor:
    return adj if adj.layout == torch.strided else adj.to_dense()


def normalized_laplacian(
    edge_index: Tensor,
    num_nodes: int,
    self_loops: bool = False,
    dense: bool = False,
    *,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    r"""The normalised graph Laplacian Δ = I − Ā (Di Giovanni et al. 2022, §2).

    .. math::
        \Delta = \mathbf{I} - \mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}

    Args:
        edge_index: undirected edges [2, E], both directions present.
        num_nodes: number of nodes n.
        self_loops: use Ā = D̃^{-1/2}(A + I)D̃^{-1/2} (the GRAFF/GCN operator) instead of the
            paper's loop-free Ā, which its spectral statements assume (default ``False``).
        dense: return a dense [n, n] tensor instead of sparse CSR.
        dtype: floating dtype (float64 by default).

    Returns:
        Δ as a sparse CSR tensor [n, n] (dense if ``dense=True``).
    """
    adj = resolve_adjacency(edge_index, num_nodes, self_loops=self_loops, adj=None, dtype=dtype)
    n = int(num_nodes)
    if dense:
        return torch.eye(n, dtype=dtype) - adj.to_dense()
    coo = adj.to_sparse_coo().coalesce()
    eye = torch.arange(n)
    index = torch.cat([torch.stack([eye, eye]), coo.indices()], dim=1)
    value = torch.cat([torch.ones(n, dtype=dtype), -coo.values()])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Sparse CSR support is in beta"
        lap = torch.sparse_coo_tensor(index, value, (n, n)).coalesce()
        return lap.to_sparse_csr()


def _scipy_laplacian(edge_index: Tensor, num_nodes: int, self_loops: bool) -> sp.csr_matrix:
    lap = normalized_laplacian(edge_index, num_nodes, self_loops, dtype=torch.float64)
    return sp.csr_matrix(
        (
            lap.values().numpy(),
            lap.col_indices().numpy(),
            lap.crow_indices().numpy(),
        ),
        shape=(num_nodes, num_nodes),
    )


def laplacian_spectrum(edge_index: Tensor, num_nodes: int, self_loops: bool = False) -> Tensor:
    """All eigenvalues of Δ = I − Ā in ascending order (float64, dense ``eigvalsh``).

    Limited to n ≤ :data:`DENSE_SPECTRUM_MAX_NODES`; use :func:`spectral_radius` for ρ_Δ on
    larger graphs.
    """
    if check_num_nodes(num_nodes) > DENSE_SPECTRUM_MAX_NODES:
        raise ValueError(
            f"laplacian_spectrum diagonalises a dense [n, n] matrix and is limited to "
            f"n ≤ {DENSE_SPECTRUM_MAX_NODES}, got n={num_nodes}; use spectral_radius() for ρ_Δ"
        )
    lap = normalized_laplacian(edge_index, num_nodes, self_loops, dense=True)
    return torch.linalg.eigvalsh(lap)


def spectral_radius(
    edge_index: Tensor,
    num_nodes: int,
    self_loops: bool = False,
    *,
    dense_max_nodes: int = DENSE_SPECTRUM_MAX_NODES,
    tol: float = 1e-10,
) -> float:
    """ρ_Δ, the largest eigenvalue of Δ = I − Ā (≤ 2, = 2 iff a component is bipartite).

    Dense ``eigvalsh`` for n ≤ ``dense_max_nodes``, otherwise Lanczos
    (:func:`scipy.sparse.linalg.eigsh`, largest algebraic eigenvalue, tolerance ``tol``).
    """
    num_nodes = check_num_nodes(num_nodes)
    if num_nodes <= dense_max_nodes:
        return float(laplacian_spectrum(edge_index, num_nodes, self_loops)[-1])
    lap = _scipy_laplacian(edge_index, num_nodes, self_loops)
    rng = np.random.default_rng(0)  # deterministic starting vector
    v0 = rng.standard_normal(num_nodes)
    vals = spla.eigsh(lap, k=1, which="LA", tol=tol, v0=v0, return_eigenvectors=False)
    return float(vals[0])


def is_bipartite(edge_index: Tensor, num_nodes: int) -> bool:
    """Whether every connected component of the graph is bipartite (2-colourable).

    A graph is bipartite iff its bipartite double cover (node i ↦ i⁺, i⁻, edge ij ↦ i⁺j⁻,
    i⁻j⁺) has twice as many components: a bipartite component lifts to two copies, a
    non-bipartite one to a single connected cover. A self-loop is an odd cycle. Isolated
    nodes count as bipartite. On a connected graph this is equivalent to ρ_Δ = 2 (without
    self-loops in Ā); on a disconnected one ρ_Δ = 2 as soon as *one* component with an edge
    is bipartite.
    """
    check_edge_index(edge_index, num_nodes)
    n = int(num_nodes)
    row, col = edge_index.cpu().numpy()
    ones = np.ones(row.size, dtype=np.int8)
    graph = sp.coo_matrix((ones, (row, col)), shape=(n, n))
    cover = sp.coo_matrix(
        (
            np.concatenate([ones, ones]),
            (np.concatenate([row, row + n]), np.concatenate([col + n, col])),
        ),
        shape=(2 * n, 2 * n),
    )
    c_graph, _ = csgraph.connected_components(graph, directed=False)
    c_cover, _ = csgraph.connected_components(cover, directed=False)
    return bool(c_cover == 2 * c_graph)

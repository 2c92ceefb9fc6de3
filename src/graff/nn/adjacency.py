"""The normalised adjacency Ā of GRAFF, built once as a CSR matrix and cached.

Ā = D̃^{-1/2} (A + I) D̃^{-1/2} with self-loops (the public GRAFF code and GCN), or
Ā = D^{-1/2} A D^{-1/2} without; isolated nodes get a zero row when self-loops are off.
The normalisation is PyG's :func:`~torch_geometric.nn.conv.gcn_conv.gcn_norm`.

Multiplication goes through :func:`sym_spmm_add`, an autograd function that uses the
symmetry of Ā: the backward pass multiplies by Ā again instead of materialising Āᵀ, which
on the CPU is 3–6× cheaper than PyTorch's generic sparse backward.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor
from torch_geometric.nn.conv.gcn_conv import gcn_norm

__all__ = ["is_symmetric", "normalized_adjacency", "rcm_order", "sym_spmm", "sym_spmm_add"]


def _csr(index: Tensor, value: Tensor, n: int) -> Tensor:
    """Build a CSR matrix from a COO index (need not be sorted)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Sparse CSR support is in beta"
        coo = torch.sparse_coo_tensor(index, value, (n, n), check_invariants=False).coalesce()
        return coo.to_sparse_csr()


def normalized_adjacency(
    edge_index: Tensor,
    num_nodes: int,
    edge_weight: Tensor | None = None,
    *,
    self_loops: bool = True,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Return the symmetric normalised adjacency Ā as a sparse CSR tensor [n, n].

    Args:
        edge_index: undirected edges [2, E] (both directions present).
        num_nodes: number of nodes n.
        edge_weight: optional symmetric weights [E].
        self_loops: add self-loops before normalising (D̃^{-1/2}(A+I)D̃^{-1/2}).
        dtype: floating dtype of the values.
    """
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {tuple(edge_index.shape)}")
    if edge_weight is not None:
        edge_weight = edge_weight.to(dtype)
    index, value = gcn_norm(
        edge_index, edge_weight, num_nodes, add_self_loops=self_loops, dtype=dtype
    )
    assert value is not None
    return _csr(index, value.to(dtype), num_nodes)


def rcm_order(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Reverse Cuthill–McKee order of an undirected graph: ``order[new_id] = old_id``.

    Renumbering the nodes this way puts neighbours close in memory, so the rows of F that one
    row of Ā F gathers share cache lines: the sparse product gets 1.5× (Pubmed) to 5× (a
    200k-node graph with shuffled ids) faster on the CPU (benchmarks/README.md).
    """
    import numpy as np
    import scipy.sparse as sp
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    ei = edge_index.cpu().numpy()
    ones = np.ones(ei.shape[1], dtype=np.int8)
    mat = sp.csr_matrix((ones, (ei[0], ei[1])), shape=(num_nodes, num_nodes))
    order = reverse_cuthill_mckee(mat, symmetric_mode=True).astype(np.int64)
    return torch.from_numpy(order).to(edge_index.device)


def is_symmetric(adj: Tensor, atol: float = 1e-6) -> bool:
    """Check that a sparse (CSR or COO) matrix equals its transpose."""
    dense = adj.to_dense()
    return bool(torch.allclose(dense, dense.t(), atol=atol))


class _SymSpMMAdd(torch.autograd.Function):
    """``base + alpha * (Ā @ x)`` for a constant symmetric sparse Ā."""

    @staticmethod
    def forward(
        ctx: Any, adj: Tensor, x: Tensor, base: Tensor | None, alpha: float, inplace: bool
    ) -> Tensor:
        ctx.adj = adj
        ctx.alpha = alpha
        ctx.has_base = base is not None
        if base is None:
            out = adj @ x
            return out if alpha == 1.0 else out.mul_(alpha)
        if inplace:
            ctx.mark_dirty(base)
            return base.addmm_(adj, x, alpha=alpha)
        return torch.addmm(base, adj, x, alpha=alpha)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, Tensor | None, Tensor | None, None, None]:
        grad_x = None
        if ctx.needs_input_grad[1]:
            grad_x = ctx.adj @ grad
            if ctx.alpha != 1.0:
                grad_x = grad_x.mul_(ctx.alpha)
        grad_base = grad if ctx.has_base and ctx.needs_input_grad[2] else None
        return None, grad_x, grad_base, None, None


def sym_spmm_add(
    adj: Tensor,
    x: Tensor,
    base: Tensor | None = None,
    alpha: float = 1.0,
    *,
    inplace: bool = False,
) -> Tensor:
    """Return ``base + alpha · Ā x`` for a *symmetric* constant sparse Ā (no grad to Ā).

    With ``inplace=True`` the sum is written into ``base`` (one pass less over the n×d
    features); only for a ``base`` that nothing else reads afterwards (autograd included —
    a temporary). Falls back to plain autograd ops when Ā itself requires a gradient.
    """
    if adj.requires_grad:
        out = torch.sparse.mm(adj, x)
        return out * alpha if base is None else base + alpha * out
    result: Tensor = _SymSpMMAdd.apply(adj, x, base, alpha, inplace)
    return result


def sym_spmm(adj: Tensor, x: Tensor) -> Tensor:
    """Return ``Ā x`` for a symmetric constant sparse Ā."""
    return sym_spmm_add(adj, x)

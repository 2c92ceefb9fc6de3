r"""The graph-dependent part of linear GRAFF, computed once: S_k = Ā^k [X, 1], k = 0..n.

GRAFF's linear Euler step (Di Giovanni et al. 2022, eq. 6)

.. math::
    \mathbf{F} \leftarrow \mathbf{F}(\mathbf{I} - \tau\boldsymbol{\Omega})
    + \tau\bar{\mathbf{A}}\mathbf{F}\mathbf{W} + \tau\beta\mathbf{F}(0)

multiplies by Ā on the left and by W, Ω on the right. Left and right products commute, so
after n steps F(n) = Σ_{k=0..n} Ā^k F(0) Q_k for d×d matrices Q_k
(:func:`graff.scale.precomputed.propagation_coefficients`), and with the linear encoder
F(0) = X E + 1 bᵀ = [X, 1] [E; bᵀ] the graph enters only through S_k = Ā^k [X, 1].
:func:`precompute_propagation` computes S once, with Ā exactly as :class:`graff.nn.GRAFF`
builds it (:func:`graff.nn.gcn_adjacency`: the same self-loops, normalisation and cache),
one block of rows of Ā at a time (the blocks are what a later out-of-core version writes to
disk one by one).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from graff.device import available_memory
from graff.errors import NotEnoughMemoryError
from graff.nn.adjacency import gcn_adjacency
from graff.nn.checks import check_flags
from graff.nn.sparse import csr

__all__ = ["DEFAULT_BLOCK_ROWS", "csr_row_block", "precompute_propagation"]

#: rows of Ā multiplied at once by :func:`precompute_propagation` (default ``block_rows``).
DEFAULT_BLOCK_ROWS = 65_536


def csr_row_block(m: Tensor, lo: int, hi: int) -> Tensor:
    """Rows ``lo:hi`` of a CSR matrix M [n, m] as a CSR matrix [hi − lo, m] (values shared
    with M where the slice is contiguous; no copy of the rest of M)."""
    crow = m.crow_indices()
    start, stop = int(crow[lo]), int(crow[hi])
    return csr(
        crow[lo : hi + 1] - start,
        m.col_indices()[start:stop],
        m.values()[start:stop],
        (hi - lo, m.size(1)),
    )


def dense_rows(x: Tensor, lo: int, hi: int) -> Tensor:
    """Rows ``lo:hi`` of dense or sparse CSR features as a dense tensor."""
    if x.layout == torch.sparse_csr:
        return csr_row_block(x, lo, hi).to_dense()
    return x[lo:hi]


def propagation_operator(
    x: Tensor,
    edge_index: Any,
    steps: int,
    edge_weight: Tensor | None,
    adj: Tensor | None,
    self_loops: bool,
    block_rows: int,
    dtype: torch.dtype | None,
) -> tuple[Tensor, torch.dtype]:
    """Check the arguments of :func:`precompute_propagation` (shared with
    :func:`graff.scale.precompute_on_disk`) and return Ā (sparse CSR [n, n], detached) and
    the dtype of S."""
    if not isinstance(x, Tensor):
        raise TypeError(
            f"x must be the node features as a torch.Tensor [n, p], got {type(x).__name__}"
            + ("; pass data.x" if hasattr(x, "edge_index") else "")
        )
    if x.dim() != 2:
        raise ValueError(f"x must be a feature matrix [n, p], got shape {tuple(x.shape)}")
    values = x.values() if x.layout == torch.sparse_csr else x
    if values.is_floating_point() and not bool(torch.isfinite(values).all()):
        raise ValueError("x has NaN or infinite entries: every S_k = Ā^k [X, 1] would carry them")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer (Euler steps), got {steps!r}")
    check_flags(self_loops=self_loops)
    if isinstance(block_rows, bool) or not isinstance(block_rows, int) or block_rows <= 0:
        raise ValueError(f"block_rows must be a positive integer, got {block_rows!r}")
    n = x.size(0)
    if dtype is None:
        dtype = x.dtype if x.dtype.is_floating_point else torch.float32
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating dtype for S and Ā, got {dtype}")
    if adj is None:
        if edge_index is None:
            raise ValueError("precompute_propagation needs edge_index (or adj_t) or adj (Ā)")
        adj = gcn_adjacency(edge_index, n, edge_weight, self_loops=self_loops, dtype=dtype)
    elif edge_index is not None:
        raise ValueError("pass either edge_index (or adj_t) or adj (Ā), not both")
    if adj.layout != torch.sparse_csr or tuple(adj.shape) != (n, n):
        raise ValueError(
            f"adj must be the normalised Ā as a sparse CSR tensor [{n}, {n}], got "
            f"{adj.layout} {tuple(adj.shape)}"
        )
    return adj.detach().to(dtype), dtype


def precompute_propagation(
    x: Tensor,
    edge_index: Any = None,
    steps: int = 3,
    *,
    edge_weight: Tensor | None = None,
    adj: Tensor | None = None,
    self_loops: bool = True,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    dtype: torch.dtype | None = None,
) -> Tensor:
    r"""S [n, steps + 1, p + 1] with S[:, k] = Ā^k [X, 1] (the last column is Ā^k 1).

    The layout is node-major, so the rows of a mini-batch of nodes are one gather
    (``S[rows]``), which is all :class:`~graff.scale.PrecomputedGRAFF` needs.

    Args:
        x (Tensor): node features X [n, p], dense or sparse CSR (densified one block of rows
            at a time).
        edge_index: the graph as :class:`graff.nn.GRAFF` takes it, ``edge_index`` [2, E] or a
            sparse ``adj_t`` [n, n]; ``None`` when ``adj`` is given.
        steps (int): the number n of Euler steps, ``len(graff.nn.euler_steps(T, τ))``
            (``PrecomputedGRAFF.num_steps``); S then holds Ā^0 … Ā^n.
        edge_weight (Tensor, optional): edge weights [E] of ``edge_index``.
        adj (Tensor, optional): an already normalised Ā as a sparse CSR [n, n] (e.g.
            ``graff_model.conv.adjacency(edge_index, n)``), used as it is.
        self_loops (bool): Ā with self-loops, as ``GRAFF(self_loops=...)`` (default True).
        block_rows (int): rows of Ā per sparse product (default :data:`DEFAULT_BLOCK_ROWS`).
        dtype (torch.dtype, optional): dtype of Ā and S (default: ``x``'s floating dtype,
            float32 for integer features).

    Shapes:
        - input: x [n, p], edge_index [2, E] or adj_t [n, n], adj [n, n]
        - output: [n, steps + 1, p + 1]
    """
    adj, dtype = propagation_operator(
        x, edge_index, steps, edge_weight, adj, self_loops, block_rows, dtype
    )
    n, p = x.shape
    need, have = n * (steps + 1) * (p + 1) * dtype.itemsize, available_memory()
    if x.device.type == "cpu" and have is not None and need > have:
        raise NotEnoughMemoryError(
            f"S [{n}, {steps + 1}, {p + 1}] needs {need / 2**30:.1f} GiB but "
            f"{have / 2**30:.1f} GiB of memory is available: fewer steps, or "
            "graff.scale.precompute_on_disk (memory-mapped, one block of rows at a time)"
        )
    out = torch.empty(n, steps + 1, p + 1, dtype=dtype, device=x.device)
    for lo in range(0, n, block_rows):
        hi = min(n, lo + block_rows)
        out[lo:hi, 0, :p] = dense_rows(x, lo, hi).to(dtype)
    out[:, 0, p] = 1.0
    if steps == 0:
        return out
    prev = out[:, 0].contiguous()
    nxt = torch.empty_like(prev)
    for k in range(1, steps + 1):
        for lo in range(0, n, block_rows):
            hi = min(n, lo + block_rows)
            nxt[lo:hi] = csr_row_block(adj, lo, hi) @ prev
        out[:, k] = nxt
        prev, nxt = nxt, prev
    return out

"""Every sparse (CSR) operation of :mod:`graff.nn`: construction, transposes and products.

Full-batch training multiplies by the same constant graph operator M every step; CSR with
``torch.sparse.mm`` is the fastest CPU kernel here (PERF-NOTES.md). PyTorch's generic sparse
backward transposes M on every call; the products below multiply the gradient by Mᵀ taken
from the cache instead (:func:`transpose_of`: built once per matrix, or M itself when M is
symmetric, as Ā is on an undirected graph). Any M gets its exact transpose, so gradients
are right on directed graphs and with asymmetric edge weights too.

* :func:`csr`, :func:`csr_from_coo`, :func:`csr_from_scipy`, :func:`to_csr` — construction
  (without PyTorch's "CSR support is in beta" warning);
* :func:`spmm_add`, :func:`spmm` (and :func:`sym_spmm_add` for a known-symmetric M) — the
  products with the cheap backward;
* :func:`sparse_dropout_linear` — ``dropout(X) Wᵀ + b`` for sparse CSR features X, dropout on
  the stored values only, with a cached transpose plan of X (:func:`feature_plan`);
* :class:`EdgeStructure`, :func:`edge_dot`, :func:`edge_softmax`, :func:`edge_values_mm` —
  attention on a fixed CSR pattern: scores ⟨u_i, v_j⟩ by a sampled dense–dense product, a
  softmax over each row, and the product with learned values, without ever materialising an
  [E, d] per-edge gather (20–60× cheaper than gather/scatter attention on this CPU).

Under ``torch.autocast`` (``optim.precision: bf16``) every product here runs in float32 with
autocast off, on float32 copies of bfloat16/float16 inputs (:func:`widen`): PyTorch's sparse
CSR kernels have no bfloat16 CPU implementation, and a sum over many neighbours is better
accumulated in float32 anyway. The dense products around them stay in bfloat16.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from graff.nn import cache
from graff.nn.functional import dropout

__all__ = [
    "CSRTransposePlan",
    "EdgeList",
    "EdgeStructure",
    "csr",
    "csr_from_coo",
    "csr_from_scipy",
    "csr_transpose",
    "csr_transpose_plan",
    "edge_dot",
    "edge_head_dot",
    "edge_list",
    "edge_softmax",
    "edge_values_mm",
    "feature_plan",
    "is_symmetric",
    "register_transpose",
    "sparse_dropout_linear",
    "spmm",
    "spmm_add",
    "sym_spmm_add",
    "to_csr",
    "transpose_of",
    "unbind_heads",
    "widen",
]

_LOW_PRECISION = (torch.bfloat16, torch.float16)
_F = TypeVar("_F", bound=Callable[..., Any])


def widen(t: Tensor) -> Tensor:
    """``t`` in float32 if it is a bfloat16 or float16 tensor, else ``t`` itself."""
    return t.float() if t.dtype in _LOW_PRECISION else t


def _dense_widened(a: Any) -> Any:
    return widen(a) if isinstance(a, Tensor) and a.layout == torch.strided else a


def _in_float32(fn: _F) -> _F:
    """Run ``fn`` with autocast off and its bfloat16/float16 dense tensor arguments in float32
    when autocast is on for the device of its first tensor argument; else call it as it is."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        device = next((a.device.type for a in args if isinstance(a, Tensor)), "cpu")
        if not torch.is_autocast_enabled(device):
            return fn(*args, **kwargs)
        args = tuple(_dense_widened(a) for a in args)
        kwargs = {k: _dense_widened(v) for k, v in kwargs.items()}
        with torch.autocast(device, enabled=False):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


# -- construction ------------------------------------------------------------------------------
def csr(crow: Tensor, col: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    """A CSR matrix from its (valid, sorted) index arrays; invariants are not re-checked."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Sparse CSR support is in beta"
        return torch.sparse_csr_tensor(crow, col, values, shape, check_invariants=False)


def csr_from_coo(index: Tensor, value: Tensor, shape: tuple[int, int]) -> Tensor:
    """A CSR matrix from a COO ``index`` [2, nnz] (need not be sorted; duplicates are summed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        coo = torch.sparse_coo_tensor(index, value, shape, check_invariants=False).coalesce()
        return coo.to_sparse_csr()


def csr_from_scipy(mat: sp.csr_matrix, dtype: torch.dtype, device: torch.device) -> Tensor:
    """A scipy CSR matrix as a torch CSR tensor of ``dtype`` on ``device``."""
    mat.sort_indices()
    return csr(
        torch.from_numpy(mat.indptr.astype(np.int64)).to(device),
        torch.from_numpy(mat.indices.astype(np.int64)).to(device),
        torch.from_numpy(mat.data).to(dtype=dtype, device=device),
        mat.shape,
    )


def to_csr(x: Tensor) -> Tensor:
    """A dense (or COO) matrix as sparse CSR, without PyTorch's beta-state warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Sparse CSR support is in beta"
        return x.to_sparse_csr()


def csr_transpose(m: Tensor) -> Tensor:
    """Mᵀ as a CSR matrix, for a sparse (CSR or COO) ``m`` (differentiable in its values)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return m.to_sparse_coo().t().coalesce().to_sparse_csr()


def is_symmetric(adj: Tensor, atol: float = 1e-6) -> bool:
    """Check that a sparse (CSR or COO) matrix equals its transpose up to ``atol``."""
    dense = adj.to_dense()
    return bool(torch.allclose(dense, dense.t(), atol=atol))


# -- transposes ----------------------------------------------------------------------------------
def _transpose_entry(m: Tensor, m_t: Tensor | None) -> Tensor | None:
    """Mᵀ, or None when it equals M exactly (a symmetric M stores nothing: M itself in its own
    cache entry would never be freed)."""
    if m_t is None:
        m_t = csr_transpose(m.detach())
    if (
        m_t.layout == m.layout == torch.sparse_csr
        and m_t.values().shape == m.values().shape
        and torch.equal(m_t.crow_indices(), m.crow_indices())
        and torch.equal(m_t.col_indices(), m.col_indices())
        and torch.equal(m_t.values(), m.values())
    ):
        return None
    return m_t


def register_transpose(m: Tensor, m_t: Tensor | None = None) -> Tensor:
    """Record Mᵀ for the backward pass of products with ``m`` (``m_t=None``: compute it).

    When Mᵀ equals M exactly (same pattern, same values) the backward reuses M — the fast
    path of Ā on an undirected graph. Returns ``m``.
    """
    cache.cached([m], (), "transpose", lambda: _transpose_entry(m, m_t))
    return m


def transpose_of(m: Tensor) -> Tensor:
    """Mᵀ (M itself when symmetric), computed once per matrix and cached while M lives."""
    t: Tensor | None = cache.cached([m], (), "transpose", lambda: _transpose_entry(m, None))
    return m if t is None else t


# -- the edge-list form of an operator ---------------------------------------------------------
class EdgeList(NamedTuple):
    """A sparse operator M [n, n] as an edge list: ``edges`` [2, E] of edges j → i (row 0 the
    column j, row 1 the row i of each entry), ``weight`` [E] = M_ij, for ``num_nodes`` nodes.

    The form of a graph operator inside ``torch.jit.trace`` (which cannot hold a sparse
    tensor) and ``torch.compile`` (which cannot take one): its product is a gather and a
    scatter-add, dense ops both record and compile (:func:`spmm_add` takes either form)."""

    edges: Tensor
    weight: Tensor
    num_nodes: int

    def mm_add(self, x: Tensor, base: Tensor | None = None, alpha: float = 1.0) -> Tensor:
        """``base + alpha · M x`` by gather and scatter-add."""
        msg = x.index_select(0, self.edges[0]) * self.weight.unsqueeze(-1)
        out = torch.zeros(self.num_nodes, x.size(1), dtype=x.dtype, device=x.device)
        out = out.index_add(0, self.edges[1], msg)
        out = out if alpha == 1.0 else out * alpha
        return out if base is None else base + out


def edge_list(m: Tensor) -> EdgeList:
    """The :class:`EdgeList` of a sparse CSR (or COO) matrix ``m`` [n, n], entries in row order."""
    if m.layout != torch.sparse_csr:
        m = to_csr(m)
    crow, col = m.crow_indices(), m.col_indices()
    n = m.size(0)
    row = torch.repeat_interleave(torch.arange(n, device=crow.device), crow[1:] - crow[:-1])
    # a copy of the values: a view would have the sparse matrix as its base
    return EdgeList(torch.stack([col, row]), m.values().clone(), n)


# -- products -----------------------------------------------------------------------------------
def _check_cpu_kernel(t: Tensor) -> None:
    """A TypeError naming the fix where ``t`` (a sparse operator's values) is bfloat16 or
    float16 on the CPU: PyTorch's sparse CSR products have no such kernel there (outside
    autocast, whose products :func:`_in_float32` widens; a model cast with ``.to()``)."""
    if t.dtype in _LOW_PRECISION and t.device.type == "cpu":
        raise TypeError(
            f"graff's sparse graph products got {t.dtype} on the CPU, where PyTorch has no "
            "kernel for them: keep the model in float32 and train under torch.autocast "
            "(graff: optim.precision=bf16, which runs these products in float32), or run on a GPU"
        )


def _spmm_add_forward(
    adj: Tensor, x: Tensor, base: Tensor | None, alpha: float, inplace: bool
) -> Tensor:
    if base is None:
        out = adj @ x
        return out if alpha == 1.0 else out.mul_(alpha)
    if inplace:
        return base.addmm_(adj, x, alpha=alpha)
    return torch.addmm(base, adj, x, alpha=alpha)


class _SpMMAdd(torch.autograd.Function):
    """``base + alpha * (M @ x)`` for a constant sparse M; the backward multiplies by Mᵀ."""

    @staticmethod
    def forward(
        ctx: Any, adj: Tensor, x: Tensor, base: Tensor | None, alpha: float, inplace: bool
    ) -> Tensor:
        ctx.adj = adj
        ctx.alpha = alpha
        ctx.has_base = base is not None
        if base is not None and inplace:
            ctx.mark_dirty(base)
        return _spmm_add_forward(adj, x, base, alpha, inplace)

    @staticmethod
    @_in_float32
    def backward(ctx: Any, grad: Tensor) -> tuple[None, Tensor | None, Tensor | None, None, None]:
        grad_x = None
        if ctx.needs_input_grad[1]:
            grad_x = transpose_of(ctx.adj) @ grad
            if ctx.alpha != 1.0:
                grad_x = grad_x.mul_(ctx.alpha)
        grad_base = grad if ctx.has_base and ctx.needs_input_grad[2] else None
        return None, grad_x, grad_base, None, None


@_in_float32
def spmm_add(
    adj: Tensor | EdgeList,
    x: Tensor,
    base: Tensor | None = None,
    alpha: float = 1.0,
    *,
    inplace: bool = False,
) -> Tensor:
    """Return ``base + alpha · M x`` for a constant sparse M (CSR or COO); no grad to M.

    The backward multiplies by Mᵀ from :func:`transpose_of` (M itself when symmetric, else
    its transpose, computed once per matrix). With ``inplace=True`` the sum is written into
    ``base`` (one pass less over the n×d features); only for a ``base`` that nothing else
    reads afterwards (autograd included — a temporary). Falls back to plain autograd ops
    when M itself requires a gradient (learned edge weights, explainer masks). M may also be
    an :class:`EdgeList` (traced and compiled models; differentiable in its weights).
    """
    if isinstance(adj, EdgeList):
        return adj.mm_add(x, base, alpha)
    _check_cpu_kernel(adj)
    if adj.requires_grad:
        out = torch.sparse.mm(adj, x)
        return out * alpha if base is None else base + alpha * out
    if not torch.is_grad_enabled() or not (
        x.requires_grad or (base is not None and base.requires_grad)
    ):
        return _spmm_add_forward(adj, x, base, alpha, inplace)
    result: Tensor = _SpMMAdd.apply(adj, x, base, alpha, inplace)
    return result


def spmm(adj: Tensor | EdgeList, x: Tensor) -> Tensor:
    """Return ``M x`` for a constant sparse M (see :func:`spmm_add`)."""
    return spmm_add(adj, x)


def sym_spmm_add(
    adj: Tensor | EdgeList,
    x: Tensor,
    base: Tensor | None = None,
    alpha: float = 1.0,
    *,
    inplace: bool = False,
) -> Tensor:
    """:func:`spmm_add` for a matrix the caller knows to be symmetric (no transpose lookup:
    the backward multiplies by ``adj`` itself unless :func:`register_transpose` recorded a
    transpose for it). Gives wrong gradients if ``adj`` is not symmetric."""
    if not isinstance(adj, EdgeList):
        cache.cached([adj], (), "transpose", lambda: None)  # unless a transpose is known
    return spmm_add(adj, x, base, alpha, inplace=inplace)


# -- sparse node features -------------------------------------------------------------------------
class CSRTransposePlan(NamedTuple):
    """Structure of Xᵀ in CSR, and where each of its values sits in X's value array."""

    crow: Tensor
    col: Tensor
    perm: Tensor
    shape: tuple[int, int]


def csr_transpose_plan(x: Tensor) -> CSRTransposePlan:
    """Compute the CSR structure of ``x.T`` for a CSR matrix ``x`` (once per matrix)."""
    n, p = x.shape
    ids = torch.arange(x.values().numel(), dtype=torch.float64, device=x.device)
    marked = csr(x.crow_indices(), x.col_indices(), ids, (n, p))
    t = csr_transpose(marked)
    return CSRTransposePlan(t.crow_indices(), t.col_indices(), t.values().long(), (p, n))


def feature_plan(x: Tensor) -> CSRTransposePlan:
    """The transpose plan of the sparse feature matrix ``x``, cached while ``x`` lives."""
    plan: CSRTransposePlan = cache.cached([x], (), "feature_plan", lambda: csr_transpose_plan(x))
    return plan


class _SparseLinear(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: Tensor, values: Tensor, weight: Tensor, plan: CSRTransposePlan
    ) -> Tensor:
        ctx.plan = plan
        ctx.save_for_backward(values)
        xv = csr(x.crow_indices(), x.col_indices(), values, tuple(x.shape))  # type: ignore[arg-type]
        return xv @ weight.t().contiguous()

    @staticmethod
    @_in_float32
    def backward(ctx: Any, grad: Tensor) -> tuple[None, None, Tensor | None, None]:
        if not ctx.needs_input_grad[2]:
            return None, None, None, None
        (values,) = ctx.saved_tensors
        plan: CSRTransposePlan = ctx.plan
        xt = csr(plan.crow, plan.col, values.index_select(0, plan.perm), plan.shape)
        return None, None, (xt @ grad).t(), None


@torch.compiler.disable(reason="graff.nn.sparse: sparse CSR features")
@_in_float32
def sparse_dropout_linear(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    p: float,
    training: bool,
    plan: CSRTransposePlan | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``dropout(X) Wᵀ + b`` for a CSR ``X`` [n, p_in]; dropout acts on the non-zeros only.

    Same distribution as dense dropout (dropped zeros stay zero). No gradient flows to X.
    ``plan`` defaults to the cached :func:`feature_plan` of ``x``; the dropout mask comes
    from ``generator`` (default: PyTorch's default generator).
    """
    values = dropout(x.values(), p, training, generator)
    out = _SparseLinear.apply(x, values, weight, feature_plan(x) if plan is None else plan)
    return out if bias is None else out + bias


# -- attention on a fixed CSR pattern -------------------------------------------------------------
@dataclass(frozen=True)
class EdgeStructure:
    """A CSR sparsity pattern [n, n] for per-edge values, with its transpose plan.

    ``row``/``col`` give each stored entry's position (CSR order); ``t_crow``/``t_col`` are the
    pattern of the transpose and ``perm`` maps the transpose's entries to the original ones.
    Built from a graph by :func:`graff.nn.adjacency.edge_structure`.
    """

    crow: Tensor
    col: Tensor
    row: Tensor
    t_crow: Tensor
    t_col: Tensor
    perm: Tensor
    num_nodes: int


def _square(s: EdgeStructure, values: Tensor, transpose: bool = False) -> Tensor:
    if transpose:
        return csr(s.t_crow, s.t_col, values.index_select(0, s.perm), (s.num_nodes, s.num_nodes))
    return csr(s.crow, s.col, values, (s.num_nodes, s.num_nodes))


def _sampled_dot(s: EdgeStructure, u: Tensor, v: Tensor) -> Tensor:
    """⟨u_i, v_j⟩ for every stored entry (i, j) of ``s`` (SDDMM), in CSR order."""
    zeros = torch.zeros(s.col.numel(), dtype=u.dtype, device=u.device)
    out = torch.sparse.sampled_addmm(_square(s, zeros), u, v.t(), beta=0.0)
    return out.values()


class _EdgeValuesMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, values: Tensor, x: Tensor, s: EdgeStructure) -> Tensor:
        ctx.s = s
        ctx.save_for_backward(values, x)
        return _square(s, values) @ x

    @staticmethod
    @_in_float32
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        values, x = ctx.saved_tensors
        s: EdgeStructure = ctx.s
        grad_values = grad_x = None
        if ctx.needs_input_grad[0]:
            # d(out_i)/d(a_ij) = x_j: the gradient of value (i, j) is ⟨grad_i, x_j⟩.
            grad_values = _sampled_dot(s, grad.contiguous(), x)
        if ctx.needs_input_grad[1]:
            grad_x = _square(s, values, transpose=True) @ grad
        return grad_values, grad_x, None


@torch.compiler.disable(reason="graff.nn.sparse: attention on a sparse CSR pattern")
@_in_float32
def edge_values_mm(values: Tensor, x: Tensor, structure: EdgeStructure) -> Tensor:
    """``A @ x`` where A has the pattern ``structure`` and the (differentiable) ``values``."""
    if values.shape != structure.col.shape:
        raise ValueError(
            f"values must have one entry per stored edge ({structure.col.numel()}), "
            f"got shape {tuple(values.shape)}"
        )
    _check_cpu_kernel(values)
    return _EdgeValuesMM.apply(values, x, structure)


class _EdgeDot(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, u: Tensor, v: Tensor, s: EdgeStructure) -> Tensor:
        ctx.s = s
        ctx.save_for_backward(u, v)
        return _sampled_dot(s, u, v)

    @staticmethod
    @_in_float32
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        u, v = ctx.saved_tensors
        s: EdgeStructure = ctx.s
        grad_u = grad_v = None
        if ctx.needs_input_grad[0]:
            grad_u = _square(s, grad) @ v
        if ctx.needs_input_grad[1]:
            grad_v = _square(s, grad, transpose=True) @ u
        return grad_u, grad_v, None


@torch.compiler.disable(reason="graff.nn.sparse: attention on a sparse CSR pattern")
@_in_float32
def edge_dot(u: Tensor, v: Tensor, structure: EdgeStructure) -> Tensor:
    """Scores ⟨u_i, v_j⟩ [E] on the stored entries (i, j) of ``structure`` (CSR order).

    A sampled dense–dense product: no [E, d] gather is materialised, forward or backward.
    """
    _check_cpu_kernel(u)
    return _EdgeDot.apply(u.contiguous(), v.contiguous(), structure)


def unbind_heads(t: Tensor) -> tuple[Tensor, ...]:
    """[X, H, ...] → H contiguous [X, ...] tensors, by one copy. Unbind's backward stacks the
    heads' gradients once; taking head k by indexing instead fills a zero gradient of the
    whole tensor per head (on a large graph, the larger part of an attention layer's
    backward)."""
    return t.transpose(0, 1).contiguous().unbind(0)


@torch.compiler.disable(reason="graff.nn.sparse: attention on a sparse CSR pattern")
def edge_head_dot(u: Tensor, v: Tensor, structure: EdgeStructure) -> Tensor:
    """Per head h, :math:`u_{i,h}^\\top v_{j,h}` on the entries (i, j) of ``structure``:
    u, v [N, H, C] → head-major [H, E] (one sampled product per head, no [E, H, C] gather)."""
    per_head = zip(unbind_heads(u), unbind_heads(v), strict=True)
    return torch.stack([edge_dot(a, b, structure) for a, b in per_head])


class _EdgeSoftmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, scores: Tensor, s: EdgeStructure, dim: int) -> Tensor:
        # segments along ``dim``: the CSR offsets, one row of them per head when heads come first
        offsets = s.crow if dim == 0 else s.crow.expand(scores.size(0), -1).contiguous()
        shift = torch.segment_reduce(scores, "max", offsets=offsets, axis=dim)
        ex = torch.exp(scores - shift.index_select(dim, s.row))
        total = torch.segment_reduce(ex, "sum", offsets=offsets, axis=dim)
        alpha = ex.div_(total.index_select(dim, s.row))
        ctx.s, ctx.dim, ctx.offsets = s, dim, offsets
        ctx.save_for_backward(alpha)
        return alpha

    @staticmethod
    @_in_float32
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        # d alpha_ij / d score_ik = alpha_ij (delta_jk - alpha_ik): the gradient of score ik
        # is alpha_ik (g_ik - sum_j g_ij alpha_ij), one segment sum per row
        (alpha,) = ctx.saved_tensors
        s: EdgeStructure = ctx.s
        weighted = grad * alpha
        dot = torch.segment_reduce(weighted, "sum", offsets=ctx.offsets, axis=ctx.dim)
        per_entry = dot.index_select(ctx.dim, s.row)
        return torch.addcmul(weighted, alpha, per_entry, value=-1), None, None


@torch.compiler.disable(reason="graff.nn.sparse: attention on a sparse CSR pattern")
@_in_float32
def edge_softmax(scores: Tensor, structure: EdgeStructure, dim: int = 0) -> Tensor:
    """Softmax of ``scores`` over the entries of each row (CSR segments): ``dim`` is the
    entries' dimension, 0 for [E] or [E, H], 1 (or -1) for head-major [H, E], whose heads are
    contiguous (the faster layout for several heads).

    Its backward is written out (one segment sum over the saved coefficients), about twice
    as fast as autograd's through the shift, exponential and division on the CPU.
    """
    nnz = structure.col.numel()
    if scores.dim() not in (1, 2) or dim not in range(-scores.dim(), scores.dim()):
        raise ValueError(
            f"edge_softmax takes scores [E], [E, H] (dim=0) or [H, E] (dim=1), got shape "
            f"{tuple(scores.shape)} with dim={dim}"
        )
    dim %= scores.dim()
    if scores.size(dim) != nnz:
        raise ValueError(
            f"scores must have one entry per stored edge ({nnz}) along dim {dim}, got shape "
            f"{tuple(scores.shape)}"
        )
    return _EdgeSoftmax.apply(scores, structure, dim)

"""Sparse node features: dropout on the non-zeros and a linear map with a cheap backward.

Bag-of-words features are 1–5 % dense. Dense dropout over the full n×p matrix dominates a
training step there; here dropout touches only the stored values, and the backward pass of
``X Wᵀ`` multiplies by a precomputed CSR Xᵀ (built once per feature matrix, reused with the
dropped values permuted into place) instead of letting autograd transpose X every step.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import torch
from torch import Tensor

from graff.nn.functional import dropout

__all__ = ["CSRTransposePlan", "csr_transpose_plan", "sparse_dropout_linear", "to_csr"]


class CSRTransposePlan(NamedTuple):
    """Structure of Xᵀ in CSR, and where each of its values sits in X's value array."""

    crow: Tensor
    col: Tensor
    perm: Tensor
    shape: tuple[int, int]


def _csr(crow: Tensor, col: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Sparse CSR support is in beta"
        return torch.sparse_csr_tensor(crow, col, values, shape, check_invariants=False)


def to_csr(x: Tensor) -> Tensor:
    """A dense (or COO) matrix as sparse CSR, without PyTorch's beta-state warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Sparse CSR support is in beta"
        return x.to_sparse_csr()


def csr_transpose_plan(x: Tensor) -> CSRTransposePlan:
    """Compute the CSR structure of ``x.T`` for a CSR matrix ``x`` (once per matrix)."""
    n, p = x.shape
    ids = torch.arange(x.values().numel(), dtype=torch.float64)
    marked = _csr(x.crow_indices(), x.col_indices(), ids, (n, p))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        t = marked.to_sparse_coo().t().coalesce().to_sparse_csr()
    return CSRTransposePlan(t.crow_indices(), t.col_indices(), t.values().long(), (p, n))


class _SparseLinear(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: Tensor, values: Tensor, weight: Tensor, plan: CSRTransposePlan
    ) -> Tensor:
        ctx.plan = plan
        ctx.save_for_backward(values)
        xv = _csr(x.crow_indices(), x.col_indices(), values, tuple(x.shape))  # type: ignore[arg-type]
        return xv @ weight.t().contiguous()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, None, Tensor | None, None]:
        if not ctx.needs_input_grad[2]:
            return None, None, None, None
        (values,) = ctx.saved_tensors
        plan: CSRTransposePlan = ctx.plan
        xt = _csr(plan.crow, plan.col, values[plan.perm], plan.shape)
        return None, None, (xt @ grad).t(), None


def sparse_dropout_linear(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    p: float,
    training: bool,
    plan: CSRTransposePlan,
) -> Tensor:
    """``dropout(X) Wᵀ + b`` for a CSR ``X`` [n, p_in]; dropout acts on the non-zeros only.

    Same distribution as dense dropout (dropped zeros stay zero). No gradient flows to X.
    """
    values = dropout(x.values(), p, training)
    out = _SparseLinear.apply(x, values, weight, plan)
    return out if bias is None else out + bias

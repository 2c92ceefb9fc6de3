"""Linear building blocks shared by the models: an input linear map that takes sparse
features, and a plain MLP stack.

Bag-of-words node features are 1–5 % dense; every model's first linear map accepts them as
sparse CSR, where dropout touches only the non-zeros (10–100× cheaper than dense dropout)
and the backward pass uses a cached CSR Xᵀ (:func:`graff.nn.sparse.sparse_dropout_linear`).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graff.nn.checks import check_features, check_probs
from graff.nn.functional import dropout
from graff.nn.sparse import sparse_dropout_linear

__all__ = ["MLP", "InputDropoutLinear", "dropout_linear", "param_dtype"]


def dropout_linear(
    x: Tensor, weight: Tensor, bias: Tensor | None, p: float, training: bool
) -> Tensor:
    """``dropout(x) Wᵀ + b`` for dense or sparse CSR ``x``."""
    check_features(x, weight)
    if x.layout == torch.sparse_csr:
        return sparse_dropout_linear(x, weight, bias, p, training)
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
        check_probs(dropout=dropout)
        self.lin = lin
        self.dropout = dropout

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()  # type: ignore[operator]

    def forward(self, x: Tensor) -> Tensor:
        weight: Tensor = self.lin.weight  # type: ignore[assignment]
        bias: Tensor | None = self.lin.bias  # type: ignore[assignment]
        return dropout_linear(x, weight, bias, self.dropout, self.training)

    def extra_repr(self) -> str:
        return f"dropout={self.dropout}"


class MLP(nn.Module):
    """Linear layers with ReLU and dropout between them; the first takes sparse input.

    Args:
        in_channels, hidden_channels, out_channels (int): widths.
        num_layers (int): linear layers (≥ 1).
        input_dropout (float): dropout on the input. dropout (float): after each hidden ReLU.
    """

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


def param_dtype(module: nn.Module) -> torch.dtype:
    """The floating dtype of a module's parameters (what its graph operators are built in)."""
    return next(module.parameters()).dtype

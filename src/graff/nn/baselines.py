"""Baselines that share GRAFF's ``forward(x, edge_index, edge_weight)`` signature."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import MLP as PygMLP

__all__ = ["MLPClassifier"]


class MLPClassifier(nn.Module):
    """A graph-agnostic MLP (PyG's :class:`~torch_geometric.nn.MLP`) with input dropout.

    It ignores the graph: the reference point that tells whether a GNN uses the edges at all.
    """

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
        if num_layers < 1:
            raise ValueError(f"num_layers must be ≥ 1, got {num_layers}")
        self.input_dropout = input_dropout
        self.mlp = PygMLP(
            in_channels=in_channels,
            hidden_channels=hidden_channels,
            out_channels=out_channels,
            num_layers=num_layers,
            dropout=dropout,
            norm=None,
        )

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def forward(
        self, x: Tensor, edge_index: Tensor | None = None, edge_weight: Tensor | None = None
    ) -> Tensor:
        return self.mlp(F.dropout(x, self.input_dropout, self.training))

"""The graph-agnostic MLP baseline."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from graff.nn.checks import CheckedModule, check_probs, check_sizes
from graff.nn.linear import MLP

__all__ = ["MLPClassifier"]


class MLPClassifier(CheckedModule, nn.Module):
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
        check_sizes(
            in_channels=in_channels, hidden_channels=hidden_channels, out_channels=out_channels
        )
        check_probs(input_dropout=input_dropout, dropout=dropout)
        self.mlp = MLP(
            in_channels, hidden_channels, out_channels, num_layers, input_dropout, dropout
        )

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def energy_layers(self) -> list[tuple[str, nn.Module]]:
        """Its linear layers in the order they run, for :func:`graff.energy.model_layers`
        (the first is held apart from the list of the others)."""
        lins = [(f"mlp.lins.{i}", lin) for i, lin in enumerate(self.mlp.lins)]
        return [("mlp.input", self.mlp.input), *lins]

    def forward(
        self, x: Tensor, edge_index: Any = None, edge_weight: Tensor | None = None
    ) -> Tensor:
        return self.mlp(x)

"""Polynomial (PageRank-type) filters on Ā: APPNP and GPR-GNN."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import APPNP as PygAPPNP

from graff.nn.adjacency import gcn_adjacency
from graff.nn.checks import (
    CheckedModule,
    check_callback,
    check_flags,
    check_probs,
    check_sizes,
    check_unit_interval,
)
from graff.nn.functional import dropout
from graff.nn.graff import StepCallback
from graff.nn.linear import MLP, param_dtype
from graff.nn.models.gcn import propagation_args
from graff.nn.sparse import spmm

__all__ = ["GPRGNN", "GPR_INITS", "APPNPNet"]


class _CSRAPPNP(PygAPPNP):
    def message_and_aggregate(self, adj_t: Tensor, x: Tensor) -> Tensor:
        return spmm(adj_t, x)


def _check_propagation(K: int, alpha: float) -> None:
    if K < 0:
        raise ValueError(f"K must be ≥ 0, got {K}")
    check_unit_interval(alpha=alpha)


class APPNPNet(CheckedModule, nn.Module):
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
        check_sizes(
            in_channels=in_channels, hidden_channels=hidden_channels, out_channels=out_channels
        )
        check_probs(input_dropout=input_dropout, dropout=dropout)
        check_flags(self_loops=self_loops)
        _check_propagation(K, alpha)
        self.mlp = MLP(
            in_channels, hidden_channels, out_channels, num_layers, input_dropout, dropout
        )
        self.prop = _CSRAPPNP(K, alpha, normalize=False)
        self.self_loops = self_loops

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def forward(
        self,
        x: Tensor,
        edge_index: Any,
        edge_weight: Tensor | None = None,
        *,
        callback: StepCallback | None = None,
    ) -> Tensor:
        """Class logits [n, k]. ``callback(k, t, Z)`` (as GRAFF's, t = k) sees Z⁽ᵏ⁾ after each
        propagation step, k = 0 being H = f(X): e.g. a :class:`graff.energy.EnergyTrajectory`.
        """
        if callback is None:
            graph = propagation_args(self, edge_index, x.size(0), edge_weight, self.self_loops)
            return self.prop(self.mlp(x), *graph)
        check_callback(callback)  # the same steps as PyG's APPNP, written out to be seen
        adj = gcn_adjacency(
            edge_index, x.size(0), edge_weight, self_loops=self.self_loops, dtype=param_dtype(self)
        )
        h = z = self.mlp(x)
        callback(0, 0.0, z)
        alpha = self.prop.alpha
        for k in range(1, self.prop.K + 1):
            z = spmm(adj, z) * (1 - alpha) + alpha * h
            callback(k, float(k), z)
        return z


GPR_INITS = ("ppr", "delta", "uniform")


class GPRGNN(CheckedModule, nn.Module):
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
        check_sizes(
            in_channels=in_channels, hidden_channels=hidden_channels, out_channels=out_channels
        )
        check_probs(input_dropout=input_dropout, dropout=dropout, dprate=dprate)
        check_flags(self_loops=self_loops)
        _check_propagation(K, alpha)
        if init not in GPR_INITS:
            raise ValueError(f"init must be one of {', '.join(GPR_INITS)}, got {init!r}")
        if gamma is not None and (len(gamma) != K + 1 or not all(math.isfinite(g) for g in gamma)):
            raise ValueError(f"gamma must list K+1 = {K + 1} finite numbers, got {gamma}")
        self.K, self.alpha, self.init = K, alpha, init
        self.gamma_init = None if gamma is None else [float(g) for g in gamma]
        self.mlp = MLP(
            in_channels, hidden_channels, out_channels, num_layers, input_dropout, dropout
        )
        self.gamma = nn.Parameter(torch.empty(K + 1))
        self.dprate = dprate
        self.self_loops = self_loops
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

    def forward(
        self,
        x: Tensor,
        edge_index: Any,
        edge_weight: Tensor | None = None,
        *,
        callback: StepCallback | None = None,
    ) -> Tensor:
        """Class logits [n, k]. ``callback(k, t, Z)`` (as GRAFF's, t = k) sees the partial sum
        Σ_{j ≤ k} γ_j Āʲ H after each hop (k = K: the logits)."""
        check_callback(callback)
        adj = gcn_adjacency(
            edge_index, x.size(0), edge_weight, self_loops=self.self_loops, dtype=param_dtype(self)
        )
        h = dropout(self.mlp(x), self.dprate, self.training)
        out = h * self.gamma[0]
        if callback is not None:
            callback(0, 0.0, out)
        for k in range(1, self.K + 1):
            h = spmm(adj, h)
            out = out + self.gamma[k] * h
            if callback is not None:
                callback(k, float(k), out)
        return out

    def extra_repr(self) -> str:
        return f"K={self.K}, init={self.init!r}, alpha={self.alpha}, dprate={self.dprate}"

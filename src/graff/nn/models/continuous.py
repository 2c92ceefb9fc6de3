r"""Continuous-depth baselines of the GRAFF paper, integrated with torchdiffeq.

Each model encodes F(0) = dropout(X) W_in, integrates an ODE Ḟ = f(F) over [0, T] with
:func:`torchdiffeq.odeint` and decodes Y = dropout(ReLU(F(T))) W_out (the GRAND recipe).
The paper (Section 4, "comparison with continuous models") writes them as:

* linear GRAND: :math:`\dot{F} = -(I - \mathcal{A}(F(0)))F` (:class:`GRANDLinear`),
* CGNN: :math:`\dot{F} = -\Delta F + F\tilde{\Omega} + F(0)` (:class:`CGNN`),
* linear PDE-GCN_D: :math:`\dot{F} = -\Delta F K^\top K` (:class:`PDEGCND`),

with Δ = I − Ā, Ā = D̃^{-1/2}(A+I)D̃^{-1/2}. None of them can be high-frequency dominated
(the paper's proposition), unlike GRAFF.

Solvers: ``method="euler"`` (default) with step ``step_size`` τ — a non-integer T/τ ends with
a shorter step, as GRAFF's :func:`~graff.nn.euler_steps` — or any fixed-grid solver
in :data:`FIXED_GRID_METHODS`; adaptive solvers (:data:`ADAPTIVE_METHODS`, e.g. ``"dopri5"``)
use ``rtol``/``atol`` and ignore τ.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torchdiffeq import odeint

from graff.nn.adjacency import edge_structure, gcn_adjacency, graph_cached
from graff.nn.checks import (
    CheckedModule,
    check_callback,
    check_flags,
    check_positive,
    check_probs,
    check_sizes,
)
from graff.nn.functional import dropout
from graff.nn.graff import StepCallback, euler_steps
from graff.nn.linear import InputDropoutLinear
from graff.nn.sparse import (
    EdgeStructure,
    edge_head_dot,
    edge_softmax,
    edge_values_mm,
    spmm_add,
)

__all__ = [
    "ADAPTIVE_METHODS",
    "CGNN",
    "FIXED_GRID_METHODS",
    "ODE_METHODS",
    "PDEGCND",
    "GRANDLinear",
]

#: torchdiffeq solvers on a fixed grid of step τ.
FIXED_GRID_METHODS = ("euler", "midpoint", "heun2", "heun3", "rk4", "explicit_adams")
#: torchdiffeq solvers with adaptive steps (tolerances ``rtol``/``atol``).
ADAPTIVE_METHODS = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")
ODE_METHODS = FIXED_GRID_METHODS + ADAPTIVE_METHODS

VectorField = Callable[[Tensor, Tensor], Tensor]


class _ContinuousClassifier(CheckedModule, nn.Module):
    """Encoder → ODE on [0, T] → ReLU, dropout, decoder. Subclasses define the vector field."""

    accepts_sparse_features = True

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        T: float,
        step_size: float,
        method: str,
        rtol: float,
        atol: float,
        max_num_steps: int,
        input_dropout: float,
        dropout: float,
    ) -> None:
        super().__init__()
        check_sizes(
            in_channels=in_channels,
            hidden_channels=hidden_channels,
            out_channels=out_channels,
            max_num_steps=max_num_steps,
        )
        if not (math.isfinite(T) and T > 0):
            raise ValueError(f"integration time T must be a positive number, got {T}")
        check_positive(step_size=step_size)
        if method not in ODE_METHODS:
            raise ValueError(
                f"unknown ODE method {method!r}; choose a fixed-grid solver "
                f"({', '.join(FIXED_GRID_METHODS)}) or an adaptive one "
                f"({', '.join(ADAPTIVE_METHODS)})"
            )
        check_positive(rtol=rtol, atol=atol)
        check_probs(input_dropout=input_dropout, dropout=dropout)
        self.T, self.step_size, self.method = float(T), float(step_size), method
        self.rtol, self.atol, self.max_num_steps = float(rtol), float(atol), max_num_steps
        self.dropout = dropout
        self.encoder = InputDropoutLinear(nn.Linear(in_channels, hidden_channels), input_dropout)
        self.decoder = nn.Linear(hidden_channels, out_channels)

    def reset_parameters(self) -> None:
        self.encoder.reset_parameters()
        self.decoder.reset_parameters()

    def _adjacency(self, edge_index: Any, n: int, edge_weight: Tensor | None) -> Tensor:
        return gcn_adjacency(edge_index, n, edge_weight, dtype=self.decoder.weight.dtype)

    def vector_field(self, f0: Tensor, edge_index: Any, edge_weight: Tensor | None) -> VectorField:
        """The right-hand side ``(t, F) ↦ Ḟ`` for this F(0) and graph."""
        raise NotImplementedError

    def integrate(
        self, func: VectorField, f0: Tensor, callback: StepCallback | None = None
    ) -> Tensor:
        """F(T) from F(0) with the configured solver. ``callback(k, t, F)``, as GRAFF's,
        sees F at t = kτ (k = 0: F(0); a shorter last step ends at T), read from the same
        solve: a fixed-grid solver's own grid points, an adaptive one's dense output (its
        steps do not depend on the times asked for), so F(T) is the same with or without."""
        check_callback(callback)
        if callback is None:
            t = torch.tensor([0.0, self.T], dtype=f0.dtype, device=f0.device)
        else:  # the grid torchdiffeq lays out for a fixed step: kτ, the last point T
            n = len(euler_steps(self.T, self.step_size))
            t = torch.arange(n + 1, dtype=f0.dtype, device=f0.device) * self.step_size
            t[-1] = self.T
        options: dict[str, Any]
        if self.method in FIXED_GRID_METHODS:
            options = {"step_size": self.step_size}
        else:
            options = {"max_num_steps": self.max_num_steps}
        out = odeint(
            func, f0, t, method=self.method, rtol=self.rtol, atol=self.atol, options=options
        )
        if callback is not None:
            for k, (time, f) in enumerate(zip(t.tolist(), out, strict=True)):
                callback(k, time, f)
        return out[-1]

    def forward(
        self,
        x: Tensor,
        edge_index: Any,
        edge_weight: Tensor | None = None,
        *,
        callback: StepCallback | None = None,
    ) -> Tensor:
        """Class logits [n, k]; ``callback(k, t, F)`` sees F(kτ) (:meth:`integrate`), e.g. a
        :class:`graff.energy.EnergyTrajectory`."""
        f0 = self.encoder(x)
        f = self.integrate(self.vector_field(f0, edge_index, edge_weight), f0, callback)
        return self.decoder(dropout(torch.relu(f), self.dropout, self.training))

    def extra_repr(self) -> str:
        return f"T={self.T}, step_size={self.step_size}, method={self.method!r}"


class GRANDLinear(_ContinuousClassifier):
    r"""Linear GRAND of `Chamberlain et al. (2021) <https://arxiv.org/abs/2106.10934>`_.

    .. math::
        \dot{\mathbf{F}}(t) = \big(\mathcal{A}(\mathbf{F}(0)) - \mathbf{I}\big)\mathbf{F}(t)

    :math:`\mathcal{A}` is GRAND's scaled dot-product attention on the edges (self-loops
    included), computed once from F(0) and averaged over ``heads``:
    :math:`a_{ij} = \frac{1}{H}\sum_h \mathrm{softmax}_j\big(\langle W_K^h f_i, W_Q^h f_j
    \rangle / d_k\big)`, so each row sums to one. With ``attention=False`` it is the fixed
    Ā instead (Ḟ = −ΔF, the heat equation).

    Args:
        in_channels, hidden_channels, out_channels (int): widths.
        T (float): integration time. step_size (float): τ of fixed-grid solvers.
        method (str): torchdiffeq solver (default ``"euler"``).
        rtol, atol (float): tolerances of adaptive solvers. max_num_steps (int): their cap.
        attention (bool): attention 𝒜(F(0)) (default) or the fixed Ā.
        heads (int): attention heads. attention_dim (int): key/query width d_k per head.
        input_dropout, dropout (float): dropout on X and before the decoder.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        T: float = 3.0,
        step_size: float = 1.0,
        method: str = "euler",
        rtol: float = 1e-3,
        atol: float = 1e-4,
        max_num_steps: int = 1000,
        attention: bool = True,
        heads: int = 1,
        attention_dim: int = 16,
        input_dropout: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(
            in_channels,
            hidden_channels,
            out_channels,
            T=T,
            step_size=step_size,
            method=method,
            rtol=rtol,
            atol=atol,
            max_num_steps=max_num_steps,
            input_dropout=input_dropout,
            dropout=dropout,
        )
        check_sizes(heads=heads, attention_dim=attention_dim)
        check_flags(attention=attention)
        self.attention, self.heads, self.attention_dim = attention, heads, attention_dim
        self.query = nn.Linear(hidden_channels, heads * attention_dim)
        self.key = nn.Linear(hidden_channels, heads * attention_dim)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.query.reset_parameters()
        self.key.reset_parameters()

    def attention_values(self, f0: Tensor, s: EdgeStructure) -> Tensor:
        """𝒜(F(0)) on the stored entries of ``s`` (CSR order), each row summing to one."""
        h, d = self.heads, self.attention_dim
        q = self.query(f0).view(-1, h, d)
        k = self.key(f0).view(-1, h, d)
        scores = edge_head_dot(k, q, s) / d
        return edge_softmax(scores, s, dim=1).mean(dim=0)

    def vector_field(self, f0: Tensor, edge_index: Any, edge_weight: Tensor | None) -> VectorField:
        n = f0.size(0)
        if not self.attention:
            adj = self._adjacency(edge_index, n, edge_weight)
            return lambda t, f: spmm_add(adj, f, -f)
        if edge_weight is not None:
            raise ValueError("GRAND with attention does not use edge weights")
        s = graph_cached(
            "pattern", edge_index, n, None, torch.int64, lambda: edge_structure(edge_index, n)
        )
        values = self.attention_values(f0, s)
        return lambda t, f: edge_values_mm(values, f, s) - f


class CGNN(_ContinuousClassifier):
    r"""CGNN of `Xhonneux et al. (2020) <https://arxiv.org/abs/1912.00967>`_, as the paper
    writes it:

    .. math::
        \dot{\mathbf{F}}(t) = -\Delta\mathbf{F}(t) + \mathbf{F}(t)\tilde{\boldsymbol{\Omega}}
        + \mathbf{F}(0),\qquad \tilde{\boldsymbol{\Omega}} = \mathbf{W} - \mathbf{I},\quad
        \mathbf{W} = U\,\mathrm{diag}(\min(m, 1))\,U^\top

    CGNN's channel mixing (U initialised at I, m at 1, so Ω̃ starts at 0; the clamp keeps the
    eigenvalues of W at most one for orthogonal U).

    Args: as :class:`GRANDLinear` (no attention arguments).
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        T: float = 3.0,
        step_size: float = 1.0,
        method: str = "euler",
        rtol: float = 1e-3,
        atol: float = 1e-4,
        max_num_steps: int = 1000,
        input_dropout: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(
            in_channels,
            hidden_channels,
            out_channels,
            T=T,
            step_size=step_size,
            method=method,
            rtol=rtol,
            atol=atol,
            max_num_steps=max_num_steps,
            input_dropout=input_dropout,
            dropout=dropout,
        )
        self.u = nn.Parameter(torch.empty(hidden_channels, hidden_channels))
        self.m = nn.Parameter(torch.empty(hidden_channels))
        self._reset_mixing()

    def _reset_mixing(self) -> None:
        with torch.no_grad():
            self.u.copy_(torch.eye(self.u.size(0)))
            self.m.fill_(1.0)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self._reset_mixing()

    def omega(self) -> Tensor:
        """Ω̃ = U diag(min(m, 1)) Uᵀ − I (differentiable), [d, d]."""
        w = (self.u * self.m.clamp(max=1.0)) @ self.u.t()
        return w - torch.eye(w.size(0), dtype=w.dtype, device=w.device)

    def vector_field(self, f0: Tensor, edge_index: Any, edge_weight: Tensor | None) -> VectorField:
        adj = self._adjacency(edge_index, f0.size(0), edge_weight)
        omega = self.omega()
        # −ΔF + FΩ̃ + F(0) = ĀF − F + FΩ̃ + F(0)
        return lambda t, f: spmm_add(adj, f, f @ omega - f + f0)


class PDEGCND(_ContinuousClassifier):
    r"""Linear PDE-GCN_D (diffusion) of `Eliasof et al. (2021) <https://arxiv.org/abs/2108.01938>`_.

    .. math::
        \dot{\mathbf{F}}(t) = -\Delta\mathbf{F}(t)\mathbf{K}^\top\mathbf{K}

    (G^⊤G = Δ: the graph gradient and divergence of PDE-GCN, without its nonlinearity), a
    generalised harmonic flow; K is shared over time and initialised at I (heat equation).

    Args: as :class:`GRANDLinear` (no attention arguments).
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        T: float = 3.0,
        step_size: float = 1.0,
        method: str = "euler",
        rtol: float = 1e-3,
        atol: float = 1e-4,
        max_num_steps: int = 1000,
        input_dropout: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(
            in_channels,
            hidden_channels,
            out_channels,
            T=T,
            step_size=step_size,
            method=method,
            rtol=rtol,
            atol=atol,
            max_num_steps=max_num_steps,
            input_dropout=input_dropout,
            dropout=dropout,
        )
        self.k = nn.Parameter(torch.empty(hidden_channels, hidden_channels))
        self._reset_k()

    def _reset_k(self) -> None:
        with torch.no_grad():
            self.k.copy_(torch.eye(self.k.size(0)))

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self._reset_k()

    def vector_field(self, f0: Tensor, edge_index: Any, edge_weight: Tensor | None) -> VectorField:
        adj = self._adjacency(edge_index, f0.size(0), edge_weight)
        kk = self.k.t() @ self.k

        def field(t: Tensor, f: Tensor) -> Tensor:
            g = f @ kk
            return spmm_add(adj, g, -g)  # −(I − Ā)F KᵀK

        return field

"""Dirichlet energy, its normalised and W-weighted forms, and GRAFF's total energy.

Di Giovanni et al. (2022), §2–§3: E^Dir(F) = ¼ Σ_{(i,j)∈E} ‖f_i/√d_i − f_j/√d_j‖² = ½ tr(Fᵀ Δ F),
E^Dir_W(F) = ¼ Σ_{(i,j)∈E} ‖W(∇F)_ij‖², and the total energy
E^tot(F) = ½ Σ_i ⟨f_i, Ω f_i⟩ − ½ Σ_ij ā_ij ⟨f_i, W f_j⟩ (− β⟨F, F(0)⟩ with a source).
Sums over E run over *both* directions of each undirected edge, as ``edge_index`` stores them.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch_geometric.utils import add_remaining_self_loops, degree

from graff.energy._graph import (
    adj_matmul,
    check_edge_index,
    check_num_nodes,
    resolve_adjacency,
)
from graff.nn.checks import check_flags, is_real

__all__ = [
    "TotalEnergy",
    "dirichlet_energy",
    "dirichlet_energy_W",
    "normalized_dirichlet_energy",
    "total_energy",
]


def as_features(F: Tensor, name: str = "F") -> Tensor:
    """Check node features: [n, d] (a 1-D [n] signal is read as one channel)."""
    if not isinstance(F, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(F).__name__}")
    if F.dim() == 1:
        F = F.unsqueeze(-1)
    if F.dim() != 2:
        raise ValueError(
            f"{name} must be a node-feature matrix [n, d] (or a signal [n]), got {tuple(F.shape)}"
        )
    if not F.dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating tensor, got dtype {F.dtype}")
    finite = torch.isfinite(F.detach())
    if not bool(finite.all()):
        rows = (~finite).any(dim=1)
        raise ValueError(
            f"{name} has {int((~finite).sum())} NaN or infinite entries in {int(rows.sum())} of "
            f"its {F.size(0)} rows (first: row {int(rows.nonzero()[0])}; a diverged model, or "
            "missing features?): its energies are undefined"
        )
    return F


def check_channel_matrix(M: Tensor, d: int | None, name: str, *, square: bool = True) -> Tensor:
    """Check a channel-mixing matrix: square [d, d] (or [k, d] unless ``square``), real
    floating, finite."""
    if not isinstance(M, Tensor):
        hint = (
            f"; for a model pass its matrix, e.g. model.{name}"
            if isinstance(getattr(M, name, None), Tensor)
            else ""
        )
        raise ValueError(f"{name} must be a torch.Tensor, got {type(M).__name__}{hint}")
    if not square:
        if M.dim() != 2 or (d is not None and M.size(1) != d):
            raise ValueError(
                f"{name} must be a [k, d] matrix, d={d} (the features' channels); "
                f"got {tuple(M.shape)}"
            )
    elif M.dim() != 2 or M.size(0) != M.size(1):
        raise ValueError(
            f"{name} must be a square [d, d] matrix, got {tuple(M.shape)}"
            + ("; pass one step's matrix of a time-dependent model" if M.dim() == 3 else "")
        )
    if square and d is not None and M.size(0) != d:
        raise ValueError(f"{name} is {tuple(M.shape)} but the features have d={d} channels")
    if not M.dtype.is_floating_point:
        raise ValueError(f"{name} must be a real floating tensor, got dtype {M.dtype}")
    if not bool(torch.isfinite(M.detach()).all()):
        raise ValueError(
            f"{name} has NaN or infinite entries (a diverged model?); its spectrum and energies "
            "are undefined"
        )
    return M


def _rows(F: Tensor, num_nodes: int | None) -> int:
    """Number of nodes n = rows of F, checked against ``num_nodes`` when given."""
    n = F.size(0)
    if num_nodes is not None and check_num_nodes(num_nodes) != n:
        raise ValueError(f"F has {n} rows but num_nodes={num_nodes}")
    return n


def _graph(
    F: Tensor,
    edge_index: Tensor | None,
    num_nodes: int | None,
    self_loops: bool,
    adj: Tensor | None,
) -> Tensor:
    n = _rows(F, num_nodes)
    a = resolve_adjacency(
        edge_index,
        n,
        self_loops=self_loops,
        adj=adj,
        dtype=F.dtype,
        device=F.device,
        counted_by="the rows of F",
    )
    return a


def dirichlet_energy(
    F: Tensor,
    edge_index: Tensor | None = None,
    num_nodes: int | None = None,
    self_loops: bool = False,
    *,
    adj: Tensor | None = None,
) -> Tensor:
    r"""Graph Dirichlet energy E^Dir(F) = ½ tr(Fᵀ Δ F) (Di Giovanni et al. 2022, §2).

    .. math::
        \mathcal{E}^{Dir}(\mathbf{F}) = \frac14 \sum_{(i,j)\in\mathsf{E}}
        \Big\|\frac{\mathbf{f}_i}{\sqrt{d_i}} - \frac{\mathbf{f}_j}{\sqrt{d_j}}\Big\|^2
        = \frac12\operatorname{tr}(\mathbf{F}^\top\Delta\mathbf{F}),
        \qquad \Delta = \mathbf{I}-\bar{\mathbf{A}}

    (the edge sum over both directions). With ``self_loops=True`` the degrees are those of
    A + I. An isolated node i contributes ½‖f_i‖² (Δ_ii = 1), not 0 as in the edge sum.
    Given ``edge_index`` it is computed from the edge differences, accurate to relative
    precision even when E^Dir ≪ ‖F‖² (nearly constant signals, LFD limits); given ``adj``
    it is ½(‖F‖² − ⟨F, ĀF⟩), whose absolute error is ~eps·‖F‖².

    Args:
        F: node features [n, d] (or a signal [n]).
        edge_index: undirected edges [2, E], both directions present.
        num_nodes: n (defaults to ``F.size(0)``).
        self_loops: Ā with self-loops (GRAFF's operator) instead of the paper's loop-free Ā.
        adj: a precomputed Ā (dense, COO or CSR) instead of ``edge_index``.

    Returns:
        A differentiable scalar tensor in F's dtype.

    Example:
        >>> import torch
        >>> from graff.energy import dirichlet_energy
        >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])  # the path 0 - 1 - 2
        >>> smooth = torch.tensor([[1.0], [2.0], [1.0]], dtype=torch.float64).sqrt()  # D^½1
        >>> dirichlet_energy(smooth, edge_index)  # Δ's null vector
        tensor(0., dtype=torch.float64)
        >>> dirichlet_energy(torch.tensor([[1.0], [-1.0], [1.0]], dtype=torch.float64), edge_index)
        tensor(2.9142, dtype=torch.float64)
    """
    F = as_features(F)
    check_flags(self_loops=self_loops)
    if adj is None and edge_index is not None:
        check_edge_index(edge_index, _rows(F, num_nodes), "the rows of F")
        return _edge_dirichlet(F, edge_index.to(F.device), self_loops)
    a = _graph(F, edge_index, num_nodes, self_loops, adj)
    return 0.5 * (F.pow(2).sum() - (F * adj_matmul(a, F)).sum())


def _edge_dirichlet(F: Tensor, edge_index: Tensor, self_loops: bool) -> Tensor:
    """¼ Σ_{(i,j)} ‖f_i/√d_i − f_j/√d_j‖² + ½ Σ_{d_i = 0} ‖f_i‖², the same number as
    ½ tr(FᵀΔF) for Δ = I − Ā built by :func:`graff.nn.adjacency.normalized_adjacency`
    (degrees counted over ``col`` as PyG's ``gcn_norm`` does), but computed from differences:
    its relative error stays ~eps when E^Dir ≪ ‖F‖² (F near ker Δ), where the trace form
    ½(‖F‖² − ⟨F, ĀF⟩) loses everything below eps·‖F‖².
    """
    n = F.size(0)
    if self_loops:
        edge_index, _ = add_remaining_self_loops(edge_index, num_nodes=n)
    row, col = edge_index[0], edge_index[1]
    deg = degree(col, n, dtype=F.dtype)
    inv_sqrt = torch.where(deg > 0, deg.clamp(min=1).rsqrt(), torch.zeros_like(deg))
    g = F * inv_sqrt.unsqueeze(-1)
    edge_part = 0.25 * (g[row] - g[col]).pow(2).sum()
    isolated = deg == 0
    if bool(isolated.any()):
        return edge_part + 0.5 * F[isolated].pow(2).sum()
    return edge_part


def normalized_dirichlet_energy(
    F: Tensor,
    edge_index: Tensor | None = None,
    num_nodes: int | None = None,
    self_loops: bool = False,
    *,
    adj: Tensor | None = None,
) -> Tensor:
    r"""E^Dir(F/‖F‖_F), the Rayleigh quotient ½ tr(FᵀΔF)/‖F‖²  ∈ [0, ρ_Δ/2].

    LFD dynamics send it to 0, HFD dynamics to ρ_Δ/2 (Di Giovanni et al. 2022, definition
    of LFD/HFD).
    Same arguments as :func:`dirichlet_energy`; raises ``ValueError`` for F = 0.
    """
    F = as_features(F)
    sq = F.pow(2).sum()
    if float(sq.detach()) == 0.0:
        raise ValueError("the normalised Dirichlet energy of F = 0 is undefined (‖F‖ = 0)")
    return dirichlet_energy(F, edge_index, num_nodes, self_loops, adj=adj) / sq


def dirichlet_energy_W(
    F: Tensor,
    W: Tensor,
    edge_index: Tensor | None = None,
    num_nodes: int | None = None,
    self_loops: bool = False,
    *,
    adj: Tensor | None = None,
) -> Tensor:
    r"""Generalised Dirichlet energy E^Dir_W(F), smoothness in the metric H = WᵀW.

    .. math::
        \mathcal{E}^{Dir}_{\mathbf{W}}(\mathbf{F}) = \frac14\sum_{(i,j)\in\mathsf{E}}
        \|\mathbf{W}(\nabla\mathbf{F})_{ij}\|^2
        = \frac12\sum_i\langle\mathbf{f}_i,\mathbf{W}^\top\mathbf{W}\mathbf{f}_i\rangle
        - \frac12\sum_{i,j}\bar a_{ij}
          \langle\mathbf{f}_i,\mathbf{W}^\top\mathbf{W}\mathbf{f}_j\rangle
        = \frac12\langle\Delta\mathbf{F},\,\mathbf{F}\mathbf{W}^\top\mathbf{W}\rangle

    with (∇F)_ij = f_j/√d_j − f_i/√d_i (Di Giovanni et al. 2022, §3, generalised harmonic
    energy). Equivalently E^Dir_W(F) = E^Dir(F Wᵀ) (rows of F are the f_i, so W f_i is the
    i-th row of F Wᵀ). Its gradient flow is Ḟ = −Δ F WᵀW. W may be any [k, d] matrix (a map
    ℝ^d → ℝ^k, e.g. Θ₊ or Θ₋ of :func:`attraction_repulsion`).
    """
    F = as_features(F)
    W = check_channel_matrix(W, F.size(1), "W", square=False)
    return dirichlet_energy(F @ W.to(F.dtype).t(), edge_index, num_nodes, self_loops, adj=adj)


class TotalEnergy(NamedTuple):
    """The parts of GRAFF's energy E^tot (scalar tensors, differentiable in F)."""

    external: Tensor
    """E^ext_Ω = ½ Σ_i ⟨f_i, Ω f_i⟩ (independent of the graph)."""
    pairwise: Tensor
    """E^pair_W = −½ Σ_ij ā_ij ⟨f_i, W f_j⟩ (W > 0 attracts adjacent nodes, W < 0 repels)."""
    source: Tensor
    """−β ⟨F, F(0)⟩ (0 without a source)."""
    total: Tensor
    """external + pairwise + source."""


def total_energy(
    F: Tensor,
    W: Tensor,
    Omega: Tensor,
    beta: float | Tensor = 0.0,
    F0: Tensor | None = None,
    *,
    edge_index: Tensor | None = None,
    num_nodes: int | None = None,
    self_loops: bool = False,
    adj: Tensor | None = None,
) -> TotalEnergy:
    r"""GRAFF's total energy E^tot(F) (Di Giovanni et al. 2022, §4, plus the source term).

    .. math::
        \mathcal{E}^{tot}(\mathbf{F})
        = \frac12\sum_i\langle\mathbf{f}_i,\boldsymbol{\Omega}\mathbf{f}_i\rangle
        - \frac12\sum_{i,j}\bar a_{ij}\langle\mathbf{f}_i,\mathbf{W}\mathbf{f}_j\rangle
        - \beta\langle\mathbf{F},\mathbf{F}(0)\rangle

    For symmetric W and Ω its negative gradient is GRAFF's vector field
    −∇_F E^tot = −FΩ + ĀFW + βF(0), the increment of :class:`graff.nn.GRAFF`'s Euler step.
    Pass the graph as ``edge_index`` (+ ``num_nodes``) or as a precomputed ``adj`` — e.g.
    ``model.conv.adjacency(edge_index, n)``, which has self-loops, to evaluate the energy a
    trained GRAFF model descends.

    Args:
        F: node features [n, d].
        W: symmetric channel mixing [d, d].
        Omega: symmetric external-field matrix Ω [d, d].
        beta: source strength β.
        F0: the source F(0) [n, d]; required when β ≠ 0.
        edge_index, num_nodes, self_loops, adj: the graph, as in :func:`dirichlet_energy`.
    """
    F = as_features(F)
    d = F.size(1)
    W = check_channel_matrix(W, d, "W").to(F.dtype)
    Omega = check_channel_matrix(Omega, d, "Omega").to(F.dtype)
    a = _graph(F, edge_index, num_nodes, self_loops, adj)
    external = 0.5 * (F * (F @ Omega.t())).sum()
    pairwise = -0.5 * (F * (adj_matmul(a, F) @ W.t())).sum()
    if not is_real(beta):
        raise TypeError(
            f"beta must be a number (a model's: model.beta), got {beta!r:.60} "
            f"({type(beta).__name__})"
        )
    beta_t = (
        beta.reshape(()).to(device=F.device, dtype=F.dtype)
        if isinstance(beta, Tensor)
        else torch.as_tensor(float(beta), dtype=F.dtype, device=F.device)
    )
    if F0 is None:
        if bool(beta_t != 0):
            raise ValueError("β ≠ 0 needs the source F0 = F(0)")
        source = torch.zeros((), dtype=F.dtype, device=F.device)
    else:
        F0 = as_features(F0, "F0")
        if F0.shape != F.shape:
            raise ValueError(f"F0 must have F's shape {tuple(F.shape)}, got {tuple(F0.shape)}")
        source = -beta_t * (F * F0.to(F.dtype)).sum()
    return TotalEnergy(external, pairwise, source, external + pairwise + source)

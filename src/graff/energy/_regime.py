"""Low- vs high-frequency dominated dynamics (LFD / HFD): predicted from the spectra of W
and Δ, and measured from the normalised Dirichlet energy along a trajectory.

Di Giovanni et al. (2022), definition of LFD/HFD: a dynamics is LFD if
E^Dir(F(t)/‖F(t)‖) → 0 and HFD if it → ρ_Δ/2. For the linear flows Ḟ = ĀFW (continuous),
F ← F + τĀFW (residual Euler) and F ← τĀFW (no residual), every eigenpair
(λ^W_r, λ^Δ_k) of W ⊗ Ā evolves independently
with growth rate λ^W_r (1 − λ^Δ_k), resp. multiplier 1 + τλ^W_r(1 − λ^Δ_k), resp.
τλ^W_r(1 − λ^Δ_k). Being affine in λ^W and in λ^Δ, the dominant one is attained at a corner
λ^W ∈ {λ_min, λ_max}, λ^Δ ∈ {0, ρ_Δ}: the frequency of the winning corner decides the regime.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from graff.energy._channel import w_spectrum
from graff.energy._dirichlet import as_features, dirichlet_energy
from graff.energy._graph import (
    check_edge_index,
    check_edge_list,
    check_num_nodes,
    resolve_adjacency,
)
from graff.nn.checks import check_flags, check_sizes, is_real

__all__ = [
    "EnergyTrajectory",
    "RegimeMeasurement",
    "RegimePrediction",
    "measured_regime",
    "predicted_regime",
]

Regime = Literal["LFD", "HFD", "undetermined"]


@dataclass(frozen=True)
class RegimePrediction:
    """The regime the spectra predict, with the numbers behind it."""

    regime: Regime
    lambda_plus: float
    """λ₊^W = (max eig W)₊."""
    lambda_minus: float
    """|λ₋^W| = (−min eig W)₊ (a magnitude)."""
    rho: float
    """ρ_Δ."""
    tau: float | None
    """Euler step τ, or ``None`` for the continuous flow."""
    residual: bool
    low_rate: float
    """Dominant growth rate (continuous) or |multiplier| (discrete) at frequency λ^Δ = 0."""
    high_rate: float
    """The same at the highest frequency λ^Δ = ρ_Δ."""
    condition: str
    """The statement applied, in words."""
    condition_holds: bool
    """Whether that statement's hypothesis holds (continuous: |λ₋|(ρ_Δ−1) > λ₊; discrete
    residual: eq. 1; non-residual: ρ_Δ < 2)."""


def _check_rho(rho: float) -> None:
    """ρ_Δ, the spectral radius of the normalised Laplacian: a number in [0, 2]."""
    if not is_real(rho):
        shape = f" of shape {tuple(rho.shape)}" if isinstance(rho, Tensor | np.ndarray) else ""
        raise ValueError(
            f"ρ_Δ (rho) must be a number, got {type(rho).__name__}{shape}; compute it with "
            "graff.energy.spectral_radius(edge_index, num_nodes)"
        )
    if not (math.isfinite(rho) and 0.0 <= rho <= 2.0 + 1e-9):
        raise ValueError(f"ρ_Δ must lie in [0, 2], got {rho}")


def predicted_regime(
    W: Tensor, rho: float, tau: float | None = None, *, residual: bool = True
) -> RegimePrediction:
    r"""Predict LFD/HFD of the linear GRAFF flow from the spectra of W and Δ.

    * Continuous Ḟ = ĀFW (``tau=None``; Di Giovanni et al. 2022, proposition on Ḟ = ĀFW):
      |λ₋|(ρ_Δ − 1) > λ₊ ⇒ HFD; λ₊ > |λ₋|(ρ_Δ − 1) ⇒ LFD; equality ⇒ undetermined.
    * Residual Euler F ← F + τĀFW (the theorem under eq. (1)):
      λ₊(ρ_Δ − 1)^{-1} < |λ₋| < 2(τ(2 − ρ_Δ))^{-1} ⇒ HFD. LFD when a frequency-0 multiplier,
      1 + τλ₊ or |1 − τ|λ₋||, strictly beats the top-frequency one 1 + τ|λ₋|(ρ_Δ − 1).
    * No residual, F ← τĀFW (``residual=False``; the paper's non-residual statement): LFD
      whenever ρ_Δ < 2 (whatever the spectrum of W), undetermined on a graph with a
      bipartite component (ρ_Δ = 2, the frequencies 0 and 2 have equal multipliers).

    W = 0 (every rate equal) is undetermined. λ₊, |λ₋| follow :func:`w_spectrum`.
    """
    _check_rho(rho)
    if tau is not None and not (is_real(tau) and math.isfinite(tau) and tau > 0):
        raise ValueError(f"the step τ must be a positive number, got {tau}")
    check_flags(residual=residual)
    if not residual and tau is None:
        raise ValueError("residual=False describes the discrete map F ← τĀFW: pass τ")
    spec = w_spectrum(W)
    lmax, lmin = float(spec.eigenvalues[-1]), float(spec.eigenvalues[0])
    lp, lm = spec.lambda_plus, spec.lambda_minus
    # Rates at the corners λ^Δ = 0 (Ā-eigenvalue 1) and λ^Δ = ρ (Ā-eigenvalue 1 − ρ).
    if tau is None:
        low = max(lmax, lmin)
        high = max(lmax * (1 - rho), lmin * (1 - rho))
        condition = "continuous Ḟ = ĀFW: HFD iff |λ₋|(ρ_Δ − 1) > λ₊"
        holds = lm * (rho - 1) > lp
    elif residual:
        low = max(abs(1 + tau * lmax), abs(1 + tau * lmin))
        high = max(abs(1 + tau * lmax * (1 - rho)), abs(1 + tau * lmin * (1 - rho)))
        condition = "residual F ← F + τĀFW, eq. 1: λ₊(ρ_Δ−1)^{-1} < |λ₋| < 2(τ(2−ρ_Δ))^{-1}"
        upper = math.inf if rho >= 2.0 else 2.0 / (tau * (2.0 - rho))
        holds = rho > 1 and lp / (rho - 1) < lm < upper
    else:
        low = tau * max(abs(lmax), abs(lmin))
        high = tau * max(abs(lmax), abs(lmin)) * abs(1 - rho)
        condition = "non-residual F ← τĀFW: LFD iff ρ_Δ < 2"
        holds = rho < 2.0
    scale = max(abs(low), abs(high), 1e-300)
    gap = (high - low) / scale
    regime: Regime = "undetermined" if abs(gap) <= 1e-12 else ("HFD" if gap > 0 else "LFD")
    return RegimePrediction(regime, lp, lm, float(rho), tau, residual, low, high, condition, holds)


@dataclass(frozen=True)
class RegimeMeasurement:
    """The regime read off a trajectory of normalised Dirichlet energies."""

    regime: Regime
    last: float
    """The last normalised energy E^Dir(F/‖F‖)."""
    hfd_limit: float
    """ρ_Δ / 2, the HFD limit."""
    distance_to_lfd: float
    """|last − 0|."""
    distance_to_hfd: float
    """|last − ρ_Δ/2|."""
    trend: float
    """Mean change per step over the last ``window`` steps' finite values (> 0 rising, < 0
    falling; a step where F = 0 records NaN)."""
    tail: tuple[float, ...]
    """The last ``window`` values."""


def measured_regime(
    trajectory_energies: Sequence[float] | Tensor | np.ndarray | EnergyTrajectory,
    rho: float,
    tol: float = 1e-3,
    *,
    window: int = 5,
) -> RegimeMeasurement:
    """Classify a trajectory of normalised energies E^Dir(F(t)/‖F(t)‖) (definition of LFD/HFD).

    ``"LFD"`` if the last value is within ``tol`` of 0, ``"HFD"`` if within ``tol`` of ρ_Δ/2,
    ``"undetermined"`` otherwise (not yet converged, or oscillating, as on bipartite graphs
    without residual). The decision uses the last value; ``trend`` and ``tail`` are evidence
    for the reader (a converged run has a small trend). Accepts an :class:`EnergyTrajectory`.
    """
    values = _energy_values(trajectory_energies)
    if not values:
        raise ValueError("measured_regime needs at least one energy value")
    _check_rho(rho)
    check_sizes(window=window)
    if not (is_real(tol) and tol >= 0):
        raise ValueError(f"tol must be a number ≥ 0, got {tol!r}")
    last = values[-1]
    if not math.isfinite(last):
        zero = isinstance(trajectory_energies, EnergyTrajectory) and (
            trajectory_energies.energies[-1] == 0.0
        )
        raise ValueError(
            f"the last normalised energy is {last}: "
            + (
                "F is zero at the last step, and E^Dir(F/‖F‖) of F = 0 is undefined (a "
                "collapsed model: dead ReLUs, or an output that vanished)"
                if zero
                else "the trajectory diverged or over/underflowed (or F = 0 there, whose "
                "E^Dir(F/‖F‖) is undefined)"
            )
        )
    tail = tuple(values[-(window + 1) :])
    # the trend over the tail's finite values (a step where F = 0 is recorded as NaN)
    finite = [(k, v) for k, v in enumerate(tail) if math.isfinite(v)]
    (k0, v0), (k1, v1) = finite[0], finite[-1]
    trend = (v1 - v0) / (k1 - k0) if k1 > k0 else 0.0
    d_lfd, d_hfd = abs(last), abs(last - rho / 2)
    regime: Regime = "undetermined"
    if d_lfd <= tol and d_lfd < d_hfd:
        regime = "LFD"
    elif d_hfd <= tol:
        regime = "HFD"
    return RegimeMeasurement(regime, last, rho / 2, d_lfd, d_hfd, trend, tail[-window:])


def _energy_values(energies: object) -> list[float]:
    """The energies of a trajectory as floats: an :class:`EnergyTrajectory`'s normalised ones,
    or a 1-D sequence / tensor / array of real numbers."""
    if isinstance(energies, EnergyTrajectory):
        return list(energies.normalized)
    if isinstance(energies, Tensor):
        energies = energies.detach().cpu().numpy()
    what = (
        "measured_regime takes the normalised energies of a trajectory (a 1-D sequence of "
        "numbers) or an EnergyTrajectory recorded as the model's callback"
    )
    try:
        array = np.asarray(energies)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{what}; got {type(energies).__name__}") from err
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{what}; got {type(energies).__name__} of dtype {array.dtype}")
    if array.ndim > 1:
        raise ValueError(f"{what}; got shape {array.shape}")
    return [float(v) for v in array.reshape(-1)]


@dataclass(eq=False)
class EnergyTrajectory:
    """Records energies along an evolution; usable as ``GRAFF.forward(..., callback=rec)``.

    Each call ``rec(k, t, F)`` appends the step k, the time t, the Dirichlet energy
    E^Dir(F) and the normalised energy E^Dir(F/‖F‖) (both in float64, from a detached copy of
    F), and F itself if ``store_features``. The graph is fixed at construction, either as
    ``edge_index`` (+ ``num_nodes``, else taken from the first F) or as a precomputed ``adj``.
    The default Δ is the paper's, without self-loops, even though GRAFF evolves with
    self-loops: pass ``self_loops=True`` or ``adj=model.conv.adjacency(...)`` for the latter.
    """

    edge_index: Tensor | None = None
    num_nodes: int | None = None
    self_loops: bool = False
    adj: Tensor | None = None
    store_features: bool = False
    steps: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    energies: list[float] = field(default_factory=list)
    normalized: list[float] = field(default_factory=list)
    features: list[Tensor] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.edge_index is None and self.adj is None:
            raise ValueError("EnergyTrajectory needs the graph: edge_index or adj")
        # checked here, where the recorder is made, not at the model's first step
        check_flags(self_loops=self.self_loops, store_features=self.store_features)
        if self.num_nodes is not None:
            check_num_nodes(self.num_nodes)
        if self.edge_index is not None and self.num_nodes is not None:
            check_edge_index(self.edge_index, self.num_nodes)
        elif self.edge_index is not None:  # ids checked once F gives the node count
            check_edge_list(self.edge_index)
        self._adj64: Tensor | None = None

    def _adjacency(self, n: int, device: torch.device) -> Tensor:
        if self._adj64 is None:
            self._adj64 = resolve_adjacency(
                self.edge_index,
                n if self.num_nodes is None else self.num_nodes,
                self_loops=self.self_loops,
                adj=self.adj,
                dtype=torch.float64,
                device=device,
            )
        return self._adj64

    def __call__(self, k: int, t: float, F: Tensor) -> None:
        f = F.detach().to(torch.float64)
        if bool(torch.isfinite(f).all()):
            f = as_features(f)
            energy = float(dirichlet_energy(f, adj=self._adjacency(f.size(0), f.device)))
            sq = float(f.pow(2).sum())
        else:  # a diverged step: recorded as NaN (measured_regime says the run over/underflowed)
            energy = sq = math.nan
        self.steps.append(int(k))
        self.times.append(float(t))
        self.energies.append(energy)
        self.normalized.append(energy / sq if sq > 0 else math.nan)
        if self.store_features:
            self.features.append(F.detach().clone())

    def __len__(self) -> int:
        return len(self.steps)

    def normalized_tensor(self) -> Tensor:
        """The normalised energies as a float64 tensor [steps]."""
        return torch.tensor(self.normalized, dtype=torch.float64)

    def energy_tensor(self) -> Tensor:
        """The raw energies E^Dir(F) as a float64 tensor [steps]."""
        return torch.tensor(self.energies, dtype=torch.float64)

"""The spectrum of the channel-mixing W: attraction (λ > 0) and repulsion (λ < 0).

Di Giovanni et al. (2022), §4: W = Θ₊ᵀΘ₊ − Θ₋ᵀΘ₋, so that
E^tot(F) = ½ Σ_i ⟨f_i, (Ω − W) f_i⟩ + ¼ Σ_ij ‖Θ₊(∇F)_ij‖² − ¼ Σ_ij ‖Θ₋(∇F)_ij‖²:
positive eigenvalues of W attract adjacent features, negative ones repel them.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from graff.energy._dirichlet import check_channel_matrix
from graff.nn.checks import is_real

__all__ = ["WSpectrum", "attraction_repulsion", "w_spectrum"]


def check_symmetric(W: Tensor, name: str = "W") -> Tensor:
    """Check W is a square symmetric floating matrix (relative tolerance √eps)."""
    W = check_channel_matrix(W, None, name)
    scale = max(1.0, float(W.detach().abs().max())) if W.numel() else 1.0
    tol = torch.finfo(W.dtype).eps ** 0.5 * scale
    err = float((W.detach() - W.detach().t()).abs().max()) if W.numel() else 0.0
    if err > tol:
        raise ValueError(
            f"{name} must be symmetric (the gradient-flow theory needs W = Wᵀ); "
            f"max |{name} − {name}ᵀ| = {err:.3g} > {tol:.3g}. Symmetrise with ({name} + {name}ᵀ)/2"
        )
    return W


class WSpectrum(NamedTuple):
    """Eigenvalues of a symmetric W and the two numbers the LFD/HFD theory uses."""

    eigenvalues: Tensor
    """All eigenvalues of W, ascending (float64)."""
    lambda_plus: float
    """λ₊^W = (max eig W)₊ = max(λ_max, 0) ≥ 0."""
    lambda_minus: float
    """|λ₋^W| = |(min eig W)₋| = max(−λ_min, 0) ≥ 0: the *magnitude* of the most negative
    eigenvalue (the paper writes λ₋ ≤ 0 and uses |λ₋|; this is |λ₋|)."""


def w_spectrum(W: Tensor) -> WSpectrum:
    """Spectrum of a symmetric channel-mixing W (Di Giovanni et al. 2022, §4).

    Returns the ascending eigenvalues (float64), λ₊ = (max eig)₊ and the non-negative
    magnitude |λ₋| = (−min eig)₊. Raises ``ValueError`` if W is not symmetric.
    """
    W = check_symmetric(W).detach().to(torch.float64)
    eig = torch.linalg.eigvalsh(W)
    return WSpectrum(eig, max(float(eig[-1]), 0.0), max(-float(eig[0]), 0.0))


def attraction_repulsion(W: Tensor, atol: float = 0.0) -> tuple[Tensor, Tensor]:
    """Θ₊ [p, d] and Θ₋ [q, d] with W = Θ₊ᵀΘ₊ − Θ₋ᵀΘ₋ (Di Giovanni et al. 2022, §4).

    From W = U diag(λ) Uᵀ: the rows of Θ₊ are √λ_r u_rᵀ for the eigenvalues λ_r > ``atol``
    (p of them), those of Θ₋ are √|λ_r| u_rᵀ for λ_r < −``atol`` (q of them); eigenvalues in
    [−atol, atol] belong to neither. Θ₊ is the attractive, Θ₋ the repulsive part. Returned in
    W's dtype (computed in float64).
    """
    W = check_symmetric(W)
    if not (is_real(atol) and atol >= 0):
        raise ValueError(f"atol must be a number ≥ 0, got {atol!r}")
    lam, U = torch.linalg.eigh(W.detach().to(torch.float64))
    pos, neg = lam > atol, lam < -atol
    theta_plus = lam[pos].sqrt().unsqueeze(1) * U[:, pos].t()
    theta_minus = (-lam[neg]).sqrt().unsqueeze(1) * U[:, neg].t()
    return theta_plus.to(W.dtype), theta_minus.to(W.dtype)

r"""Graph-frequency response of GRAFF's linear Euler steps, per W eigen-channel.

The linear GRAFF step (Di Giovanni et al. 2022, eq. 6) without the source term,

.. math::
    \mathbf{F} \leftarrow \mathbf{F} + \tau\big(-\mathbf{F}\boldsymbol{\Omega}
    + \bar{\mathbf{A}}\mathbf{F}\mathbf{W}\big),

acts on each graph frequency separately: write Δ = I − Ā = Σ_k λ_k v_k v_kᵀ (λ_k ∈ [0, 2])
and F = Σ_k v_k c_kᵀ; since Ā v_k = (1 − λ_k) v_k, the row vector c_kᵀ of frequency λ_k is
multiplied on the right by the d×d matrix

.. math::
    M(\lambda) = I - \tau\Omega + \tau(1-\lambda)W .

After steps τ_1, …, τ_m (:func:`graff.nn.euler_steps`; a non-integer T/τ ends with a shorter
step) the response at frequency λ is P(λ) = M_1(λ) M_2(λ) ⋯ M_m(λ), c_kᵀ ↦ c_kᵀ P(λ_k).

**Commuting case** (ΩW = WΩ: Ω and W diagonal, Ω = ωI, Ω = 0, …). W and Ω have common
eigenvectors u_a (W u_a = λ^W_a u_a, ω_a = u_aᵀΩu_a), which diagonalise every M_j, and channel a
is a scalar graph filter

.. math::
    h_a(\lambda) = \prod_{j=1}^{m}\big(1 - \tau_j\omega_a + \tau_j(1-\lambda)\lambda^W_a\big),
    \qquad F(0) = v_k u_a^\top \;\mapsto\; F(T) = h_a(\lambda_k)\, v_k u_a^\top .

For small τ, λ^W_a > 0 makes |h_a| grow with 1 − λ (low-pass: attraction, smoothing) and
λ^W_a < 0 makes it grow with λ (high-pass: repulsion, sharpening).

**General case** (Ω does not commute with W). There is no per-channel scalar filter; the
response at λ is summarised by the singular values σ_1(λ) ≥ … ≥ σ_d(λ) of P(λ): the gains
max/min over unit row vectors x of ‖xᵀP(λ)‖ and the intermediate ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from graff.energy._channel import check_symmetric
from graff.nn.checks import check_sizes

if TYPE_CHECKING:
    from graff.nn import GRAFF

__all__ = ["FrequencyResponse", "frequency_response", "model_frequency_response"]

DT = torch.float64

#: Relative tolerance of the commutation test ‖ΩW − WΩ‖_max ≤ tol · max(1, ‖Ω‖_F‖W‖_F).
COMMUTE_RTOL = 1e-8
#: Relative tolerance under which the two ends of a response count as equal ("flat").
FLAT_RTOL = 1e-9


@dataclass(frozen=True)
class FrequencyResponse:
    """Frequency response of GRAFF's linear steps (see :func:`frequency_response`)."""

    lambdas: Tensor
    """[L] graph frequencies λ (eigenvalues of Δ = I − Ā), float64."""
    w_eigenvalues: Tensor
    """[d] eigenvalues λ^W_a of W, ascending (float64)."""
    eigenvectors: Tensor
    """[d, d] eigenvectors of W, one per column (u_a = ``eigenvectors[:, a]``); in the
    commuting case chosen to diagonalise Ω as well (within repeated eigenvalues of W)."""
    response: Tensor
    """[L, d]: commuting case, |h_a(λ)| per eigen-channel a (columns in the order of
    ``w_eigenvalues``); general case, the singular values of P(λ), descending per row."""
    commutes: bool
    """Whether Ω commutes with W (the per-channel filter description applies)."""
    kind: list[str]
    """Per column of ``response``: ``"low-pass"`` if the response at the lowest λ of
    ``lambdas`` exceeds that at the highest, ``"high-pass"`` if below, ``"flat"`` if equal
    within a relative tolerance. In the general case column i is the i-th largest singular
    value, so ``kind[0]`` is the trend of the top singular value."""
    omega_eigenvalues: Tensor | None
    """[d] ω_a = u_aᵀΩu_a in the commuting case, else ``None``."""
    filters: Tensor | None
    """[L, d] signed filters h_a(λ) in the commuting case (``response = |filters|``), else
    ``None``."""


def _as_steps(steps: Sequence[float]) -> list[float]:
    what = (
        "steps must be a list of Euler step sizes, e.g. graff.nn.euler_steps(T, τ); got "
        f"{steps!r:.40}"
    )
    if isinstance(steps, str | bytes) or not hasattr(steps, "__iter__"):
        raise TypeError(what)
    try:
        out = [float(s) for s in steps]
    except (TypeError, ValueError):
        raise TypeError(what) from None
    if not out:
        raise ValueError("steps must be a non-empty list of step sizes (graff.nn.euler_steps)")
    bad = [s for s in out if not (math.isfinite(s) and s > 0)]
    if bad:
        raise ValueError(f"step sizes must be positive finite numbers, got {bad}")
    return out


def _as_lambdas(lambdas: Tensor | Sequence[float] | None, num_points: int) -> Tensor:
    if lambdas is None:
        check_sizes(num_points=num_points)
        if num_points < 2:
            raise ValueError(f"num_points must be ≥ 2, got {num_points}")
        return torch.linspace(0.0, 2.0, num_points, dtype=DT)
    try:
        lam = torch.as_tensor(lambdas).detach().to(device="cpu", dtype=DT).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"lambdas must be graph frequencies (numbers in [0, 2]), got {lambdas!r:.40}"
        ) from None
    if lam.numel() == 0:
        raise ValueError("lambdas must not be empty")
    if not bool(torch.isfinite(lam).all()):
        raise ValueError("lambdas must be finite")
    if bool(((lam < -1e-6) | (lam > 2 + 1e-6)).any()):  # float32 spectra: 2.0000002
        raise ValueError(
            "lambdas are graph frequencies, eigenvalues of Δ = I − Ā, which lie in [0, 2]; got "
            f"values from {float(lam.min()):.4g} to {float(lam.max()):.4g}"
        )
    return lam


def _commutes(W: Tensor, Omega: Tensor, rtol: float) -> bool:
    err = float((Omega @ W - W @ Omega).abs().max()) if W.numel() else 0.0
    scale = max(1.0, float(torch.linalg.matrix_norm(Omega) * torch.linalg.matrix_norm(W)))
    return err <= rtol * scale


def _common_eigenbasis(W: Tensor, Omega: Tensor) -> tuple[Tensor, Tensor]:
    """Eigen-decomposition of W whose eigenvectors also diagonalise a commuting Ω.

    Within each cluster of (numerically) equal eigenvalues of W, the block UᵀΩU is
    diagonalised and the cluster's eigenvectors rotated accordingly.
    """
    lam, U = torch.linalg.eigh(W)
    d = lam.numel()
    tol = 1e3 * torch.finfo(DT).eps * max(1.0, float(lam.abs().max()) if d else 1.0)
    start = 0
    while start < d:
        end = start + 1
        while end < d and float(lam[end] - lam[end - 1]) <= tol:
            end += 1
        if end - start > 1:
            block = U[:, start:end]
            sub = block.t() @ Omega @ block
            _, R = torch.linalg.eigh((sub + sub.t()) / 2)
            U[:, start:end] = block @ R
        start = end
    return lam, U


def _kinds(response: Tensor, lambdas: Tensor, rtol: float) -> list[str]:
    lo = response[int(torch.argmin(lambdas))]
    hi = response[int(torch.argmax(lambdas))]
    out = []
    for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
        if abs(a - b) <= rtol * max(abs(a), abs(b), 1e-300):
            out.append("flat")
        else:
            out.append("low-pass" if a > b else "high-pass")
    return out


def frequency_response(
    W: Tensor,
    Omega: Tensor,
    steps: Sequence[float],
    lambdas: Tensor | Sequence[float] | None = None,
    num_points: int = 101,
    *,
    commute_rtol: float = COMMUTE_RTOL,
    flat_rtol: float = FLAT_RTOL,
) -> FrequencyResponse:
    r"""Graph-frequency response of GRAFF's linear Euler steps (source term β F(0) ignored).

    At graph frequency λ (an eigenvalue of Δ = I − Ā) the steps τ_1..τ_m map that frequency's
    coefficient row vector cᵀ to cᵀ P(λ), P(λ) = Π_j (I − τ_jΩ + τ_j(1−λ)W).

    * If Ω commutes with W (‖ΩW − WΩ‖_max ≤ ``commute_rtol``·max(1, ‖Ω‖_F‖W‖_F)), the common
      eigenvectors u_a diagonalise P and ``response[:, a] = |h_a(λ)|`` with
      h_a(λ) = Π_j (1 − τ_j ω_a + τ_j (1−λ) λ^W_a), ω_a = u_aᵀΩu_a (``filters`` holds h_a).
    * Otherwise (the general, non-diagonal case) ``response[l]`` holds the singular values
      of P(λ_l), descending, and ``commutes`` is ``False``.

    ``kind`` compares each response column at the smallest and the largest λ of
    ``lambdas`` (λ = 0 and 2 by default; pass the graph's spectrum to compare |h(0)| with
    |h(ρ)|): "low-pass" if larger at low frequency, "high-pass" if smaller, "flat" if equal
    within ``flat_rtol``. For small τ (τ|ω_a|, τ|λ^W_a| < ½) this is the sign of λ^W_a; a large
    step can invert it, since it is the magnitude of the actual response that is compared.

    Args:
        W: symmetric channel mixing [d, d].
        Omega: symmetric external term Ω [d, d].
        steps: Euler step sizes, e.g. ``graff.nn.euler_steps(T, tau)``.
        lambdas: graph frequencies [L] (default ``linspace(0, 2, num_points)``).
        num_points: size of the default grid (≥ 2).
        commute_rtol: relative tolerance of the commutation test.
        flat_rtol: relative tolerance of the "flat" kind.

    Returns:
        :class:`FrequencyResponse`, all tensors float64 on the CPU.
    """
    W = check_symmetric(W, "W").detach().to(device="cpu", dtype=DT)
    Omega = check_symmetric(Omega, "Omega").detach().to(device="cpu", dtype=DT)
    if Omega.shape != W.shape:
        raise ValueError(
            f"W and Omega must have the same shape [d, d], got {tuple(W.shape)} and "
            f"{tuple(Omega.shape)}"
        )
    taus = _as_steps(steps)
    lam = _as_lambdas(lambdas, num_points)
    W, Omega = (W + W.t()) / 2, (Omega + Omega.t()) / 2

    if _commutes(W, Omega, commute_rtol):
        w_eig, U = _common_eigenbasis(W, Omega)
        omega = torch.einsum("ia,ij,ja->a", U, Omega, U)
        h = torch.ones(lam.numel(), w_eig.numel(), dtype=DT)
        for tau in taus:
            h = h * (1.0 - tau * omega + tau * (1.0 - lam).unsqueeze(1) * w_eig)
        response = h.abs()
        return FrequencyResponse(
            lam, w_eig, U, response, True, _kinds(response, lam, flat_rtol), omega, h
        )

    w_eig, U = torch.linalg.eigh(W)
    d = W.size(0)
    eye = torch.eye(d, dtype=DT)
    one_minus = (1.0 - lam).view(-1, 1, 1)
    P = eye.expand(lam.numel(), d, d).clone()
    for tau in taus:
        P = P @ (eye - tau * Omega + tau * one_minus * W)  # c ↦ c M_1 M_2 ⋯ M_m
    response = torch.linalg.svdvals(P)  # descending
    return FrequencyResponse(
        lam, w_eig, U, response, False, _kinds(response, lam, flat_rtol), None, None
    )


def model_frequency_response(
    model: GRAFF,
    lambdas: Tensor | Sequence[float] | None = None,
    num_points: int = 101,
) -> FrequencyResponse:
    """:func:`frequency_response` of a GRAFF model's learned W, Ω and Euler steps.

    Describes the linear part of the evolution only: the source β F(0), GRAFF-NL's ReLU and
    ``step_norm`` are ignored. Ā's self-loops only change which λ occur (Δ = I − Ā still).
    Raises ``ValueError`` for a time-dependent W (one W per step).
    """
    if not all(isinstance(getattr(model, k, None), Tensor) for k in ("W", "Omega")):
        raise ValueError(
            "model_frequency_response needs a GRAFF model (its W, Ω and Euler steps), got "
            f"{type(model).__name__}; for any W and Ω use frequency_response(W, Omega, steps)"
        )
    W = model.W
    if W.dim() != 2:
        raise ValueError(
            "model_frequency_response needs a shared W, but this model is time-dependent "
            f"(W has shape {tuple(W.shape)}); pass one step's W, e.g. "
            "frequency_response(model.W[k], model.Omega, [model.steps[k]])"
        )
    return frequency_response(W, model.Omega, model.steps, lambdas, num_points)

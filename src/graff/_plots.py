"""Plots for ``graff analyze`` (matplotlib is imported here only, lazily, with the Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graff.errors import MissingExtraError


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MissingExtraError("matplotlib", "plot", "plotting") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_energy(report: dict[str, Any], path: Path) -> Path:
    """Normalised Dirichlet energy along the steps, with the LFD (0) and HFD (ρ_Δ/2) limits."""
    plt = _pyplot()
    e = report["energy"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(e["times"], e["normalized_dirichlet"], marker="o", label="E^Dir(F/‖F‖)")
    ax.axhline(0.0, color="tab:blue", ls=":", label="LFD limit 0")
    ax.axhline(report["rho_delta"] / 2, color="tab:red", ls=":", label="HFD limit ρ_Δ/2")
    ax.set_xlabel("t")
    ax.set_ylabel("normalised Dirichlet energy")
    ax.set_title(
        f"{report['dataset']} split {report['split']}: predicted {report['predicted_regime']}, "
        f"measured {report['measured_regime']}"
    )
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_w_spectrum(report: dict[str, Any], path: Path) -> Path:
    """Sorted eigenvalues of W: positive ones attract along edges, negative ones repel."""
    plt = _pyplot()
    eig = sorted(report["w_eigenvalues"][0])
    fig, ax = plt.subplots(figsize=(6, 4))
    colors = ["tab:blue" if v >= 0 else "tab:red" for v in eig]
    ax.bar(range(len(eig)), eig, color=colors, width=1.0)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xlabel("eigen-channel (sorted)")
    ax.set_ylabel("eigenvalue of W")
    ax.set_title(
        f"{report['dataset']}: W ({report['w_type']}) λ₊ = {report['lambda_plus']:.2f}, "
        f"|λ₋| = {report['lambda_minus']:.2f} (blue attract, red repel)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_frequency_response(report: dict[str, Any], response: Any, path: Path) -> Path:
    """|h_a(λ)| of each eigen-channel of W over the graph frequencies λ ∈ [0, 2]."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    lam = response.lambdas.numpy()
    resp = response.response.numpy()
    eig = response.w_eigenvalues.numpy()
    for a in range(resp.shape[1]):
        if response.commutes:
            color = "tab:blue" if eig[a] >= 0 else "tab:red"
        else:
            color = "tab:blue" if response.kind[a] == "low-pass" else "tab:red"
        ax.plot(lam, resp[:, a], color=color, alpha=0.5, lw=1)
    ax.axvline(report["rho_delta"], color="gray", ls=":", label="ρ_Δ of this graph")
    ax.set_yscale("log")
    ax.set_xlabel("graph frequency λ (eigenvalue of Δ)")
    ax.set_ylabel("gain after T")
    kinds = list(response.kind)
    what = "channels" if response.commutes else "singular values"
    ax.set_title(
        f"{report['dataset']}: {kinds.count('low-pass')} low-pass, "
        f"{kinds.count('high-pass')} high-pass {what}",
        fontsize=10,
    )
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

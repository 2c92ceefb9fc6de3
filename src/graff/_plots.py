"""Plots for ``graff analyze`` (matplotlib is imported here only, lazily, with the Agg backend).

Each ``*_figure`` function returns the matplotlib figure (for tests and notebooks); each
``plot_*`` function draws it and writes a PNG. Figures use the constrained layout and a title
wrapped to the figure's width (:func:`fit_title`), so that no label is cut off.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from graff.errors import MissingExtraError

__all__ = [
    "FEW_CHANNELS",
    "energy_figure",
    "fit_title",
    "frequency_figure",
    "plot_energy",
    "plot_frequency_response",
    "plot_w_spectrum",
    "w_spectrum_figure",
]

#: Up to this many channels the frequency plot draws one labelled curve each; above, a heat map.
FEW_CHANNELS = 8
#: Gains below this fraction of the largest are drawn in the heat map's lowest colour: the
#: smallest singular values of a long product of matrices are rounding noise (~1e-16 relative).
HEAT_RANGE = 1e-10
_DPI = 120


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MissingExtraError("matplotlib", "plot", "plotting") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def fit_title(fig: Any, text: str, fontsize: float = 11) -> Any:
    """``text`` as the figure's title (``suptitle``), wrapped at spaces until each line fits
    in the figure's width; returns the title's Text."""
    title = fig.suptitle(text, fontsize=fontsize)
    renderer = fig.canvas.get_renderer()
    room = 0.96 * fig.bbox.width
    width = len(text)
    while width > 20 and title.get_window_extent(renderer).width > room:
        width -= 4
        title.set_text(textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False))
    return title


def _save(fig: Any, path: Path) -> Path:
    plt = _pyplot()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return path


def energy_figure(report: dict[str, Any]) -> Any:
    """Normalised Dirichlet energy along the steps, with the LFD (0) and HFD (ρ_Δ/2) limits."""
    plt = _pyplot()
    e = report["energy"]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    layers = "layers" in report  # a model other than GRAFF: energy after each layer
    # APPNP / GPR-GNN after each propagation step; H2GCN (or a user's model) at its steps
    steps = "propagation" in report or "recorded" in report
    label = (
        "E^Dir(H⁽ˡ⁾/‖H⁽ˡ⁾‖)" if layers else "E^Dir(Z⁽ᵏ⁾/‖Z⁽ᵏ⁾‖)" if steps else "E^Dir(F(t)/‖F(t)‖)"
    )
    ax.plot(e["times"], e["normalized_dirichlet"], marker="o", label=label)
    ax.axhline(0.0, color="tab:blue", ls=":", label="LFD limit 0")
    ax.axhline(report["rho_delta"] / 2, color="tab:red", ls=":", label="HFD limit ρ_Δ/2")
    ax.set_xlabel(
        "layer l (0: the first layer's input)"
        if layers
        else "step k (0: before the first)"
        if steps
        else "time t"
    )
    ax.set_ylabel("normalised Dirichlet energy")
    ax.legend(loc="best", fontsize=8)
    measured = report["measured_regime"]
    if layers:
        what = f"{report['model']}, measured after its last layer {measured}"
    elif "propagation" in report:
        what = f"{report['model']}, a {report['predicted_regime']} filter, measured {measured}"
    elif steps:
        what = f"{report['model']}, measured after its last step {measured}"
    else:
        what = f"predicted regime {report['predicted_regime']}, measured {measured}"
    title = f"{report['dataset']} split {report['split']}: {what}"
    fit_title(fig, title)
    return fig


def plot_energy(report: dict[str, Any], path: Path) -> Path:
    """:func:`energy_figure` written to ``path`` (PNG)."""
    return _save(energy_figure(report), path)


def w_spectrum_figure(report: dict[str, Any]) -> Any:
    """Sorted eigenvalues of W: positive ones attract along edges, negative ones repel."""
    plt = _pyplot()
    from matplotlib.patches import Patch

    eig = sorted(report["w_eigenvalues"][0])
    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    colors = ["tab:blue" if v >= 0 else "tab:red" for v in eig]
    ax.bar(range(1, len(eig) + 1), eig, color=colors, width=1.0)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xlabel("eigen-channel of W (sorted by eigenvalue)")
    ax.set_ylabel("eigenvalue of W")
    ax.legend(
        handles=[
            Patch(color="tab:blue", label="λ ≥ 0: attract along edges"),
            Patch(color="tab:red", label="λ < 0: repel along edges"),
        ],
        loc="upper left",
        fontsize=8,
    )
    fit_title(
        fig,
        f"{report['dataset']}: spectrum of W ({report['w_type']}), "
        f"λ₊ = {report['lambda_plus']:.2f}, |λ₋| = {report['lambda_minus']:.2f}",
    )
    return fig


def plot_w_spectrum(report: dict[str, Any], path: Path) -> Path:
    """:func:`w_spectrum_figure` written to ``path`` (PNG)."""
    return _save(w_spectrum_figure(report), path)


def frequency_figure(report: dict[str, Any], response: Any) -> Any:
    """The gain after T of each channel over the graph frequencies λ ∈ [0, 2]
    (:class:`~graff.energy.FrequencyResponse`): |h_a(λ)| per eigen-channel a of W when Ω
    commutes with W, else the singular values σ_i(λ) of the T-step map. Up to
    :data:`FEW_CHANNELS` channels as labelled curves, more as a heat map (channels × λ, the
    gain on a log colour scale) with a colour bar. A dotted line marks ρ_Δ of the graph."""
    plt = _pyplot()
    import numpy as np

    lam = response.lambdas.numpy()
    resp = np.abs(response.response.numpy())
    eig = response.w_eigenvalues.numpy()
    kinds = list(response.kind)
    d = resp.shape[1]
    rho = report["rho_delta"]
    fig, ax = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
    ax.set_xlabel("graph frequency λ (eigenvalue of Δ)")
    if d <= FEW_CHANNELS:
        for a in range(d):
            if response.commutes:
                label = f"channel {a + 1}, λ^W = {eig[a]:+.2f}: {kinds[a]}"
            else:
                label = f"σ{a + 1}: {kinds[a]}"
            ax.plot(lam, resp[:, a], color=f"C{a}", lw=1.5, label=label)
        ax.axvline(rho, color="gray", ls=":", label="ρ_Δ of this graph")
        ax.set_yscale("log")
        ax.set_ylabel("gain after T")
        ax.legend(loc="best", fontsize=7)
    else:
        from matplotlib.colors import LogNorm

        if response.commutes:  # each channel's shape over λ; its level is set by ω_a
            peak = resp.max(axis=0, keepdims=True)
            shown = resp / np.where(peak > 0, peak, 1.0)
            what = "gain after T ÷ the channel's largest gain (log scale)"
        else:
            shown, what = resp, "gain after T (log scale)"
        top = float(shown.max()) if shown.size and shown.max() > 0 else 1.0
        floor = top * HEAT_RANGE
        low = min(max(floor, float(shown.min())), top / 10)
        mesh = ax.pcolormesh(
            lam,
            np.arange(1, d + 1),
            np.maximum(shown, floor).T,
            norm=LogNorm(vmin=low, vmax=top),
            cmap="viridis",
            shading="nearest",
            rasterized=True,
        )
        bar = fig.colorbar(mesh, ax=ax, extend="min" if shown.min() < floor else "neither")
        bar.set_label(what)
        from matplotlib import patheffects

        outline = [patheffects.withStroke(linewidth=3, foreground="black")]
        ax.axvline(rho, color="white", ls=":", lw=1.5, path_effects=outline)
        ax.text(rho, 1.01, " ρ_Δ", transform=ax.get_xaxis_transform(), fontsize=8, va="bottom")
        if response.commutes:
            ax.set_ylabel("eigen-channel of W (by eigenvalue λ^W)")
            negative = int((eig < 0).sum())
            if 0 < negative < d:
                ax.axhline(negative + 0.5, color="white", lw=1.0, path_effects=outline)
            box = {"facecolor": "black", "alpha": 0.5, "lw": 0}
            kw = {"color": "white", "fontsize": 7, "bbox": box, "transform": ax.transAxes}
            ax.text(0.02, 0.02, "λ^W < 0: repel (bottom)", va="bottom", **kw)
            ax.text(0.02, 0.98, "λ^W > 0: attract (top)", va="top", **kw)
        else:
            ax.set_ylabel("singular value σ_i of the T-step map (i = 1: largest)")
            ax.invert_yaxis()
    per = "eigen-channel of W" if response.commutes else "singular value (Ω, W do not commute)"
    fit_title(
        fig,
        f"{report['dataset']}: gain after T per {per}; {kinds.count('low-pass')} low-pass, "
        f"{kinds.count('high-pass')} high-pass"
        + (f", {kinds.count('flat')} flat" if "flat" in kinds else ""),
        fontsize=10,
    )
    return fig


def plot_frequency_response(report: dict[str, Any], response: Any, path: Path) -> Path:
    """:func:`frequency_figure` written to ``path`` (PNG)."""
    return _save(frequency_figure(report, response), path)


def filter_gain_figure(report: dict[str, Any]) -> Any:
    """APPNP's or GPR-GNN's filter Σ c_j Āʲ as a gain g(λ) = Σ c_j (1 − λ)ʲ over the graph
    frequencies λ ∈ [0, ρ_Δ] (eigenvalues of Δ = I − Ā): low-pass falls, high-pass rises."""
    import numpy as np

    plt = _pyplot()
    p = report["propagation"]
    lam = np.linspace(0.0, report["rho_delta"], 201)
    gain = sum(c * (1 - lam) ** j for j, c in enumerate(p["coefficients"]))
    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    ax.plot(lam, gain, label="g(λ)")
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xlabel("graph frequency λ (eigenvalue of Δ = I − Ā)")
    ax.set_ylabel("gain of the K-step filter")
    ax.legend(loc="best", fontsize=8)
    fit_title(
        fig,
        f"{report['dataset']} split {report['split']}: {report['model']}'s filter "
        f"(K = {p['K']}), {report['predicted_regime']}",
    )
    return fig


def plot_filter_gain(report: dict[str, Any], path: Path) -> Path:
    """:func:`filter_gain_figure` written to ``path`` (PNG)."""
    return _save(filter_gain_figure(report), path)

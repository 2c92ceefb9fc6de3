"""``particles``: node features as particles in ℝ² under attractive vs repulsive W.

The paper's Figure 2 ("actual GRAFF dynamics: attractive and repulsive forces lead to a
non-smoothing process able to separate labels"). On a small heterophilic graph (a contextual
SBM, edge homophily 0.1), two GRAFF models with d = 2 channels are trained, identical except
for W: prod, W = W'ᵀW' ⪰ 0 (attraction only), and neg-prod, W = −W'ᵀW' ⪯ 0 (repulsion only).
Ω = 0 and there is no source term, so each Euler step F ← F + τĀFW is a gradient step of the
pairwise energy −½ Σ ā_ij ⟨f_i, W f_j⟩ alone. The trajectories F(0) → F(T) of every node are
drawn coloured by label, with the normalised Dirichlet energy E^Dir(F/‖F‖) along the way;
``particles.gif`` animates them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from graff.data import csbm
from graff.energy import EnergyTrajectory, spectral_radius
from graff.nn import GRAFF
from graff.train import ModelConfig, OptimConfig, prepare_data

from ._common import (
    FigureOptions,
    FitProgress,
    fit,
    pyplot,
    register_figure,
    run_config,
    write_csv,
)

__all__ = ["COLUMNS", "RUNS", "Trajectory", "make", "trajectories"]

#: (name in the CSV, W parametrisation, description)
RUNS = (("attractive", "prod", "W = W'ᵀW' ⪰ 0"), ("repulsive", "neg_prod", "W = −W'ᵀW' ⪯ 0"))
COLUMNS = ("run", "w_type", "step", "t", "node", "label", "x", "y", "norm", "normalized_energy")
LABEL_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")


@dataclass(frozen=True)
class Settings:
    num_nodes: int = 60
    num_classes: int = 3
    homophily: float = 0.1
    avg_degree: float = 4.0
    num_features: int = 16
    feature_signal: float = 1.0
    T: float = 6.0
    step_size: float = 0.25
    epochs: int = 300
    lr: float = 0.02
    weight_decay: float = 1e-3
    seed: int = 0


def settings(quick: bool) -> Settings:
    return Settings(T=2.0, step_size=0.5, epochs=40) if quick else Settings()


@dataclass
class Trajectory:
    run: str
    w_type: str
    description: str
    features: list[torch.Tensor]  # F(t_k), each [n, 2]
    times: list[float]
    normalized: list[float]
    test_acc: float
    w_eigenvalues: list[float]


def trajectories(s: Settings, progress: bool = True) -> tuple[Any, list[Trajectory]]:
    """Train both models; return the graph and each model's recorded evolution."""
    data = csbm(
        num_nodes=s.num_nodes,
        num_classes=s.num_classes,
        homophily=s.homophily,
        avg_degree=s.avg_degree,
        num_features=s.num_features,
        feature_signal=s.feature_signal,
        num_splits=1,
        seed=s.seed,
    )
    prepared = prepare_data(data)
    optim = OptimConfig(lr=s.lr, weight_decay=s.weight_decay, epochs=s.epochs)
    out = []
    with FitProgress("particles", len(RUNS), progress) as bar:
        for run, w_type, description in RUNS:
            model_cfg = ModelConfig(
                name="graff",
                hidden=2,
                w_type=w_type,
                omega_type="zero",
                learn_beta=False,
                beta=0.0,
                T=s.T,
                step_size=s.step_size,
            )
            f = fit(run_config(model_cfg, optim, seed=s.seed), prepared, 0)
            rec = EnergyTrajectory(
                prepared.edge_index, s.num_nodes, self_loops=True, store_features=True
            )
            with torch.no_grad():
                f.model(f.x, prepared.edge_index, callback=rec)
            assert isinstance(f.model, GRAFF)
            eig = torch.linalg.eigvalsh(f.model.W.double())
            out.append(
                Trajectory(
                    run,
                    w_type,
                    description,
                    [F.double() for F in rec.features],
                    rec.times,
                    rec.normalized,
                    f.result.test,
                    eig.tolist(),
                )
            )
            bar.advance()
    return prepared, out


def _rows(y: torch.Tensor, runs: Sequence[Trajectory]) -> list[dict[str, Any]]:
    rows = []
    for tr in runs:
        for k, (t, F, e) in enumerate(zip(tr.times, tr.features, tr.normalized, strict=True)):
            for i in range(F.size(0)):
                rows.append(
                    {
                        "run": tr.run,
                        "w_type": tr.w_type,
                        "step": k,
                        "t": t,
                        "node": i,
                        "label": int(y[i]),
                        "x": float(F[i, 0]),
                        "y": float(F[i, 1]),
                        "norm": float(F.norm()),
                        "normalized_energy": e,
                    }
                )
    return rows


def _shapes(tr: Trajectory) -> list[torch.Tensor]:
    """F(t) rescaled to a mean squared particle norm of 1: the configuration's shape (the
    magnitude grows or shrinks exponentially along the flow)."""
    return [F * (F.size(0) ** 0.5 / F.norm().clamp(min=1e-300)) for F in tr.features]


def _limits(tr: Trajectory) -> tuple[tuple[float, float], tuple[float, float]]:
    allf = torch.cat(_shapes(tr))
    lo, hi = allf.min(0).values, allf.max(0).values
    pad = 0.05 * (hi - lo).clamp(min=1e-6)
    return (float(lo[0] - pad[0]), float(hi[0] + pad[0])), (
        float(lo[1] - pad[1]),
        float(hi[1] + pad[1]),
    )


def _draw_panel(ax: Any, tr: Trajectory, y: torch.Tensor, edges: torch.Tensor, upto: int) -> None:
    """Trajectories up to step ``upto`` (inclusive), edges between the current positions."""
    from matplotlib.collections import LineCollection

    shapes = _shapes(tr)
    F = shapes[upto].numpy()
    und = edges[:, edges[0] < edges[1]].t().numpy()
    ax.add_collection(LineCollection(list(F[und]), colors="0.85", linewidths=0.5, zorder=0))
    path = torch.stack(shapes[: upto + 1]).transpose(0, 1).numpy()  # [n, k, 2]
    colors = [LABEL_COLORS[int(c) % len(LABEL_COLORS)] for c in y]
    ax.add_collection(
        LineCollection(list(path), colors=colors, linewidths=0.8, alpha=0.6, zorder=1)
    )
    ax.scatter(
        path[:, 0, 0],
        path[:, 0, 1],
        s=8,
        facecolors="none",
        edgecolors=colors,
        linewidths=0.6,
        zorder=2,
    )
    ax.scatter(F[:, 0], F[:, 1], s=18, c=colors, edgecolors="k", linewidths=0.3, zorder=3)
    xl, yl = _limits(tr)
    ax.set_xlim(*xl)
    ax.set_ylim(*yl)
    ax.set_xticks([])
    ax.set_yticks([])
    lam = ", ".join(f"{v:+.2f}" for v in tr.w_eigenvalues)
    ax.set_title(
        f"{tr.run}: {tr.description}\neig(W) = {lam}; t = {tr.times[upto]:.2f}; "
        f"E(F/‖F‖) = {tr.normalized[upto]:.3f}",
        fontsize=8,
    )


def _draw_energy(ax: Any, runs: Sequence[Trajectory], rho: float, upto: int | None) -> None:
    for tr, color in zip(runs, ("tab:blue", "tab:red"), strict=True):
        k = len(tr.times) if upto is None else upto + 1
        ax.plot(tr.times[:k], tr.normalized[:k], color=color, marker="o", ms=2, label=tr.run)
    ax.axhline(rho / 2, color="gray", ls=":", lw=1, label="HFD limit ρ_Δ/2")
    ax.axhline(0.0, color="gray", ls="--", lw=1, label="LFD limit 0")
    ax.set_xlim(0, max(runs[0].times) * 1.02)
    ax.set_ylim(-0.02, rho / 2 + 0.05)
    ax.set_xlabel("t")
    ax.set_title("normalised Dirichlet energy E^Dir(F/‖F‖)", fontsize=8)
    ax.legend(fontsize=7, loc="center right")


def plot(
    prepared: Any, runs: Sequence[Trajectory], rho: float, png: Path, gif: Path, quick: bool
) -> tuple[Path, Path]:
    plt = pyplot()
    y, edges = prepared.y, prepared.edge_index
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    last = len(runs[0].times) - 1
    for ax, tr in zip(axes[:2], runs, strict=True):
        _draw_panel(ax, tr, y, edges, last)
    _draw_energy(axes[2], runs, rho, None)
    fig.suptitle(
        f"GRAFF with d = 2, Ω = 0, no source, on a heterophilic graph ({prepared.x.size(0)} "
        "nodes, edge homophily 0.1); colour = label, open circle F(0), dot F(t); "
        "positions F(t)·√n/‖F(t)‖",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(png, dpi=110)

    # One draw per frame, assembled by Pillow (matplotlib's own dependency); the last frame
    # is held for a second.
    from PIL import Image

    fig.set_dpi(55 if quick else 75)
    images = []
    for k in range(last + 1):
        for ax in axes:
            ax.clear()
        for ax, tr in zip(axes[:2], runs, strict=True):
            _draw_panel(ax, tr, y, edges, k)
        _draw_energy(axes[2], runs, rho, k)
        fig.canvas.draw()
        rgba = Image.frombuffer(
            "RGBA", fig.canvas.get_width_height(), fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1
        )
        images.append(rgba.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE))
    durations = [200] * last + [1200]
    images[0].save(gif, save_all=True, append_images=images[1:], duration=durations, loop=0)
    plt.close(fig)
    return png, gif


@register_figure("particles", "2-D feature particles under attractive vs repulsive W")
def make(opts: FigureOptions) -> tuple[list[Path], list[str]]:
    s = settings(opts.quick)
    prepared, runs = trajectories(s, opts.progress)
    rho = spectral_radius(prepared.edge_index, s.num_nodes, self_loops=True)
    opts.out.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(opts.out / "particles.csv", _rows(prepared.y, runs), COLUMNS)
    png, gif = plot(
        prepared, runs, rho, opts.out / "particles.png", opts.out / "particles.gif", opts.quick
    )
    lines = [
        f"{tr.run} ({tr.w_type}): normalised Dirichlet energy {tr.normalized[0]:.3f} → "
        f"{tr.normalized[-1]:.3f} (HFD limit {rho / 2:.3f}), "
        f"test accuracy {100 * tr.test_acc:.0f} %"
        for tr in runs
    ]
    return [png, gif, csv_path], lines

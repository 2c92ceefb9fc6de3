"""``depth``: over-smoothing — test accuracy and normalised Dirichlet energy vs depth.

GCN with L layers against GRAFF with L Euler steps of a fixed τ (so the integration time
T = Lτ grows with depth, as in the paper's statements about m layers), with W = prod
(attraction only: LFD, so it should over-smooth like GCN), neg-prod (repulsion only: HFD)
and DD (learned mix), on a homophilic (Cora) and a heterophilic (Texas) dataset.

The energy is E^Dir(H/‖H‖) with the paper's Δ (no self-loops) of the representation the
classifier reads: F(T) for GRAFF (before the decoder), the input of the last layer for GCN
(after L − 1 layers). It tends to 0 when the nodes' features collapse (over-smoothing) and to
ρ_Δ/2 in the high-frequency limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from graff.energy import normalized_dirichlet_energy, spectral_radius
from graff.nn import GRAFF
from graff.train import DataConfig, DivergenceError, ModelConfig, OptimConfig

from ._common import (
    FigureOptions,
    FitProgress,
    fit,
    gcn_config,
    load_prepared,
    pyplot,
    register_figure,
    run_config,
    write_csv,
)

__all__ = ["COLUMNS", "MODELS", "Settings", "make", "settings"]

MODELS = ("gcn", "prod", "neg_prod", "dd")
LABELS = {"gcn": "GCN", "prod": "GRAFF prod", "neg_prod": "GRAFF neg-prod", "dd": "GRAFF DD"}
COLORS = {"gcn": "black", "prod": "tab:blue", "neg_prod": "tab:red", "dd": "tab:purple"}
COLUMNS = (
    "dataset",
    "model",
    "depth",
    "T",
    "status",
    "test_acc",
    "val_acc",
    "best_epoch",
    "epochs_run",
    "normalized_energy",
    "hfd_limit",
    "seconds",
    "split",
    "hidden",
    "step_size",
    "epochs",
    "patience",
    "lr",
    "weight_decay",
)


@dataclass(frozen=True)
class Settings:
    datasets: tuple[str, ...] = ("cora", "texas")
    depths: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128)
    split: int = 0
    hidden: int = 32
    #: GRAFF's Euler step: T = depth·τ.
    step_size: float = 0.1
    epochs: int = 100
    patience: int = 30
    lr: float = 0.005
    weight_decay: float = 5e-4
    dropout: float = 0.3
    input_dropout: float = 0.4
    gcn_dropout: float = 0.5


def settings(quick: bool) -> Settings:
    if quick:
        return Settings(datasets=("texas",), depths=(2, 4), hidden=8, epochs=5, patience=5)
    return Settings()


def model_config(model: str, depth: int, s: Settings) -> ModelConfig:
    if model == "gcn":
        return gcn_config(s.hidden, depth, s.gcn_dropout, 0.0)
    return ModelConfig(
        name="graff",
        hidden=s.hidden,
        w_type=model,
        T=depth * s.step_size,
        step_size=s.step_size,
        dropout=s.dropout,
        input_dropout=s.input_dropout,
    )


@torch.no_grad()
def last_hidden(model: nn.Module, x: Tensor, edge_index: Tensor) -> Tensor:
    """The representation the classifier reads: F(T) for GRAFF, the input of the last
    graph convolution (``model.convs[-1]``) for GCN."""
    model.eval()
    if isinstance(model, GRAFF):
        return model.evolve(model.encode(x), edge_index)
    seen: list[Tensor] = []
    convs: Any = model.convs
    handle = convs[-1].register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    try:
        model(x, edge_index)
    finally:
        handle.remove()
    return seen[0]


def sweep(s: Settings, data_dir: str | None, progress: bool = True) -> list[dict[str, Any]]:
    rows = []
    optim = OptimConfig(lr=s.lr, weight_decay=s.weight_decay, epochs=s.epochs, patience=s.patience)
    with FitProgress("depth", len(s.datasets) * len(s.depths) * len(MODELS), progress) as bar:
        for ds in s.datasets:
            data = load_prepared(DataConfig(ds), data_dir)
            n = data.x.size(0)
            hfd = spectral_radius(data.edge_index, n) / 2
            for depth in s.depths:
                for m in MODELS:
                    bar.info(f"{ds} depth {depth} {LABELS[m]}")
                    row: dict[str, Any] = {
                        "dataset": ds,
                        "model": m,
                        "depth": depth,
                        "T": depth * s.step_size if m != "gcn" else math.nan,
                        "hfd_limit": hfd,
                        "split": s.split,
                        "hidden": s.hidden,
                        "step_size": s.step_size,
                        "epochs": s.epochs,
                        "patience": s.patience,
                        "lr": s.lr,
                        "weight_decay": s.weight_decay,
                    }
                    try:
                        f = fit(run_config(model_config(m, depth, s), optim), data, s.split)
                    except DivergenceError:
                        row.update(status="diverged", test_acc=math.nan, val_acc=math.nan)
                        row.update(normalized_energy=math.nan)
                    else:
                        h = last_hidden(f.model, f.x, data.edge_index).double()
                        energy = (
                            float(normalized_dirichlet_energy(h, data.edge_index))
                            if bool(h.abs().sum() > 0)
                            else math.nan
                        )
                        row.update(
                            status="ok",
                            test_acc=f.result.test,
                            val_acc=f.result.val,
                            best_epoch=f.result.best_epoch,
                            epochs_run=f.result.epochs_run,
                            seconds=f.result.seconds,
                            normalized_energy=energy,
                        )
                    rows.append(row)
                    bar.advance()
    return rows


def plot(rows: Sequence[dict[str, Any]], s: Settings, path: Path) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(2, len(s.datasets), figsize=(5.2 * len(s.datasets), 7), squeeze=False)
    for j, ds in enumerate(s.datasets):
        acc_ax, en_ax = axes[0][j], axes[1][j]
        for m in MODELS:
            g = sorted(
                (r for r in rows if r["dataset"] == ds and r["model"] == m),
                key=lambda r: r["depth"],
            )
            depths = [r["depth"] for r in g]
            style = {
                "color": COLORS[m],
                "marker": "o",
                "ms": 4,
                "label": LABELS[m],
                "ls": "--" if m == "gcn" else "-",
            }
            acc_ax.plot(depths, [100 * r["test_acc"] for r in g], **style)
            en_ax.plot(depths, [max(r["normalized_energy"], 1e-12) for r in g], **style)
        hfd = next(r["hfd_limit"] for r in rows if r["dataset"] == ds)
        en_ax.axhline(hfd, color="gray", ls=":", lw=1, label="HFD limit ρ_Δ/2")
        for ax in (acc_ax, en_ax):
            ax.set_xscale("log", base=2)
            ax.set_xticks(list(s.depths))
            ax.set_xticklabels([str(d) for d in s.depths])
            ax.grid(alpha=0.3)
        en_ax.set_yscale("log")
        acc_ax.set_title(f"{ds}: test accuracy (split {s.split})", fontsize=10)
        en_ax.set_title(f"{ds}: E^Dir(H/‖H‖) of the last hidden features", fontsize=10)
        en_ax.set_xlabel("depth: GCN layers / GRAFF Euler steps (T = depth·τ)")
        acc_ax.set_ylabel("test accuracy (%)")
        en_ax.set_ylabel("normalised Dirichlet energy")
    axes[0][0].legend(fontsize=8)
    axes[1][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(
        f"Over-smoothing: hidden {s.hidden}, GRAFF τ = {s.step_size}, {s.epochs} epochs "
        f"(patience {s.patience})",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def findings(rows: Sequence[dict[str, Any]], s: Settings) -> list[str]:
    lines = []
    lo, hi = min(s.depths), max(s.depths)
    for ds in s.datasets:
        parts = []
        for m in MODELS:
            at = {r["depth"]: r for r in rows if r["dataset"] == ds and r["model"] == m}
            parts.append(
                f"{LABELS[m]} {100 * at[lo]['test_acc']:.0f}→{100 * at[hi]['test_acc']:.0f} % "
                f"(E {at[lo]['normalized_energy']:.2g}→{at[hi]['normalized_energy']:.2g})"
            )
        lines.append(f"{ds}, depth {lo}→{hi}: " + "; ".join(parts))
    return lines


@register_figure("depth", "accuracy and normalised Dirichlet energy vs depth (over-smoothing)")
def make(opts: FigureOptions) -> tuple[list[Path], list[str]]:
    s = settings(opts.quick)
    rows = sweep(s, opts.data_dir, opts.progress)
    opts.out.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(opts.out / "depth.csv", rows, COLUMNS)
    png = plot(rows, s, opts.out / "depth.png")
    return [png, csv_path], findings(rows, s)

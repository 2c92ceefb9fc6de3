"""``prediction-homophily``: is the evolution smoothing? Homophily of the predictions.

The paper's synthetic ablation (part 2): for each W variant trained on syn-cora, compare the
edge homophily of the predicted labels (over all edges of the graph) after the evolution,
ψ_DE(F(T)), with the true homophily of the graph and with the prediction read from the
encoder alone, ψ_DE(F(0)) — the same trained model with the evolution skipped. The paper's
claims: with neg-prod the homophily decreases after the evolution, with prod the prediction is
smoother than the truth; DD and sum adapt best to the true homophily; the encoder compensates
when the spectrum of W has a sign.

The fits are those of ``syn-cora`` (same settings); when ``syn-cora.csv`` with these settings
is already in the output folder its fits are reused instead of trained again.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._common import FigureOptions, pyplot, register_figure, write_csv
from .syn_cora import GRAFF_VARIANTS, LABELS, Settings, read_fits, settings, sweep

__all__ = ["COLUMNS", "make"]

COLUMNS = (
    "w_type",
    "homophily",
    "true_homophily",
    "pred_homophily",
    "pred_homophily_std",
    "encoder_pred_homophily",
    "encoder_pred_homophily_std",
    "test_acc",
    "n_replicas",
    "fits_from",
)


def aggregate(fits: Sequence[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """Mean (and population std) over replicas for each (W, homophily level)."""
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for f in fits:
        groups.setdefault((f["model"], f["homophily"]), []).append(f)
    rows = []
    for (w, h), g in sorted(
        groups.items(), key=lambda kv: (GRAFF_VARIANTS.index(kv[0][0]), kv[0][1])
    ):

        def col(k: str, g: list[dict[str, Any]] = g) -> list[float]:
            return [float(r[k]) for r in g]

        rows.append(
            {
                "w_type": w,
                "homophily": h,
                "true_homophily": statistics.fmean(col("graph_homophily")),
                "pred_homophily": statistics.fmean(col("pred_homophily")),
                "pred_homophily_std": statistics.pstdev(col("pred_homophily")),
                "encoder_pred_homophily": statistics.fmean(col("encoder_pred_homophily")),
                "encoder_pred_homophily_std": statistics.pstdev(col("encoder_pred_homophily")),
                "test_acc": statistics.fmean(col("test_acc")),
                "n_replicas": len(g),
                "fits_from": source,
            }
        )
    return rows


def findings(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Mean gaps to the true homophily over the levels, per W."""
    lines = ["mean over levels of (prediction − true) homophily, after / without the evolution:"]
    for w in GRAFF_VARIANTS:
        g = [r for r in rows if r["w_type"] == w]
        if not g:
            continue
        after = statistics.fmean(r["pred_homophily"] - r["true_homophily"] for r in g)
        enc = statistics.fmean(r["encoder_pred_homophily"] - r["true_homophily"] for r in g)
        mae = statistics.fmean(abs(r["pred_homophily"] - r["true_homophily"]) for r in g)
        lines.append(
            f"  {LABELS[w]:8s} after {after:+.3f} (mean |gap| {mae:.3f}), encoder only {enc:+.3f}"
        )
    return lines


def plot(rows: Sequence[dict[str, Any]], s: Settings, path: Path) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(GRAFF_VARIANTS), figsize=(12, 3.5), sharey=True)
    for ax, w in zip(axes, GRAFF_VARIANTS, strict=True):
        g = [r for r in rows if r["w_type"] == w]
        true = [r["true_homophily"] for r in g]
        ax.plot([0, 1], [0, 1], color="gray", ls=":", lw=1, label="prediction = true")
        ax.errorbar(
            true,
            [r["pred_homophily"] for r in g],
            yerr=[r["pred_homophily_std"] for r in g],
            ls="none",
            marker="x",
            ms=7,
            color="tab:red",
            label="after the evolution",
        )
        ax.errorbar(
            true,
            [r["encoder_pred_homophily"] for r in g],
            yerr=[r["encoder_pred_homophily_std"] for r in g],
            ls="none",
            marker="o",
            mfc="none",
            ms=5,
            color="tab:blue",
            label="encoder only (no evolution)",
        )
        ax.set_title(f"W: {LABELS[w]}")
        ax.set_xlabel("true homophily")
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("homophily of the predictions")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(
        f"syn-cora: edge homophily of predicted labels (mean over {len(s.replicas)} "
        "replica(s), all nodes)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


@register_figure(
    "prediction-homophily",
    "homophily of the predictions with and without the evolution vs the true homophily",
)
def make(opts: FigureOptions) -> tuple[list[Path], list[str]]:
    s = settings(opts.quick)
    fits = read_fits(opts.out / "syn-cora.csv", GRAFF_VARIANTS, s)
    source = "syn-cora.csv"
    if fits is None:
        fits = sweep(GRAFF_VARIANTS, s, opts.data_dir, opts.progress)
        source = "trained"
    else:
        fits = [f for f in fits if f["model"] in GRAFF_VARIANTS]
    rows = aggregate(fits, source)
    opts.out.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(opts.out / "prediction-homophily.csv", rows, COLUMNS)
    png = plot(rows, s, opts.out / "prediction-homophily.png")
    return [png, csv_path], findings(rows)

"""``spectrum``: the learned W eigenvalues per dataset and the LFD/HFD regime they predict.

For each paper dataset, the GRAFF model of split 0 trained with the shipped config
(``graff/configs/graff/<dataset>.yaml``) is read by :func:`graff.analyze.analyze_run`: the
eigenvalues of W (positive ones attract along edges, negative ones repel), ρ_Δ of the model's
Ā, and the regime predicted for the residual Euler map F ← F + τĀFW by the paper's theorem
(eq. 1; W only: Ω and the source are left out of the prediction). The paper reports e.g.
λ(W) ∈ [−3.61, 2.48] on squirrel. ``--runs DIR`` reuses finished runs ``DIR/<dataset>-graff``
(e.g. those of ``graff reproduce``); missing ones are trained in a temporary folder.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graff._plots import fit_title
from graff.analyze import analyze_run
from graff.data import PAPER_DATASETS
from graff.train import ConfigError, load_config, run

from ._common import (
    FigureOptions,
    FitProgress,
    load_prepared,
    pyplot,
    register_figure,
    write_csv,
)

__all__ = ["COLUMNS", "DATASETS", "make"]

DATASETS = PAPER_DATASETS
QUICK_DATASETS = ("texas", "cornell")
#: the range the paper reports (dataset -> (λ_min, λ_max))
PAPER_RANGES = {"squirrel": (-3.61, 2.48)}
COLUMNS = (
    "dataset",
    "w_type",
    "edge_homophily",
    "rho_delta",
    "step_size",
    "T",
    "lambda_min",
    "lambda_max",
    "n_positive",
    "n_negative",
    "predicted_regime",
    "high_pass_channels",
    "low_pass_channels",
    "measured_energy_start",
    "measured_energy_end",
    "test_acc_split0",
    "source",
    "eigenvalues",
)


def _train_split0(dataset: str, root: Path, opts: FigureOptions, epochs: int | None) -> Path:
    from graff.configs import configs_dir, shipped_config

    path = shipped_config("graff", dataset)
    if path is None:
        raise ConfigError(
            f"no config {configs_dir() / 'graff' / f'{dataset}.yaml'}: the installed package "
            "lacks it, or $GRAFF_CONFIGS points at a folder without it"
        )
    cfg = load_config(path)
    cfg.data.splits = [0]
    if epochs is not None:
        cfg.optim.epochs = epochs
    prepared = load_prepared(cfg.data, opts.data_dir)
    out = root / f"{dataset}-graff"
    run(cfg, prepared, out)
    return out


def _record(report: dict[str, Any], source: str) -> dict[str, Any]:
    eig = sorted(report["w_eigenvalues"][0])
    energy = report["energy"]["normalized_dirichlet"]
    response = report.get("frequency_response", {})
    return {
        "dataset": report["dataset"],
        "w_type": report["w_type"],
        "edge_homophily": report["homophily"]["graph_edge"],
        "rho_delta": report["rho_delta"],
        "step_size": report["step_size"],
        "T": report["T"],
        "lambda_min": eig[0],
        "lambda_max": eig[-1],
        "n_positive": sum(v > 0 for v in eig),
        "n_negative": sum(v < 0 for v in eig),
        "predicted_regime": report["predicted_regime"],
        "high_pass_channels": response.get("high_pass", ""),
        "low_pass_channels": response.get("low_pass", ""),
        "measured_energy_start": energy[0],
        "measured_energy_end": energy[-1],
        "test_acc_split0": report["test_accuracy"],
        "source": source,
        "eigenvalues": " ".join(f"{v:.5g}" for v in eig),
    }


def collect(opts: FigureOptions) -> list[dict[str, Any]]:
    datasets = QUICK_DATASETS if opts.quick else DATASETS
    epochs = 5 if opts.quick else None
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="graff-spectrum-") as tmp,
        FitProgress("spectrum", len(datasets), opts.progress) as bar,
    ):
        for ds in datasets:
            run_dir = opts.runs / f"{ds}-graff" if opts.runs is not None else None
            if run_dir is not None and (run_dir / "split_0.pt").is_file():
                source = str(run_dir)
            else:
                bar.info(f"training {ds} (split 0)")
                run_dir = _train_split0(ds, Path(tmp), opts, epochs)
                source = "trained (split 0, shipped config)" + (" --quick" if opts.quick else "")
            report, _, _ = analyze_run(run_dir, split=0, data_dir=opts.data_dir)
            report["dataset"] = ds
            rows.append(_record(report, source))
            bar.advance(ds)
    rows.sort(key=lambda r: r["edge_homophily"])
    return rows


def plot(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(rows) + 2), 4.8), layout="constrained")
    for i, r in enumerate(rows):
        eig = [float(v) for v in r["eigenvalues"].split()]
        colors = ["tab:blue" if v > 0 else "tab:red" for v in eig]
        ax.hlines(eig, i - 0.3, i + 0.3, colors=colors, lw=0.8, alpha=0.7)
        regime = r["predicted_regime"]
        ax.text(
            i,
            r["lambda_max"] + 0.15,
            f"{regime}\n[{r['lambda_min']:.2f}, {r['lambda_max']:.2f}]",
            ha="center",
            va="bottom",
            fontsize=7,
            color="tab:red" if regime == "HFD" else "tab:blue",
        )
        if r["dataset"] in PAPER_RANGES:
            lo, hi = PAPER_RANGES[r["dataset"]]
            ax.vlines(i + 0.4, lo, hi, color="0.3", lw=2.5)
            ax.text(i + 0.45, lo, f"paper\n[{lo}, {hi}]", fontsize=6, color="0.3", va="top")
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(
        [
            f"{r['dataset']}\nh={r['edge_homophily']:.2f}\nW {r['w_type']}\n"
            f"high-pass {r['high_pass_channels']}/{len(r['eigenvalues'].split())}"
            for r in rows
        ],
        fontsize=7,
    )
    ax.set_ylabel("eigenvalues of the learned W")
    fit_title(
        fig,
        "Eigenvalues of the learned W (split 0, shipped configs; blue attract, red repel), "
        "the regime the paper's theorem predicts for F ← F + τĀFW, and how many channels of "
        "the trained linear map (with Ω, β) amplify high frequencies over [0, T]",
        fontsize=9,
    )
    ax.grid(axis="y", alpha=0.3)
    ymin = min(r["lambda_min"] for r in rows)
    ymax = max(r["lambda_max"] for r in rows)
    ax.set_ylim(min(ymin, -0.5) - 0.8, max(ymax, 0.5) + 1.4)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def findings(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for r in rows:
        paper = PAPER_RANGES.get(r["dataset"])
        ref = f" (paper [{paper[0]:.2f}, {paper[1]:.2f}])" if paper else ""
        lines.append(
            f"{r['dataset']:12s} h={r['edge_homophily']:.2f} W={r['w_type']:5s} "
            f"λ ∈ [{r['lambda_min']:+.2f}, {r['lambda_max']:+.2f}]{ref}, "
            f"{r['n_negative']}/{r['n_positive'] + r['n_negative']} negative, "
            f"predicted {r['predicted_regime']}, high-pass channels {r['high_pass_channels']}, "
            f"E(F/‖F‖) {r['measured_energy_start']:.3f} → "
            f"{r['measured_energy_end']:.3f}"
        )
    return lines


@register_figure("spectrum", "learned W eigenvalues per dataset, predicted LFD/HFD regime")
def make(opts: FigureOptions) -> tuple[list[Path], list[str]]:
    rows = collect(opts)
    opts.out.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(opts.out / "spectrum.csv", rows, COLUMNS)
    png = plot(rows, opts.out / "spectrum.png")
    return [png, csv_path], findings(rows)

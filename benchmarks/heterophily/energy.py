"""What the heterophily table's models do to the features' energy, from ``graff analyze``.

    python benchmarks/heterophily/energy.py [--runs runs/heterophily-energy] [--out energy.md]

Reads ``<runs>/<dataset>-<model>/analysis/analysis.json`` as ``energy.sh`` leaves them (split 0
of each shipped config, analysed by ``graff analyze``) and writes a Markdown table, its JSON
and a figure beside this script: per (graph, model) the normalised Dirichlet energy
E^Dir(F/‖F‖) of the features entering the first step or layer and leaving the last one, its
range along the way, the HFD limit ρ_Δ/2 (the LFD limit is 0), and for GRAFF the spectrum of
W and the regime it predicts for the linear flow. Each energy uses the Δ = I − Ā of the Ā
its model applies (with or without self-loops, as its config says: the HFD limit column
differs where they differ), so the figure divides each by its HFD limit and draws it
against the fraction of the way through the model (GRAFF's steps and a baseline's layers
differ in number). Nothing here trains or chooses: it tabulates the analyses.

Each row records the identity of the config its run was trained with (``config_sha256``), so
that a (graph, model) pair without a run under ``--runs`` keeps its row from the previous
``energy.json`` while that row is of the config shipped now (``energy.sh`` with ``PAIRS=...``
then retrains only what a shipped search replaced); a row of a config since replaced is
refused, naming the ``PAIRS`` to run (``--no-carry``: the runs alone).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

from graff.train.config import config_identity
from graff.train.resolve import resolve_config
from graff.train.rundir import read_config_yaml

HERE = Path(__file__).resolve().parent
DATASETS = ("minesweeper", "tolokers", "chameleon-filtered", "squirrel-filtered")
MODELS = ("graff", "gcn", "sage", "gat", "gat_sep", "mlp")
NAMES = {"graff": "GRAFF", "gcn": "GCN", "sage": "SAGE", "gat": "GAT", "gat_sep": "GAT-sep"}


def identity_sha256(config: Any) -> str:
    """A short fingerprint of what in a config determines its results
    (:func:`graff.train.config.config_identity`)."""
    text = json.dumps(config_identity(config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def shipped_sha256(dataset: str, model: str) -> str:
    """The fingerprint of the run ``energy.sh`` makes of the config shipped now (split 0)."""
    cfg, _ = resolve_config(dataset=dataset, model=model, overrides=["data.splits=[0]"])
    return identity_sha256(cfg)


def read(runs: Path) -> list[dict[str, Any]]:
    """One row per ``<dataset>-<model>/analysis/analysis.json`` under ``runs``, in the table's
    order (graph, then model)."""
    rows = []
    for dataset in DATASETS:
        for model in MODELS:
            folder = runs / f"{dataset}-{model}"
            path = folder / "analysis" / "analysis.json"
            if path.is_file():
                r = row(json.loads(path.read_text()), dataset, model)
                r["config_sha256"] = identity_sha256(
                    read_config_yaml(folder / "config.yaml")["config"]
                )
                rows.append(r)
    return rows


def carry(rows: list[dict[str, Any]], previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with the ``previous`` rows of the pairs they lack, each checked to be of the
    config shipped now; in the table's order."""
    have = {(r["dataset"], r["model"]) for r in rows}
    kept, stale = list(rows), []
    for r in previous:
        pair = (r["dataset"], r["model"])
        if pair in have:
            continue
        if r.get("config_sha256") == shipped_sha256(*pair):
            kept.append(r)
        else:
            stale.append(f"{r['model']}:{r['dataset']}")
    if stale:
        raise SystemExit(
            f"the previous rows of {', '.join(stale)} are of configs since replaced (or of "
            f'unrecorded ones); retrain them: PAIRS="{" ".join(stale)}" '
            "benchmarks/heterophily/energy.sh (or pass --no-carry for the runs' rows alone)"
        )
    order = {(d, m): k for k, (d, m) in enumerate((d, m) for d in DATASETS for m in MODELS)}
    return sorted(kept, key=lambda r: order[(r["dataset"], r["model"])])


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def row(report: dict[str, Any], dataset: str, model: str) -> dict[str, Any]:
    """The numbers the table shows, from one ``graff analyze`` report."""
    energy = report["energy"]["normalized_dirichlet"]
    out: dict[str, Any] = {
        "dataset": dataset,
        "model": model,
        "edge_homophily": report["homophily"]["graph_edge"],
        "adjusted_homophily": report["homophily"].get("graph_adjusted"),
        "metric": report.get("metric", "accuracy"),
        "test_split0": 100 * report.get("test_score", report["test_accuracy"]),
        "energy": energy,
        "first": energy[0],
        "last": energy[-1],
        "low": min(energy),
        "high": max(energy),
        "hfd_limit": report["measured"]["hfd_limit"],
        "depth": _count(len(energy) - 1, "layer" if "layers" in report else "step"),
    }
    if "w_eigenvalues" in report:
        kinds = report.get("frequency_response")
        out |= {
            "w_type": report["w_type"],
            "lambda_plus": report["lambda_plus"],
            "lambda_minus": report["lambda_minus"],
            "predicted": report["predicted_regime"],
            "time_dependent_w": report.get("time_dependent_w", False),
            "channels": None if kinds is None else (kinds["low_pass"], kinds["high_pass"]),
        }
    return out


def _h(r: dict[str, Any]) -> str:
    """The graph's adjusted homophily (its edge homophily where the analysis has none)."""
    if r.get("adjusted_homophily") is None:
        return f"edge {r['edge_homophily']:.2f}"
    return f"{r['adjusted_homophily']:.2f}".replace("-0.00", "0.00")


def markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "| graph (adjusted homophily) | model | test, split 0 | depth | E(F/‖F‖) in → out "
        "| range along the way | HFD limit ρ_Δ/2 | GRAFF: W, λ₊ / \\|λ₋\\| "
        "| predicted (linear flow) | channels falling / rising with frequency |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        metric = "ROC-AUC" if r["metric"] == "roc_auc" else "accuracy"
        graff = ("—", "—", "—")
        if "w_type" in r:
            w = r["w_type"] + (", one per step (first shown)" if r["time_dependent_w"] else "")
            ch = "—" if r["channels"] is None else f"{r['channels'][0]} / {r['channels'][1]}"
            graff = (
                f"{w}, {r['lambda_plus']:.2f} / {r['lambda_minus']:.2f}",
                r["predicted"],
                ch,
            )
        lines.append(
            f"| {r['dataset']} ({_h(r)}) | {NAMES.get(r['model'], r['model'])} "
            f"| {r['test_split0']:.2f} {metric} | {r['depth']} "
            f"| {r['first']:.3f} → {r['last']:.3f} | {r['low']:.3f}–{r['high']:.3f} "
            f"| {r['hfd_limit']:.3f} | {graff[0]} | {graff[1]} | {graff[2]} |"
        )
    return "\n".join(lines) + "\n"


COLORS = {
    "graff": "black",
    "gcn": "tab:blue",
    "sage": "tab:orange",
    "gat": "tab:green",
    "gat_sep": "tab:red",
    "mlp": "tab:gray",
}


def plot(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """One panel per graph: each model's normalised energy as a fraction of its HFD limit
    (0: the LFD limit, 1: the HFD limit ρ_Δ/2 of the Ā it applies, so that models with and
    without self-loops compare) against the fraction of the way through it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    graphs = [d for d in DATASETS if any(r["dataset"] == d for r in rows)]
    if not graphs:
        return None
    fig, axes = plt.subplots(
        1,
        len(graphs),
        figsize=(3.3 * len(graphs), 3.6),
        layout="constrained",
        squeeze=False,
        sharey=True,
    )
    for ax, dataset in zip(axes[0], graphs, strict=True):
        mine = [r for r in rows if r["dataset"] == dataset]
        for r in mine:
            n = len(r["energy"]) - 1
            xs = [k / n for k in range(n + 1)] if n else [0.0]
            ys = [v / r["hfd_limit"] for v in r["energy"]]
            ax.plot(
                xs,
                ys,
                marker=".",
                lw=2.4 if r["model"] == "graff" else 1.2,
                color=COLORS.get(r["model"]),
                label=NAMES.get(r["model"], r["model"]),
            )
        ax.axhline(1.0, color="tab:red", ls=":", lw=1)
        ax.axhline(0.0, color="tab:blue", ls=":", lw=1)
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(f"{dataset} (adjusted h = {_h(mine[0])})", fontsize=10)
        ax.set_xlabel("fraction of the steps / layers")
    axes[0][0].set_ylabel("E(F/‖F‖) ÷ ρ_Δ/2  (0: LFD limit, 1: HFD limit)")
    handles = {}
    for ax in axes[0]:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    fig.legend(handles.values(), handles.keys(), loc="outside right center", fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=Path("runs/heterophily-energy"))
    ap.add_argument("--out", type=Path, default=HERE / "energy.md")
    ap.add_argument(
        "--no-carry",
        dest="carry",
        action="store_false",
        help="tabulate the runs alone (default: also the previous energy.json's rows of the "
        "configs shipped now that have no run here)",
    )
    args = ap.parse_args()
    rows = read(args.runs)
    previous = args.out.with_suffix(".json")
    if args.carry and rows and previous.is_file():
        rows = carry(rows, json.loads(previous.read_text()))
    if not rows:
        raise SystemExit(f"no {args.runs}/<dataset>-<model>/analysis/analysis.json: run energy.sh")
    args.out.write_text(markdown(rows))
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    figure = plot(rows, args.out.with_suffix(".png"))
    print(f"wrote {args.out}, {args.out.with_suffix('.json')}" + (f", {figure}" if figure else ""))


if __name__ == "__main__":
    main()

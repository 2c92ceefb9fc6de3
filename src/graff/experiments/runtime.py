"""``runtime``: inference time vs depth on Cora, GRAFF against GCN (the paper's Figure 4).

The timing is :mod:`graff.bench` (the code behind ``graff bench``): GRAFF with ``depth``
Euler steps (τ = 1, DD W, diagonal Ω, shared weights) against PyG's GCN with ``depth``
layers, both of width 64, one forward pass in eval mode, run interleaved in one process and
compared by their medians — so the ratio is robust to a busy machine even when the absolute
times are not. The paper's claim: GRAFF is faster than GCN (it mixes channels with one
shared W, so a step costs O(|E|d + |V|d²) without a per-layer weight).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from ._common import FigureOptions, FitProgress, pyplot, register_figure, write_csv

__all__ = ["COLUMNS", "Settings", "make", "settings"]

COLUMNS = (
    "graph",
    "nodes",
    "edges",
    "hidden",
    "depth",
    "mode",
    "graff_ms",
    "gcn_ms",
    "ratio",
    "repeats",
    "threads",
)


@dataclass(frozen=True)
class Settings:
    graph: str = "cora"
    depths: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128)
    hidden: int = 64
    repeats: int = 7


def settings(quick: bool) -> Settings:
    return Settings(depths=(2, 4), repeats=2) if quick else Settings()


def measure(s: Settings, data_dir: str | None, progress: bool = True) -> list[dict[str, Any]]:
    from graff.bench import bench_graph, run_bench

    graph = bench_graph(s.graph, data_dir)
    with FitProgress("runtime", len(s.depths), progress) as bar:
        records = run_bench(
            [graph],
            s.depths,
            ("inference",),
            hidden=s.hidden,
            repeats=s.repeats,
            memory=False,
            on_record=lambda rec: bar.advance(f"depth {rec.depth}: ratio {rec.ratio:.2f}"),
        )
    return [asdict(r) for r in records]


def plot(rows: Sequence[dict[str, Any]], s: Settings, path: Path) -> Path:
    plt = pyplot()
    depths = [r["depth"] for r in rows]
    fig, (ax, rax) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax.plot(depths, [r["graff_ms"] for r in rows], marker="o", color="tab:purple", label="GRAFF")
    ax.plot(depths, [r["gcn_ms"] for r in rows], marker="o", ls="--", color="black", label="GCN")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_ylabel("inference time (ms, median)")
    ax.legend()
    rax.plot(depths, [r["ratio"] for r in rows], marker="o", color="tab:purple")
    rax.axhline(1.0, color="gray", ls=":", lw=1)
    rax.set_xscale("log", base=2)
    rax.set_ylim(0, max(1.2, 1.1 * max(r["ratio"] for r in rows)))
    rax.set_ylabel("GRAFF time / GCN time")
    for a in (ax, rax):
        a.set_xticks(depths)
        a.set_xticklabels([str(d) for d in depths])
        a.set_xlabel("depth (GCN layers = GRAFF Euler steps)")
        a.grid(alpha=0.3)
    threads = rows[0]["threads"] if rows else torch.get_num_threads()
    fig.suptitle(
        f"Inference on {s.graph}, width {s.hidden}, {threads} thread(s), median of "
        f"{s.repeats} interleaved runs (graff.bench)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


@register_figure("runtime", "inference time vs depth on Cora, GRAFF vs GCN, as ratios")
def make(opts: FigureOptions) -> tuple[list[Path], list[str]]:
    s = settings(opts.quick)
    rows = measure(s, opts.data_dir, opts.progress)
    opts.out.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(opts.out / "runtime.csv", rows, COLUMNS)
    png = plot(rows, s, opts.out / "runtime.png")
    lines = [
        "GRAFF / GCN inference time on "
        + s.graph
        + ": "
        + ", ".join(f"depth {r['depth']} {r['ratio']:.2f}" for r in rows)
    ]
    return [png, csv_path], lines

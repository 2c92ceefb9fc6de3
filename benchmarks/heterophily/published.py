"""Platonov et al.'s published setting: their rows rerun by graff (a GPU job), and its cost here.

    python benchmarks/heterophily/published.py --models gcn,gat-sep --device cuda
    python benchmarks/heterophily/published.py --cost 3 --threads 1 --datasets minesweeper,tolokers

The configs in ``published/`` are their setting (``train.py`` of
yandex-research/heterophilous-graphs and their section 4: hidden 512, dropout 0.2, LayerNorm,
AdamW lr 3e-5 without weight decay, 1000 steps, 8 heads), one per row of their table
(resnet = graff's residual mlp, gcn, sage, gat, gat-sep, gt, gt-sep). They chose the depth in
1–5 on validation; so does this script: each depth is a full 10-split ``graff train`` run
(a resumable run directory under ``--out``), and the row is the depth with the best mean
validation score over the 10 splits; the test mean ± std of that depth is reported, the
others' kept for the record.

``--precision bf16`` runs either in bfloat16 mixed precision (``optim.precision``; their
``train.py`` has ``--amp``), its run directories apart (``...-bf16``).

``--cost N`` trains nothing to the end: for every (row, dataset) at depths 1 and 5 it times
N epochs of one split (after one warm-up epoch; an epoch is a training step and the
evaluation, as in a run) and extrapolates a row's cost at this device and thread count: 5
depths × 10 splits × 1000 epochs. Results go to ``--json`` and a Markdown table beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from graff.train import load_prepared, resolve_config, run
from graff.train.fit import train_split
from graff.train.models import build_model

HERE = Path(__file__).resolve().parent / "published"
ROWS = ("resnet", "gcn", "sage", "gat", "gat-sep", "gt", "gt-sep")
DEPTHS = (1, 2, 3, 4, 5)


def _config(row: str, dataset: str, depth: int, device: str, precision: str) -> Any:
    cfg, _ = resolve_config(
        dataset,
        config=HERE / f"{row}.yaml",
        overrides=[f"model.num_layers={depth}", f"optim.precision={precision}"],
        device=device,
    )
    return cfg


def rerun(
    rows: list[str], datasets: list[str], out: Path, device: str, precision: str
) -> list[dict[str, Any]]:
    """Every depth of every (row, dataset) on 10 splits; the depth with the best mean
    validation is the row's."""
    table = []
    for ds in datasets:
        for row in rows:
            runs = {}
            for depth in DEPTHS:
                cfg = _config(row, ds, depth, device, precision)
                tag = "" if precision == "fp32" else f"-{precision}"
                summary = run(cfg, out_dir=out / f"{ds}-{row}{tag}" / f"depth-{depth}")
                runs[depth] = summary
                print(
                    f"{row} on {ds}, depth {depth}: val {statistics.mean(summary.val):.2f}, "
                    f"test {summary.mean:.2f} ± {summary.std:.2f}",
                    flush=True,
                )
            best = max(DEPTHS, key=lambda d: statistics.mean(runs[d].val))
            s = runs[best]
            table.append(
                {
                    "row": row,
                    "dataset": ds,
                    "depth": best,
                    "test_mean": s.mean,
                    "test_std": s.std,
                    "val_mean": statistics.mean(s.val),
                    "metric": s.metric,
                    "precision": precision,
                    "by_depth": {
                        d: {"val": statistics.mean(r.val), "test": r.mean} for d, r in runs.items()
                    },
                }
            )
    return table


def cost(
    rows: list[str], datasets: list[str], epochs: int, device: str, precision: str
) -> list[dict[str, Any]]:
    out = []
    for ds in datasets:
        data = None
        for row in rows:
            per_depth = {}
            for depth in (1, 5):
                cfg = _config(row, ds, depth, device, precision)
                if data is None:
                    data = load_prepared(cfg).to(torch.device(cfg.device))
                cfg.optim.epochs, cfg.optim.patience = epochs + 1, None
                torch.manual_seed(0)
                model = build_model(cfg.model, data.x.size(1), data.num_classes).to(data.x.device)
                stamps: list[float] = []
                tick = stamps.append
                train_split(
                    model,
                    data.x,
                    data.edge_index,
                    data.y,
                    data.train_mask[:, 0],
                    data.val_mask[:, 0],
                    data.test_mask[:, 0],
                    cfg.optim,
                    metric=data.metric,
                    on_epoch=lambda e, sc, tick=tick: tick(time.perf_counter()),
                )
                per_depth[depth] = (stamps[-1] - stamps[0]) / epochs  # after the warm-up epoch
                print(f"{row} on {ds}, depth {depth}: {per_depth[depth]:.2f} s / epoch", flush=True)
            # depths 1..5 cost about linearly in depth: interpolate 2, 3, 4
            sweep = sum(per_depth[1] + (per_depth[5] - per_depth[1]) * (d - 1) / 4 for d in DEPTHS)
            out.append(
                {
                    "row": row,
                    "dataset": ds,
                    "seconds_per_epoch": per_depth,
                    "row_hours": sweep * 10 * 1000 / 3600,
                    "threads": torch.get_num_threads(),
                    "device": device,
                    "precision": precision,
                    "epochs_timed": epochs,
                }
            )
    return out


def _markdown(rows: list[dict[str, Any]]) -> str:
    if rows and "row_hours" in rows[0]:
        lines = [
            "| row | graph | precision | s / epoch, depth 1 | s / epoch, depth 5 | "
            "row (5 depths × 10 splits × 1000 epochs) |",
            "|---|---|---|---|---|---|",
        ]
        for r in rows:
            sp = r["seconds_per_epoch"]
            lines.append(
                f"| {r['row']} | {r['dataset']} | {r.get('precision', 'fp32')} | {sp[1]:.2f} | "
                f"{sp[5]:.2f} | {r['row_hours']:.0f} h |"
            )
    else:
        lines = [
            "| row | graph | depth (validation) | test | validation |",
            "|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['row']} | {r['dataset']} | {r['depth']} | "
                f"{r['test_mean']:.2f} ± {r['test_std']:.2f} | {r['val_mean']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--models", default=",".join(ROWS), help=f"rows: {', '.join(ROWS)}")
    p.add_argument("--datasets", default="minesweeper,tolokers")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int)
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="bf16: mixed precision (optim.precision; their --amp, in bfloat16)",
    )
    p.add_argument("--out", default="runs/heterophily/published", help="run directories")
    p.add_argument("--cost", type=int, metavar="N", help="time N epochs per cell instead")
    p.add_argument("--json", help="where the results go (default: beside --out or the cost file)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = [r.strip() for r in args.models.split(",")]
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        p.error(f"unknown rows {unknown}; rows: {', '.join(ROWS)}")
    datasets = [d.strip() for d in args.datasets.split(",")]
    if args.cost:
        result = cost(rows, datasets, args.cost, args.device, args.precision)
        target = Path(args.json or "benchmarks/heterophily/results-cost.json")
    else:
        result = rerun(rows, datasets, Path(args.out), args.device, args.precision)
        target = Path(args.json or Path(args.out) / "published.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2) + "\n")
    target.with_suffix(".md").write_text(_markdown(result))
    print(_markdown(result))


if __name__ == "__main__":
    main()

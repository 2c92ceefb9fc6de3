"""A rerun at a longer epoch cap (epochs.sh) against the shorter cap it extends, split by
split, from the rerun's own curves: training is the same up to the shorter cap (same seed,
same config but the cap; patience only ends a run), so the shorter cap's result is the best
validation epoch among its first ``--cap`` epochs (the first of ties, as training keeps it).

    python benchmarks/heterophily/epochs/compare.py \\
        benchmarks/heterophily/epochs/minesweeper-graff-1000 --cap 500
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path
from typing import Any

from graff.errors import RunDirError
from graff.train.rundir import read_config_yaml, read_split


def compare(folder: Path, cap: int) -> list[dict[str, Any]]:
    """Per finished split: the longer run's (val, test, best epoch) and the cap's. Each
    split's record is read by :func:`graff.train.rundir.read_split`, which checks it, its
    checkpoint and its curves against their sha256 (a damaged split is refused by name)."""
    rows = []
    for record in sorted(folder.glob("split_*.json"), key=lambda p: int(p.stem[6:])):
        try:
            split = read_split(folder, int(record.stem[6:]))
        except RunDirError as err:
            raise SystemExit(f"{record}: {err}") from None
        k, metric = split["split"], split["metric"]
        with open(folder / f"history_{k}.csv", newline="") as fh:
            curve = [r for r in csv.DictReader(fh) if int(r["epoch"]) <= cap]
        if not curve:
            raise SystemExit(f"{folder}/history_{k}.csv has no epoch ≤ {cap}")
        best = max(curve, key=lambda r: float(r[f"val_{metric}"]))  # the first of ties
        rows.append({
            "split": k, "metric": metric,
            "val": split["val"], "test": split["test"], "best_epoch": split["best_epoch"],
            "cap_val": float(best[f"val_{metric}"]), "cap_test": float(best[f"test_{metric}"]),
            "cap_best_epoch": int(best["epoch"]),
        })  # fmt: skip
    return rows


def _mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{statistics.mean(values):.2f} ± {std:.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path, help="a rerun folder written by epochs.sh")
    p.add_argument("--cap", type=int, default=500, help="the shorter cap (default 500)")
    args = p.parse_args(argv)
    rows = compare(args.folder, args.cap)
    if not rows:
        raise SystemExit(f"{args.folder}: no finished split (split_<k>.json) yet")
    meta = read_config_yaml(args.folder / "config.yaml")
    if meta is None:
        raise SystemExit(f"{args.folder}: no graff run config.yaml (write it with epochs.sh)")
    longer = meta["config"]["optim"]["epochs"]
    print(f"| split | best epoch (cap {longer}) | val | test | best epoch (cap {args.cap}) "
          "| val | test |\n|---|---|---|---|---|---|---|")  # fmt: skip
    for r in rows:
        print(f"| {r['split']} | {r['best_epoch']} | {r['val']:.2f} | {r['test']:.2f} | "
              f"{r['cap_best_epoch']} | {r['cap_val']:.2f} | {r['cap_test']:.2f} |")  # fmt: skip
    val = statistics.mean(r["val"] for r in rows)
    cap_val = statistics.mean(r["cap_val"] for r in rows)
    past = sum(r["best_epoch"] > args.cap for r in rows)
    print(
        f"\n{len(rows)} split(s); cap {longer}: validation {val:.2f}, test "
        f"{_mean_std([r['test'] for r in rows])}; cap {args.cap}: validation {cap_val:.2f}, "
        f"test {_mean_std([r['cap_test'] for r in rows])}; {past} split(s) chose an epoch "
        f"past {args.cap}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Splits side by side against one split at a time: the same numbers, up to summation order.

    python benchmarks/equivalence.py texas,wisconsin,cornell_old,chameleon,cora,\
        squirrel,film,citeseer,pubmed

For each dataset, GRAFF's shipped config trained by ``graff.train.run`` with ``batch=1`` (one
split at a time) and ``batch=10`` (all 10 splits in one pass), one thread; prints one JSON
record per dataset as it finishes, then the Markdown table of the README's "What is
bit-reproducible" (mean ± sample std of each, |difference of means| / std, splits whose test
accuracy is identical).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import torch

from graff.perf import tune_allocator
from graff.train import load_prepared, resolve_config, run
from graff.train.runner import split_chunks


def compare(dataset: str) -> dict[str, Any]:
    cfg, _ = resolve_config(dataset)
    data = load_prepared(cfg)
    chunks = [len(c) for c in split_chunks(cfg, data, list(range(data.num_splits)))]
    one, stacked = run(cfg, data, batch=1), run(cfg, data, batch=10)
    return {
        "dataset": dataset,
        "default_chunks": chunks,
        "per_split": {"mean": one.mean, "std": one.std, "test": one.test},
        "stacked": {"mean": stacked.mean, "std": stacked.std, "test": stacked.test},
    }


def table(records: list[dict[str, Any]]) -> str:
    lines = [
        "| dataset | splits side by side by default | one split at a time | all 10 side by "
        "side | \\|difference of means\\| / std | splits with the same test accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for r in records:
        a, b = r["per_split"], r["stacked"]
        same = sum(abs(x - y) < 1e-9 for x, y in zip(a["test"], b["test"], strict=True))
        chunks = r["default_chunks"]
        side = "1" if max(chunks) == 1 else " + ".join(map(str, chunks))
        lines.append(
            f"| {r['dataset']} | {side} | {a['mean']:.2f} ± {a['std']:.2f} | "
            f"{b['mean']:.2f} ± {b['std']:.2f} | {abs(a['mean'] - b['mean']) / a['std']:.2f} | "
            f"{same} of {len(a['test'])} |"
        )
    return "\n".join(lines)


def main() -> None:
    tune_allocator()
    torch.set_num_threads(1)
    records = []
    for dataset in sys.argv[1].split(","):
        records.append(compare(dataset))
        print(json.dumps(records[-1]), flush=True)
    print(table(records))


if __name__ == "__main__":
    main()

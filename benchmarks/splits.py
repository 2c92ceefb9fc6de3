"""Splits side by side against one split at a time: wall time of a 10-split run and a search.

    python benchmarks/splits.py --out benchmarks/results-splits.json
    python benchmarks/splits.py --model gcn --set model.block=residual --graphs texas \
        --tune-graphs "" --out /tmp/splits-residual.json      # another model's config


In one process and one thread, for each graph: ``graff.train.run`` of GRAFF's config over 10
splits with ``batch=1`` (one split at a time, the path before batching), ``batch=None`` (the
default: as many splits side by side as stay in the cache, see ``graff.train.STACK_BYTES``)
and ``batch=10`` (all ten in one pass); the three run interleaved, ``--repeats`` times, and
the best time of each is kept. Then a 20-trial ``graff.tune.tune`` of GRAFF with
``batch=1`` and with the default. Epochs are cut on the large graphs (stated in the
output): the ratio is a ratio of per-epoch costs. Writes JSON and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from graff.data import csbm
from graff.perf import tune_allocator
from graff.train import load_prepared, prepare_data, resolve_config, run

#: (graph, epochs used here or None for the config's own)
GRAPHS = (("texas", None), ("chameleon", None), ("pubmed", 30), ("synthetic-100k", 10))
VARIANTS = (("one split at a time", 1), ("default", None), ("all 10 side by side", 10))


def _data(name: str, model: str = "graff", overrides: list[str] | None = None) -> tuple[Any, Any]:
    if name == "synthetic-100k":
        cfg, _ = resolve_config("csbm", model, None, overrides or [])
        data = prepare_data(
            csbm(num_nodes=100_000, num_classes=5, num_features=64, num_splits=10, seed=0)
        )
        return cfg, data
    cfg, _ = resolve_config(name, model, None, overrides or [])
    return cfg, load_prepared(cfg)


def bench_runs(
    name: str,
    epochs: int | None,
    repeats: int,
    model: str = "graff",
    overrides: list[str] | None = None,
) -> dict[str, Any]:
    cfg, data = _data(name, model, overrides)
    if epochs is not None:
        cfg.optim.epochs = epochs
    best: dict[str, float] = {}
    means: dict[str, float] = {}
    for _ in range(repeats):
        for label, batch in VARIANTS:
            start = time.perf_counter()
            summary = run(cfg, data, batch=batch)
            took = time.perf_counter() - start
            best[label] = min(best.get(label, float("inf")), took)
            means[label] = summary.mean
    base = best[VARIANTS[0][0]]
    return {
        "graph": name,
        "model": model,
        "overrides": list(overrides or []),
        "nodes": int(data.x.size(0)),
        "hidden": cfg.model.hidden,
        "epochs": cfg.optim.epochs,
        "seconds": best,
        "speedup": {k: base / v for k, v in best.items()},
        "test_mean": means,
    }


def bench_tune(name: str, trials: int) -> dict[str, Any]:
    from graff.tune import tune

    out: dict[str, Any] = {"graph": name, "trials": trials, "seconds": {}}
    for label, batch in (("one split at a time", 1), ("default", None)):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            res = tune(
                name,
                "graff",
                trials=trials,
                final=False,
                plots=False,
                out_dir=Path(tmp) / "t",
                threads=1,
                batch=batch,
            )
            out["seconds"][label] = time.perf_counter() - start
            out.setdefault("best_value", {})[label] = res.best_value
    base = out["seconds"]["one split at a time"]
    out["trials_per_hour"] = {k: 3600 * trials / v for k, v in out["seconds"].items()}
    out["speedup"] = {k: base / v for k, v in out["seconds"].items()}
    return out


def markdown(payload: dict[str, Any]) -> str:
    lines = [
        "| graph | model | nodes | hidden | epochs | " + " | ".join(v for v, _ in VARIANTS) + " |",
        "|---|---|---|---|---|" + "---|" * len(VARIANTS),
    ]
    for r in payload["runs"]:
        cells = [f"{r['seconds'][v]:.1f} s ({r['speedup'][v]:.2f}×)" for v, _ in VARIANTS]
        lines.append(
            f"| {r['graph']} | {' '.join([r.get('model', 'graff'), *r.get('overrides', [])])} "
            f"| {r['nodes']} | {r['hidden']} | {r['epochs']} | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "| search (20 trials) | one split at a time | default | trials/hour |",
        "|---|---|---|---|",
    ]
    for r in payload["tune"]:
        s, tph = r["seconds"], r["trials_per_hour"]
        lines.append(
            f"| {r['graph']} | {s['one split at a time']:.0f} s | {s['default']:.0f} s "
            f"({r['speedup']['default']:.2f}×) | {tph['one split at a time']:.0f} → "
            f"{tph['default']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--graphs", default=",".join(g for g, _ in GRAPHS))
    p.add_argument("--tune-graphs", default="texas,chameleon")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--out", default="benchmarks/results-splits.json")
    p.add_argument("--model", default="graff", help="the model of the 10-split runs")
    p.add_argument("--set", action="append", default=[], help="KEY=VALUE on its config")
    args = p.parse_args()
    tune_allocator()
    torch.set_num_threads(1)
    epochs = dict(GRAPHS)
    payload: dict[str, Any] = {"threads": 1, "torch": torch.__version__, "runs": [], "tune": []}
    for g in filter(None, args.graphs.split(",")):
        payload["runs"].append(bench_runs(g, epochs.get(g), args.repeats, args.model, args.set))
        print(json.dumps(payload["runs"][-1]), flush=True)
    for g in filter(None, args.tune_graphs.split(",")):
        payload["tune"].append(bench_tune(g, args.trials))
        print(json.dumps(payload["tune"][-1]), flush=True)
    out = Path(args.out)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(payload))
    print(markdown(payload))


if __name__ == "__main__":
    main()

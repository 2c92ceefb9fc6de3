"""GRAFF past one machine's memory: a streamed synthetic graph, precomputed propagation and
node mini-batches, stage by stage, with the peak memory of each stage.

    python benchmarks/scale.py --nodes 5000000 --edges 50000000 --work /tmp/graff-scale
    python benchmarks/scale.py --nodes 1000000 --edges 10000000 --full --work /tmp/graff-scale

Each stage runs in a process of its own, so its peak resident memory (``ru_maxrss``) is its
own: ``generate`` (:func:`graff.scale.write_synthetic_graph`, 64 features, 5 classes,
homophily 0.7), ``precompute`` (Ā in streamed passes, :func:`graff.scale.synthetic_adjacency`,
then S = Ā^k [X, 1] for k = 0..3 written to disk, :func:`graff.scale.precompute_on_disk`),
``train`` (linear GRAFF, hidden 64, T = 3, τ = 1, 5 epochs of node mini-batches from the
memory-mapped S, :func:`graff.train.minibatch.train_precomputed`, evaluated on the train,
val and test nodes after every epoch) and, with ``--full``, ``full`` (the same model and
epochs trained full-batch by :func:`graff.train.fit.train_split`, the path of ``graff
train``; its time includes building Ā). Results are appended to ``--out`` (JSON) and a
Markdown table beside it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

HIDDEN, T, STEP, EPOCHS, LR = 64, 3.0, 1.0, 5, 0.01


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _graph(args: argparse.Namespace) -> Any:
    from graff.scale.synthetic import write_synthetic_graph

    return write_synthetic_graph(
        Path(args.work) / f"graph-{args.nodes}-{args.edges}",
        args.nodes,
        args.edges,
        seed=0,
        progress=not args.no_progress,
    )


def _optim(batch_size: int | None) -> Any:
    from graff.train.config import OptimConfig

    return OptimConfig(
        lr=LR,
        weight_decay=0.0,
        epochs=EPOCHS,
        patience=None,
        mode="precomputed",
        batch_size=batch_size,
    )


def _model(graph: Any) -> Any:
    from graff.scale import PrecomputedGRAFF

    torch.manual_seed(0)
    return PrecomputedGRAFF(graph.num_features, HIDDEN, graph.num_classes, T=T, step_size=STEP)


def stage_generate(args: argparse.Namespace) -> dict[str, Any]:
    start = time.perf_counter()
    _graph(args)
    return {"seconds": time.perf_counter() - start}


def stage_precompute(args: argparse.Namespace) -> dict[str, Any]:
    from graff.scale import precompute_on_disk
    from graff.scale.synthetic import synthetic_adjacency

    graph = _graph(args)
    start = time.perf_counter()
    adj = synthetic_adjacency(graph, progress=not args.no_progress)
    built = time.perf_counter() - start
    x = torch.from_numpy(np.load(Path(graph.folder) / "x.npy", mmap_mode="c"))
    model = _model(graph)
    folder = Path(args.work) / f"S-{args.nodes}-{args.edges}"
    stored = precompute_on_disk(
        x, None, model.num_steps, folder, adj=adj, progress=not args.no_progress
    )
    return {
        "adjacency_seconds": built,
        "nnz": int(adj.values().numel()),
        "seconds": time.perf_counter() - start,
        "s_gib": float(np.prod(stored.shape)) * 4 / 2**30,
    }


def _epoch_times(on: list[float]) -> dict[str, Any]:
    gaps = [b - a for a, b in itertools.pairwise(on)]
    return {"epoch_seconds": gaps, "seconds_per_epoch": float(np.median(gaps)) if gaps else None}


def stage_train(args: argparse.Namespace) -> dict[str, Any]:
    from graff.scale import open_precomputed
    from graff.train.minibatch import train_precomputed

    graph = _graph(args)
    stored = open_precomputed(Path(args.work) / f"S-{args.nodes}-{args.edges}")
    train, val, test = graph.masks()
    y = torch.from_numpy(np.array(graph.y))
    model = _model(graph)
    stamps = [time.perf_counter()]
    res = train_precomputed(
        model,
        stored,
        y,
        train,
        val,
        test,
        _optim(args.batch_size),
        on_epoch=lambda e, sc: stamps.append(time.perf_counter()),
    )
    return {
        "seconds": stamps[-1] - stamps[0],
        **_epoch_times(stamps),
        "batch_size": args.batch_size,
        "train_nodes": int(train.sum()),
        "test_accuracy": 100 * res.test,
        "val_accuracy": 100 * res.val,
    }


def stage_full(args: argparse.Namespace) -> dict[str, Any]:
    from graff.nn import GRAFF
    from graff.train.fit import train_split

    graph = _graph(args)
    x = torch.from_numpy(np.array(graph.x))
    e = torch.from_numpy(np.array(graph.edges)).t()
    edge_index = torch.cat([e, e.flip(0)], dim=1).contiguous()
    del e
    train, val, test = graph.masks()
    y = torch.from_numpy(np.array(graph.y))
    torch.manual_seed(0)
    model = GRAFF(graph.num_features, HIDDEN, graph.num_classes, T=T, step_size=STEP)
    optim = _optim(None)
    optim.mode = "full"
    stamps = [time.perf_counter()]
    res = train_split(
        model,
        x,
        edge_index,
        y,
        train,
        val,
        test,
        optim,
        on_epoch=lambda e, sc: stamps.append(time.perf_counter()),
    )
    return {
        "seconds": stamps[-1] - stamps[0],
        **_epoch_times(stamps),
        "first_epoch_seconds": stamps[1] - stamps[0],
        "test_accuracy": 100 * res.test,
        "val_accuracy": 100 * res.val,
    }


STAGES = {
    "generate": stage_generate,
    "precompute": stage_precompute,
    "train": stage_train,
    "full": stage_full,
}


def _child(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", UserWarning)
    out = STAGES[args.stage](args)
    out["peak_gib"] = _peak_gib()
    print(json.dumps(out))


def _markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| graph | stage | time | per epoch | peak memory | notes |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        per = r.get("seconds_per_epoch")
        notes = []
        if "adjacency_seconds" in r:
            built = f"Ā ({r['nnz']:,} non-zeros) {r['adjacency_seconds']:.0f} s"
            notes.append(f"{built}; S {r['s_gib']:.1f} GiB on disk")
        if "test_accuracy" in r:
            notes.append(f"test accuracy {r['test_accuracy']:.1f} %")
        if r.get("batch_size"):
            notes.append(f"batches of {r['batch_size']} of {r['train_nodes']:,} training nodes")
        lines.append(
            f"| {r['nodes']:,} nodes / {r['edges']:,} edges | {r['stage']} | "
            f"{r['seconds']:.0f} s | {'' if per is None else f'{per:.1f} s'} | "
            f"{r['peak_gib']:.2f} GiB | {'; '.join(notes)} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--nodes", type=int, default=1_000_000)
    p.add_argument("--edges", type=int, default=10_000_000, help="undirected edges")
    p.add_argument("--work", default="/tmp/graff-scale", help="graph and S files (large)")
    p.add_argument("--batch-size", type=int, default=8192)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--full", action="store_true", help="also train full-batch GRAFF")
    p.add_argument("--out", default="benchmarks/results-scale.json")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.stage is not None:
        _child(args)
        return
    stages = ["generate", "precompute", "train"] + (["full"] if args.full else [])
    out = Path(args.out)
    rows: list[dict[str, Any]] = json.loads(out.read_text()) if out.is_file() else []
    for stage in stages:
        cmd = [sys.executable, __file__, "--stage", stage, *sys.argv[1:]]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
        row = {
            "nodes": args.nodes,
            "edges": args.edges,
            "stage": stage,
            "threads": args.threads,
            "torch": torch.__version__,
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            **json.loads(proc.stdout.strip().splitlines()[-1]),
        }
        print(json.dumps(row), flush=True)
        rows = [
            r
            for r in rows
            if (r["nodes"], r["edges"], r["stage"]) != (args.nodes, args.edges, stage)
        ]
        rows.append(row)
        out.write_text(json.dumps(rows, indent=2) + "\n")
        out.with_suffix(".md").write_text(_markdown(rows))


if __name__ == "__main__":
    main()

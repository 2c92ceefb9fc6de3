"""torch.compile against eager: compile time and steady-state training epochs.

    python benchmarks/compile.py --out benchmarks/results-compile.json

In one process and one thread, for each graph (dense features, split 0) and each model
(GRAFF, and GCN as a reference, each with its shipped config for the graph): an eager
model and a ``torch.compile``-d copy (inductor, the default backend; same initial
parameters) train full-batch epochs (zero_grad, forward, cross-entropy on the training
nodes, backward, Adam step). The first compiled epoch includes Dynamo's tracing and
inductor's C++ compilation (in a fresh, empty inductor cache directory: the first compile
of a process that finds nothing on disk): its excess over a steady epoch is the *compile
time*. Then ``--epochs`` epochs of each run interleaved (eager, compiled, eager, …) and
the medians are compared: *ratio* = compiled / eager (below 1: compiled is faster). Last,
both models in eval mode with the eager model's trained parameters: the largest logit
difference relative to the largest logit (*gap*). For scale, a third model, eager with the
features as CSR where ``graff train`` would pass them so (sparse bag-of-words; a compiled
model takes dense features only), runs interleaved with the two. Writes JSON and Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graff.train import load_prepared, resolve_config
from graff.train.models import build_model
from graff.train.runner import model_features

GRAPHS = ("texas", "cora")
MODELS = ("graff", "gcn")


def _epoch(
    run: Callable[..., Tensor], opt: torch.optim.Optimizer, x: Tensor, data: Any, mask: Tensor
) -> float:
    start = time.perf_counter()
    opt.zero_grad()
    loss = F.cross_entropy(run(x, data.edge_index)[mask], data.y[mask])
    loss.backward()
    opt.step()
    return time.perf_counter() - start


def bench(graph: str, model_name: str, epochs: int) -> dict[str, Any]:
    cfg, _ = resolve_config(graph, model_name)
    data = load_prepared(cfg)
    mcfg = cfg.model
    mask = data.train_mask[:, 0]
    models: dict[str, nn.Module] = {}
    for label in ("eager", "compiled", "eager, CSR features"):
        torch.manual_seed(0)
        models[label] = build_model(mcfg, data.x.size(1), data.num_classes).train()
    torch._dynamo.reset()
    runs: dict[str, Callable[..., Tensor]] = {
        "eager": models["eager"],
        "compiled": torch.compile(models["compiled"]),
        "eager, CSR features": models["eager, CSR features"],
    }
    # What `graff train` feeds the model: CSR features when it takes them and they are sparse
    # (a compiled model takes dense features only).
    xs = {k: data.x for k in runs}
    xs["eager, CSR features"] = model_features(models["eager"], data.x)
    if xs["eager, CSR features"].layout != torch.sparse_csr:
        del runs["eager, CSR features"], xs["eager, CSR features"]
    opts = {k: torch.optim.Adam(models[k].parameters(), lr=cfg.optim.lr) for k in runs}
    first = {k: _epoch(runs[k], opts[k], xs[k], data, mask) for k in runs}
    warm = {k: _epoch(runs[k], opts[k], xs[k], data, mask) for k in runs}  # a recompile?
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(epochs):
        for k in runs:
            times[k].append(_epoch(runs[k], opts[k], xs[k], data, mask))
    med = {k: statistics.median(v) for k, v in times.items()}
    # The outputs agree: the compiled model with the eager one's trained parameters, in eval
    # mode (interleaved, the training runs drew different dropout masks).
    models["compiled"].load_state_dict(models["eager"].state_dict())
    out = {}
    with torch.no_grad():
        for k in ("eager", "compiled"):
            models[k].eval()
            out[k] = runs[k](data.x, data.edge_index)
    gap = float((out["compiled"] - out["eager"]).abs().max() / out["eager"].abs().max())
    return {
        "graph": graph,
        "model": model_name,
        "nodes": int(data.x.size(0)),
        "edges": int(data.edge_index.size(1)),
        "hidden": int(mcfg.hidden),
        "epochs": epochs,
        "first_epoch_s": first,
        "second_epoch_s": warm,
        "compile_s": first["compiled"] - med["compiled"],
        "epoch_ms": {k: 1e3 * v for k, v in med.items()},
        "ratio": med["compiled"] / med["eager"],
        "csr_ratio": med["eager, CSR features"] / med["eager"] if len(med) > 2 else None,
        "eval_relative_gap": gap,
    }


def markdown(payload: dict[str, Any]) -> str:
    rows = [
        f"torch {payload['torch']}, {payload['threads']} thread, backend inductor, "
        f"{payload['epochs']} epochs of each, interleaved (medians).",
        "",
        "| graph | model | nodes | hidden | compile (s) | eager epoch (ms) | compiled epoch (ms) "
        "| compiled / eager | gap | eager, CSR features / eager |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in payload["runs"]:
        rows.append(
            f"| {r['graph']} | {r['model']} | {r['nodes']} | {r['hidden']} | "
            f"{r['compile_s']:.1f} | {r['epoch_ms']['eager']:.2f} | "
            f"{r['epoch_ms']['compiled']:.2f} | {r['ratio']:.2f}× | {r['eval_relative_gap']:.0e} | "
            + ("dense only |" if r["csr_ratio"] is None else f"{r['csr_ratio']:.2f}× |")
        )
    return "\n".join(rows) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--graphs", default=",".join(GRAPHS))
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--out", default="benchmarks/results-compile.json")
    args = p.parse_args()
    # A cold start: inductor's on-disk caches would hide most of the compile time.
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="graff-inductor-")
    torch.set_num_threads(1)
    payload: dict[str, Any] = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "epochs": args.epochs,
        "runs": [],
    }
    for graph in args.graphs.split(","):
        for model in args.models.split(","):
            payload["runs"].append(bench(graph, model, args.epochs))
            print(json.dumps(payload["runs"][-1]), flush=True)
    out = Path(args.out)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(payload))


if __name__ == "__main__":
    main()

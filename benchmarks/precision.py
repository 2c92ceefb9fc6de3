"""bf16 mixed precision (``optim.precision: bf16``) against float32: epoch time and scores.

    python benchmarks/precision.py --out benchmarks/results-precision.json

Speed, in one process and one thread: for each case (a graph, a model and the settings of a
configuration its search visited), two copies of the model with the same initial
parameters train full-batch epochs as ``graff train`` does (zero_grad, forward and loss
under :func:`graff.train.fit.autocast`, backward, the config's Adam(W) step, then an
eval-mode forward) on split 0, interleaved (fp32, bf16, fp32, …) after a warm-up; the
medians are compared: *ratio* = bf16 / fp32 (below 1: bf16 is faster).

Scores: for each ``--scores`` graph (and model: GRAFF unless named), ``graff train``'s run
of the shipped config on every split in both precisions (``graff.train.run``, the batched
path where the model has one), mean ± sample std of the test score and the largest
per-split difference.
Writes JSON and Markdown (the same name, ``.md``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graff.nn.sparse import widen
from graff.train import load_prepared, resolve_config, run
from graff.train.fit import autocast, make_optimizer, no_decay_names
from graff.train.models import build_model
from graff.train.runner import model_features

#: (graph, model, overrides): configurations of the heterophily searches' spaces
#: (benchmarks/heterophily/), the shapes whose trials take the longest.
CASES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("minesweeper", "gat", ("model.block=residual", "model.params={}", "model.hidden=256",
                            "model.num_layers=3", "model.norm=batch")),
    ("minesweeper", "sage", ("model.block=residual", "model.params={}", "model.hidden=64",
                             "model.num_layers=5", "model.norm=none")),
    ("tolokers", "gcn", ("model.block=residual", "model.params={}", "model.hidden=128",
                         "model.num_layers=3", "model.norm=batch")),
    ("tolokers", "graff", ("model.hidden=256",)),
    ("minesweeper", "graff", ()),
    ("cora", "graff", ()),
)  # fmt: skip


def _epoch(model: nn.Module, opt: Any, x: Tensor, data: Any, mask: Tensor, prec: str) -> float:
    start = time.perf_counter()
    model.train()
    opt.zero_grad(set_to_none=True)
    with autocast(prec, x.device):
        loss = F.cross_entropy(widen(model(x, data.edge_index)[mask]), data.y[mask])
    loss.backward()
    opt.step()
    model.eval()
    with torch.no_grad(), autocast(prec, x.device):
        model(x, data.edge_index)
    return time.perf_counter() - start


def speed(graph: str, model_name: str, overrides: tuple[str, ...], epochs: int) -> dict[str, Any]:
    cfg, _ = resolve_config(graph, model_name, overrides=list(overrides))
    data = load_prepared(cfg)
    mask = data.train_mask[:, 0]
    models, opts = {}, {}
    for prec in ("fp32", "bf16"):
        torch.manual_seed(0)
        models[prec] = build_model(cfg.model, data.x.size(1), data.num_classes)
        m = models[prec]
        opts[prec] = make_optimizer(m.named_parameters(), no_decay_names(m), cfg.optim)
    x = model_features(models["fp32"], data.x)
    for prec in models:  # warm-up: caches of the graph operators, allocator
        for _ in range(2):
            _epoch(models[prec], opts[prec], x, data, mask, prec)
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _ in range(epochs):
        for prec in times:
            times[prec].append(_epoch(models[prec], opts[prec], x, data, mask, prec))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "graph": graph,
        "model": model_name,
        "overrides": list(overrides),
        "nodes": int(data.x.size(0)),
        "edges": int(data.edge_index.size(1)),
        "epochs": epochs,
        "epoch_ms": {k: 1e3 * v for k, v in med.items()},
        "ratio": med["bf16"] / med["fp32"],
    }


def scores(graph: str, model_name: str) -> dict[str, Any]:
    out: dict[str, Any] = {"graph": graph, "model": model_name}
    for prec in ("fp32", "bf16"):
        cfg, _ = resolve_config(graph, model_name, overrides=[f"optim.precision={prec}"])
        start = time.perf_counter()
        s = run(cfg)
        out[prec] = {
            "test": s.test,
            "mean": s.mean,
            "std": s.std,
            "metric": s.metric,
            "seconds": time.perf_counter() - start,
        }
    out["largest_split_difference"] = max(
        abs(a - b) for a, b in zip(out["fp32"]["test"], out["bf16"]["test"], strict=True)
    )
    return out


def cpu_name() -> str:
    """The CPU's model name and whether it has bfloat16 instructions (AVX512-BF16, AMX)."""
    info = Path("/proc/cpuinfo")
    if not info.exists():
        return platform.processor() or platform.machine()
    fields = dict(ln.split(":", 1) for ln in info.read_text().splitlines() if ":" in ln)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    name, flags = fields.get("model name", platform.machine()), fields.get("flags", "").split()
    bf16 = [f for f in ("avx512_bf16", "amx_bf16") if f in flags]
    return f"{name} ({', '.join(bf16) if bf16 else 'no bfloat16 instructions'})"


def markdown(payload: dict[str, Any]) -> str:
    rows = [
        f"torch {payload['torch']}, {payload['threads']} thread, {payload['cpu']}; "
        f"{payload['epochs']} epochs of each, interleaved (medians).",
        "",
        "| graph | model | settings | nodes | fp32 epoch (ms) | bf16 epoch (ms) | bf16 / fp32 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in payload["speed"]:
        settings = (
            ", ".join(
                o.split("=", 1)[0].split(".")[-1] + " " + o.split("=", 1)[1]
                for o in r["overrides"]
                if "params" not in o
            )
            or "shipped config"
        )
        rows.append(
            f"| {r['graph']} | {r['model']} | {settings} | {r['nodes']} | "
            f"{r['epoch_ms']['fp32']:.0f} | {r['epoch_ms']['bf16']:.0f} | {r['ratio']:.2f}× |"
        )
    if payload["scores"]:
        rows += [
            "",
            "Test scores of the shipped config, every split (mean ± sample std, "
            "`graff.train.run`):",
            "",
            "| graph | model | metric | fp32 | bf16 | largest split difference | fp32 s | bf16 s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in payload["scores"]:
            a, b = r["fp32"], r["bf16"]
            rows.append(
                f"| {r['graph']} | {r['model']} | {a['metric']} | {a['mean']:.2f} ± {a['std']:.2f} "
                f"| {b['mean']:.2f} ± {b['std']:.2f} | {r['largest_split_difference']:.2f} "
                f"| {a['seconds']:.0f} | {b['seconds']:.0f} |"
            )
    return "\n".join(rows) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=20, help="timed epochs of each precision")
    p.add_argument("--cases", default="", help="only the cases of these graphs (comma list)")
    p.add_argument(
        "--scores",
        default="texas,wisconsin,cornell,chameleon,minesweeper:sage",
        help="GRAPH or GRAPH:MODEL (default model graff), comma-separated: the shipped config "
        "runs every split in both precisions",
    )
    p.add_argument("--out", default="benchmarks/results-precision.json")
    args = p.parse_args()
    torch.set_num_threads(1)
    only = set(filter(None, args.cases.split(",")))
    payload: dict[str, Any] = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": cpu_name(),
        "epochs": args.epochs,
        "speed": [],
        "scores": [],
    }
    for graph, model, overrides in CASES:
        if not only or graph in only:
            payload["speed"].append(speed(graph, model, overrides, args.epochs))
            print(json.dumps(payload["speed"][-1]), flush=True)
    for item in filter(None, args.scores.split(",")):
        graph, _, model = item.partition(":")
        payload["scores"].append(scores(graph, model or "graff"))
        print(json.dumps(payload["scores"][-1]), flush=True)
    out = Path(args.out)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(payload))


if __name__ == "__main__":
    main()

"""Speed of GRAFF against a PyG GCN of equal depth and width, and against the memory bus.

Everything is measured in one process: for each graph, depth and mode the two models run
interleaved (GRAFF, GCN, GRAFF, GCN, …) and the medians are compared, so the slow drifts of
a shared machine hit both alike. ``graff bench`` is the command-line front end; the table in
benchmarks/README.md comes from it.

- **Models.** GRAFF: linear encoder, ``depth`` Euler steps (T = depth, τ = 1) with a DD W
  and a diagonal Ω, linear decoder. GCN: :class:`torch_geometric.nn.models.GCN` with
  ``depth`` GCNConv layers (``cached=True``, on ``edge_index`` — PyG's default path). Both
  have width ``hidden``, dropout 0.5 in their usual places and fused Adam. GRAFF takes the
  features as sparse CSR when they are < 25 % dense (as ``graff train`` does), GCN dense.
- **Modes.** ``inference``: one forward pass in eval mode under ``torch.no_grad``.
  ``train``: zero_grad, forward, cross-entropy on half the nodes, backward, Adam step.
- **Memory.** Peak resident memory a mode adds to the process (Linux ``VmHWM``, reset before
  each measurement, with glibc returning freed blocks to the OS so that RSS tracks live
  memory); None where /proc is unavailable.
- **Bandwidth.** The propagation step ``F' = B + τ Ā(FW)`` (one sparse-dense product with
  accumulation, the core of a GRAFF step) against the machine's streaming bandwidth, measured
  with a large ``c = a + b``. Its minimal traffic: the CSR arrays once, FW, B and F' once each.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graff._io import atomic_write
from graff.errors import GraffError
from graff.nn import GRAFF, normalized_adjacency
from graff.nn.adjacency import rcm_order
from graff.nn.sparse import sym_spmm_add
from graff.perf import peak_memory_mb, release_memory

__all__ = [
    "BandwidthRecord",
    "BenchError",
    "BenchGraph",
    "BenchRecord",
    "bench_graph",
    "bench_models",
    "benchmark",
    "compare",
    "machine_bandwidth",
    "peak_memory_mb",
    "propagation_bandwidth",
    "run_bench",
    "synthetic_graph",
    "write_results",
]


class BenchError(GraffError, ValueError):
    """A benchmark request that cannot run (unknown graph, mode or depth list)."""


@dataclass
class BenchGraph:
    """A graph to time on: features (dense), undirected edge_index, class count."""

    name: str
    x: Tensor
    edge_index: Tensor
    num_classes: int
    note: str = ""

    @property
    def num_nodes(self) -> int:
        return int(self.x.size(0))

    @property
    def num_edges(self) -> int:
        """Directed edges in edge_index (each undirected edge counts twice)."""
        return int(self.edge_index.size(1))

    def to(self, device: torch.device | str) -> BenchGraph:
        """The same graph with its tensors on ``device``."""
        return BenchGraph(
            self.name, self.x.to(device), self.edge_index.to(device), self.num_classes, self.note
        )


@dataclass
class BenchRecord:
    """GRAFF vs GCN on one graph × depth × mode; times in milliseconds (medians)."""

    graph: str
    nodes: int
    edges: int
    hidden: int
    depth: int
    mode: str
    graff_ms: float
    gcn_ms: float
    ratio: float
    graff_peak_mb: float | None = None
    gcn_peak_mb: float | None = None
    repeats: int = 0
    threads: int = 0


@dataclass
class BandwidthRecord:
    """The propagation step B + τĀ(FW) on one graph against the machine's bandwidth."""

    graph: str
    nodes: int
    nnz: int
    hidden: int
    step_ms: float
    traffic_mb: float
    achieved_gbs: float
    machine_gbs: float
    fraction: float
    threads: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


# -- graphs ----------------------------------------------------------------------------------


def synthetic_graph(
    num_nodes: int = 200_000,
    degree: int = 8,
    num_features: int = 128,
    num_classes: int = 10,
    *,
    seed: int = 0,
    order: str = "shuffled",
) -> BenchGraph:
    """A large graph with the locality of real ones, built in a few seconds.

    Nodes are uniform points in the unit square, each linked to its ``degree`` nearest
    neighbours (made undirected: ≈ 2 · degree · n directed edges, 2.0M for the defaults);
    labels are the cell of a coarse grid, features noisy one-hot labels plus Gaussian noise.
    ``order="shuffled"`` numbers the nodes at random, as a crawled or concatenated dataset
    arrives; ``"rcm"`` renumbers them by reverse Cuthill–McKee
    (:func:`graff.nn.adjacency.rcm_order`), the cheap reordering that puts neighbours close in
    memory.
    """
    from scipy.spatial import cKDTree

    if order not in ("shuffled", "rcm"):
        raise ValueError(f"order must be 'shuffled' or 'rcm', got {order!r}")
    rng = np.random.default_rng(seed)
    pts = rng.random((num_nodes, 2))
    _, nbrs = cKDTree(pts).query(pts, k=degree + 1)
    src = np.repeat(np.arange(num_nodes), degree)
    dst = nbrs[:, 1:].reshape(-1)
    side = int(np.ceil(np.sqrt(num_classes)))
    cell = np.minimum((pts * side).astype(np.int64), side - 1)
    y = (cell[:, 0] * side + cell[:, 1]) % num_classes
    perm = rng.permutation(num_nodes)  # node i of the geometry gets id perm[i]
    edge_index = torch.from_numpy(np.stack([perm[np.r_[src, dst]], perm[np.r_[dst, src]]]))
    edge_index = torch.unique(edge_index, dim=1)
    yt = torch.empty(num_nodes, dtype=torch.long)
    yt[torch.from_numpy(perm)] = torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(num_nodes, num_features, generator=gen)
    x[:, :num_classes] += 2.0 * F.one_hot(yt, num_classes).float()
    name = f"synthetic-{num_nodes // 1000}k"
    graph = BenchGraph(name, x, edge_index, num_classes, note="2-D kNN graph, shuffled ids")
    if order == "rcm":
        graph = _permuted(graph, rcm_order(edge_index, num_nodes))
        graph.name, graph.note = f"{name}-rcm", "2-D kNN graph, RCM order"
    return graph


def _permuted(graph: BenchGraph, order: Tensor) -> BenchGraph:
    new_id = torch.empty_like(order)
    new_id[order] = torch.arange(order.numel())
    return BenchGraph(graph.name, graph.x[order], new_id[graph.edge_index], graph.num_classes)


def bench_graph(name: str, data_dir: str | None = None) -> BenchGraph:
    """``cora``, ``pubmed`` (real files), ``synthetic`` or ``synthetic-rcm`` (built-in)."""
    if name in ("synthetic", "synthetic-rcm"):
        return synthetic_graph(order="rcm" if name.endswith("rcm") else "shuffled")
    from graff.data import load_dataset

    data = load_dataset(name, data_dir=data_dir)
    y = data.y.long()
    return BenchGraph(name, data.x.float(), data.edge_index, int(y.max()) + 1)


# -- models and timing ------------------------------------------------------------------------


def bench_models(graph: BenchGraph, depth: int, hidden: int = 64) -> tuple[nn.Module, nn.Module]:
    """(GRAFF, PyG GCN) of equal depth and width for ``graph`` (see the module docstring)."""
    from torch_geometric.nn.models import GCN

    if depth < 1:
        raise ValueError(f"depth must be ≥ 1, got {depth}")
    p, k = graph.x.size(1), graph.num_classes
    graff = GRAFF(p, hidden, k, w_type="dd", omega_type="diag", T=float(depth), dropout=0.5)
    gcn = GCN(p, hidden, depth, out_channels=k, dropout=0.5, cached=True)
    return graff, gcn


def _graff_features(x: Tensor) -> Tensor:
    """The features as GRAFF gets them from ``graff train`` (CSR when sparse enough)."""
    from graff.train import model_features

    return model_features(GRAFF, x)


def _step_fn(model: nn.Module, x: Tensor, graph: BenchGraph, mode: str) -> Callable[[], None]:
    edge_index = graph.edge_index
    if mode == "inference":
        model.eval()

        def infer() -> None:
            with torch.no_grad():
                model(x, edge_index)

        return infer
    if mode != "train":
        raise ValueError(f"mode must be 'inference' or 'train', got {mode!r}")
    gen = torch.Generator().manual_seed(0)
    mask = (torch.rand(graph.num_nodes, generator=gen) < 0.5).to(x.device)
    y = torch.randint(0, graph.num_classes, (graph.num_nodes,), generator=gen).to(x.device)[mask]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    model.train()

    def train() -> None:
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x, edge_index)[mask], y)
        loss.backward()
        opt.step()

    return train


def _synchronize(device: torch.device) -> None:
    """Wait for the device's queued kernels (a no-op on the CPU), so a timer sees their work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def compare(
    fns: Sequence[Callable[[], object]],
    repeats: int = 5,
    warmup: int = 1,
    device: torch.device | str = "cpu",
) -> list[list[float]]:
    """Run the functions interleaved ``repeats`` times after ``warmup`` rounds; seconds each
    (on a GPU the clock stops only after the device has finished the call's kernels)."""
    device = torch.device(device)
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times, strict=True):
            _synchronize(device)
            start = time.perf_counter()
            fn()
            _synchronize(device)
            ts.append(time.perf_counter() - start)
    return times


# -- bandwidth ----------------------------------------------------------------------------------


def machine_bandwidth(
    megabytes: int = 256, repeats: int = 5, device: torch.device | str = "cpu"
) -> float:
    """Streaming bandwidth (GB/s) of ``c = a + b`` over three arrays of ``megabytes`` each,
    in the memory of ``device``."""
    n = megabytes * (1 << 20) // 4
    a, b = torch.rand(n, device=device), torch.rand(n, device=device)
    c = torch.empty(n, device=device)
    (ts,) = compare([lambda: torch.add(a, b, out=c)], repeats=repeats, device=device)
    return 3 * n * 4 / min(ts) / 1e9


def propagation_bandwidth(
    graph: BenchGraph,
    hidden: int = 64,
    repeats: int = 10,
    machine_gbs: float | None = None,
    device: torch.device | str = "cpu",
) -> BandwidthRecord:
    """Time ``B + τ Ā(FW)`` on ``graph`` at width ``hidden`` and convert it to GB/s."""
    adj = normalized_adjacency(graph.edge_index.to(device), graph.num_nodes)
    n, nnz = graph.num_nodes, int(adj.values().numel())
    gen = torch.Generator().manual_seed(0)
    fw = torch.randn(n, hidden, generator=gen).to(device)
    base = torch.randn(n, hidden, generator=gen).to(device)
    (ts,) = compare([lambda: sym_spmm_add(adj, fw, base, 0.5)], repeats=repeats, device=device)
    step = statistics.median(ts)
    index_bytes = adj.col_indices().element_size()
    traffic = nnz * (4 + index_bytes) + (n + 1) * index_bytes + 3 * n * hidden * 4
    gbs = traffic / step / 1e9
    machine = machine_bandwidth(device=device) if machine_gbs is None else machine_gbs
    return BandwidthRecord(
        graph=graph.name,
        nodes=n,
        nnz=nnz,
        hidden=hidden,
        step_ms=step * 1e3,
        traffic_mb=traffic / 1e6,
        achieved_gbs=gbs,
        machine_gbs=machine,
        fraction=gbs / machine,
        threads=torch.get_num_threads(),
    )


# -- driver ---------------------------------------------------------------------------------------


def run_bench(
    graphs: Sequence[BenchGraph],
    depths: Sequence[int],
    modes: Sequence[str] = ("inference", "train"),
    *,
    hidden: int = 64,
    repeats: int = 5,
    memory: bool = True,
    on_record: Callable[[BenchRecord], None] | None = None,
    device: torch.device | str = "cpu",
) -> list[BenchRecord]:
    """Time GRAFF against GCN for every graph × depth × mode (seeded model weights), with
    models and data on ``device``."""
    device = torch.device(device)
    records = []
    for graph in graphs:
        graph = graph.to(device)
        x_graff = _graff_features(graph.x)
        for depth in depths:
            for mode in modes:
                torch.manual_seed(0)
                graff, gcn = (m.to(device) for m in bench_models(graph, depth, hidden))
                fns = [_step_fn(graff, x_graff, graph, mode), _step_fn(gcn, graph.x, graph, mode)]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # sparse CSR "beta" notes
                    t_graff, t_gcn = compare(fns, repeats=repeats, device=device)
                    peaks = [peak_memory_mb(fn, device) if memory else None for fn in fns]
                g_ms, c_ms = statistics.median(t_graff) * 1e3, statistics.median(t_gcn) * 1e3
                rec = BenchRecord(
                    graph=graph.name,
                    nodes=graph.num_nodes,
                    edges=graph.num_edges,
                    hidden=hidden,
                    depth=depth,
                    mode=mode,
                    graff_ms=g_ms,
                    gcn_ms=c_ms,
                    ratio=g_ms / c_ms,
                    graff_peak_mb=peaks[0],
                    gcn_peak_mb=peaks[1],
                    repeats=repeats,
                    threads=torch.get_num_threads(),
                )
                records.append(rec)
                if on_record is not None:
                    on_record(rec)
                del graff, gcn, fns
                release_memory()
    return records


def as_dicts(records: Sequence[BenchRecord | BandwidthRecord]) -> list[dict[str, Any]]:
    """Records as JSON-ready dicts."""
    return [asdict(r) for r in records]


# -- command line ---------------------------------------------------------------------------------

#: depths timed by default. On the 200k-node graphs inference stops at 32 and training at 8:
#: PyG's GCN keeps an [E, d] message tensor per layer for its backward pass (≈ 0.55 GB per
#: layer there), so a 32-layer GCN training step needs ≈ 18 GB, more than this machine has.
DEFAULT_DEPTHS = {"small": (2, 4, 8, 16, 32, 64), "large": (2, 8, 32), "large-train": (2, 8)}
DEFAULT_GRAPHS = ("cora", "pubmed", "synthetic", "synthetic-rcm")


def benchmark(
    graphs: Sequence[str] | None = None,
    depths: Sequence[int] | None = None,
    modes: Sequence[str] = ("inference", "train"),
    *,
    hidden: int = 64,
    repeats: int | None = None,
    memory: bool = True,
    quick: bool = False,
    data_dir: str | None = None,
    on_progress: Callable[[str], None] | None = None,
    device: torch.device | str | None = "cpu",
) -> dict[str, Any]:
    """``graff bench`` as a function: time GRAFF against PyG's GCN; the JSON-ready payload
    (``environment``, ``records``, ``bandwidth``; :func:`markdown` renders it).

    Args:
        graphs: from cora, pubmed, synthetic, synthetic-rcm (default all; cora if ``quick``).
        depths: default 2,4,…,64 (200k-node graphs 2,8,32; their training 2,8); 2,8 if quick.
        modes: inference and/or train.
        repeats: timed rounds per model (default 5; 2 if quick).
        on_progress: called with a short status line as the benchmark goes.
        device: cpu (default), cuda, cuda:N, mps or auto; models, graphs and the bandwidth
            arrays live there (peak memory: allocated device memory on CUDA, none on MPS).
    """
    import platform

    from graff.device import resolve_device

    dev = resolve_device(device)
    names = list(graphs) if graphs is not None else (["cora"] if quick else list(DEFAULT_GRAPHS))
    unknown = [g for g in names if g not in DEFAULT_GRAPHS]
    if not names:
        raise BenchError(f"no graph named; choose from {list(DEFAULT_GRAPHS)}, or none for all")
    if unknown:
        raise BenchError(f"unknown bench graph(s) {unknown}; choose from {list(DEFAULT_GRAPHS)}")
    bad = [m for m in modes if m not in ("inference", "train")]
    if bad or not modes:
        named = f"unknown mode(s) {bad}" if bad else "no mode named"
        raise BenchError(f"{named}; choose inference and/or train")
    if depths is not None and (not depths or min(depths) < 1):
        raise BenchError(f"depths must be positive integers, got {list(depths)}")
    if hidden < 1:
        raise BenchError(f"hidden must be a positive integer, got {hidden}")
    repeats = repeats or (2 if quick else 5)
    say = on_progress or (lambda text: None)
    machine = machine_bandwidth(64 if quick else 256, device=dev)
    records: list[BenchRecord] = []
    bandwidth: list[BandwidthRecord] = []
    for name in names:
        say(f"loading {name}")
        graph = bench_graph(name, data_dir)
        large = graph.num_nodes >= 100_000
        ds = (
            list(depths)
            if depths
            else ([2, 8] if quick else list(DEFAULT_DEPTHS["large" if large else "small"]))
        )

        def tick(rec: BenchRecord, name: str = name) -> None:
            say(f"{name}: depth {rec.depth} {rec.mode} done")

        say(f"{name}: timing")
        for mode in modes:
            mode_depths = ds
            if large and mode == "train" and not depths:
                mode_depths = [d for d in ds if d in DEFAULT_DEPTHS["large-train"]]
            records += run_bench(
                [graph],
                mode_depths,
                [mode],
                hidden=hidden,
                repeats=max(2, repeats - 2) if large else repeats,
                memory=memory,
                on_record=tick,
                device=dev,
            )
        if not quick or large:
            bandwidth.append(propagation_bandwidth(graph, hidden, machine_gbs=machine, device=dev))
    env = {
        "torch": torch.__version__,
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "machine_bandwidth_gbs": machine,
        "processor": platform.processor() or platform.machine(),
    }
    return {"environment": env, "records": as_dicts(records), "bandwidth": as_dicts(bandwidth)}


def write_results(payload: dict[str, Any], path: str | Path) -> list[Path]:
    """The payload as JSON in ``path`` and as Markdown tables beside it (``.md``)."""
    import json

    path = Path(path)
    return [
        atomic_write(path, json.dumps(payload, indent=2) + "\n"),
        atomic_write(path.with_suffix(".md"), markdown(payload)),
    ]


def markdown(payload: dict[str, Any]) -> str:
    """The JSON payload of ``graff bench`` as Markdown tables (benchmarks/README.md)."""
    env = payload["environment"]
    lines = [
        f"torch {env['torch']}, {env.get('device', 'cpu')}, {env['threads']} thread(s), "
        "streaming bandwidth "
        f"{env['machine_bandwidth_gbs']:.1f} GB/s",
        "",
        "| graph | nodes | edges | depth | mode | GRAFF ms | GCN ms | GRAFF / GCN "
        "| peak MB GRAFF | peak MB GCN |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def mb(v: float | None) -> str:
        return "—" if v is None else f"{v:.0f}"

    for r in payload["records"]:
        lines.append(
            f"| {r['graph']} | {r['nodes']:,} | {r['edges']:,} | {r['depth']} | {r['mode']} "
            f"| {r['graff_ms']:.1f} | {r['gcn_ms']:.1f} | {r['ratio']:.2f} "
            f"| {mb(r['graff_peak_mb'])} | {mb(r['gcn_peak_mb'])} |"
        )
    if payload["bandwidth"]:
        lines += [
            "",
            "| graph | nnz of Ā | d | step ms | minimal traffic MB | GB/s | of streaming |",
            "|---|---|---|---|---|---|---|",
        ]
        for b in payload["bandwidth"]:
            lines.append(
                f"| {b['graph']} | {b['nnz']:,} | {b['hidden']} | {b['step_ms']:.2f} "
                f"| {b['traffic_mb']:.0f} | {b['achieved_gbs']:.2f} | {100 * b['fraction']:.0f} % |"
            )
    return "\n".join(lines) + "\n"

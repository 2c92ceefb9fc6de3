r"""Large synthetic graphs written in bounded memory: scale measured without a download.

:func:`write_synthetic_graph` streams a seeded block model to a folder of ``.npy`` files one
block of nodes (of edges) at a time, so a 5M-node / 50M-edge graph never needs more than a
few blocks in memory: node ``i`` has class ``y_i = i mod C``, features
``x_i = signal · μ_{y_i} + ε_i`` (μ_c fixed random unit vectors, ε standard normal), and each
undirected edge joins a uniformly drawn node to a node of the same class with probability
``homophily`` (else to any node); a node's split (train / val / test / none) is drawn with the
given fractions. Each block draws from a generator seeded by ``(seed, part, block index)``
(the block size is one of the graph's parameters), and a killed run resumes at its first
unfinished part. Multi-edges are kept (about E²/N² of them, a few hundred at 5M / 50M).

:func:`synthetic_adjacency` builds GRAFF's Ā = D^-1/2 (A + I) D^-1/2 from the edge file as
a sparse CSR tensor in two streamed passes (degrees, then a counting sort into place) and
one sort per block of rows: memory is the CSR arrays themselves (12 bytes per non-zero) and
one block.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from graff._io import as_path, atomic_write
from graff._progress import progress_bar
from graff.nn.checks import check_sizes
from graff.nn.sparse import csr

__all__ = ["SyntheticGraph", "synthetic_adjacency", "write_synthetic_graph"]

#: nodes (or edges) generated per block by :func:`write_synthetic_graph`.
BLOCK = 1 << 20
_PARTS = ("features", "edges")


@dataclass(frozen=True)
class SyntheticGraph:
    """The parameters of a graph written by :func:`write_synthetic_graph` and its folder.
    ``x``, ``y``, ``split`` and ``edges`` open the ``.npy`` files memory-mapped."""

    folder: str
    num_nodes: int
    num_edges: int
    num_features: int
    num_classes: int
    homophily: float
    signal: float
    train: float
    val: float
    test: float
    seed: int

    def _open(self, name: str) -> np.ndarray:
        return np.load(Path(self.folder) / f"{name}.npy", mmap_mode="r")

    @property
    def x(self) -> np.ndarray:
        """Features [N, F] float32 (memory-mapped)."""
        return self._open("x")

    @property
    def y(self) -> np.ndarray:
        """Classes [N] int64 (memory-mapped)."""
        return self._open("y")

    @property
    def split(self) -> np.ndarray:
        """Each node's split [N] uint8: 0 none, 1 train, 2 val, 3 test (memory-mapped)."""
        return self._open("split")

    @property
    def edges(self) -> np.ndarray:
        """The undirected edges [E, 2] int64, each once (memory-mapped)."""
        return self._open("edges")

    def masks(self) -> tuple[Tensor, Tensor, Tensor]:
        """Train, val and test masks [N] (bool tensors)."""
        s = torch.from_numpy(np.array(self.split))  # a copy: N bytes
        return s == 1, s == 2, s == 3


def _check(
    num_nodes: int, num_edges: int, num_features: int, num_classes: int, **kw: float
) -> None:
    check_sizes(num_nodes=num_nodes, num_edges=num_edges, num_features=num_features)
    if num_nodes < 2:
        raise ValueError(f"a synthetic graph needs num_nodes ≥ 2, got {num_nodes}")
    if num_edges > num_nodes * (num_nodes - 1) // 2:
        raise ValueError(
            f"num_edges = {num_edges} undirected edges is more than the "
            f"{num_nodes * (num_nodes - 1) // 2} pairs of {num_nodes} nodes"
        )
    if not 2 <= num_classes <= num_nodes:
        raise ValueError(f"num_classes must be in [2, num_nodes], got {num_classes}")
    if not 0.0 <= kw["homophily"] <= 1.0:
        raise ValueError(f"homophily must be in [0, 1], got {kw['homophily']}")
    fractions = (kw["train"], kw["val"], kw["test"])
    if min(fractions) < 0 or sum(fractions) > 1.0 + 1e-9:
        raise ValueError(f"train, val and test fractions must be ≥ 0 with sum ≤ 1, got {fractions}")


def write_synthetic_graph(
    folder: str | os.PathLike[str],
    num_nodes: int,
    num_edges: int,
    *,
    num_features: int = 64,
    num_classes: int = 5,
    homophily: float = 0.7,
    signal: float = 0.5,
    train: float = 0.1,
    val: float = 0.1,
    test: float = 0.1,
    seed: int = 0,
    block: int = BLOCK,
    progress: bool = True,
) -> SyntheticGraph:
    """Write the graph described in the module docstring to ``folder`` (``x.npy``, ``y.npy``,
    ``split.npy``, ``edges.npy``, ``manifest.json``), one block at a time; a folder holding
    the same graph, finished or not, is completed and reused.

    Args:
        folder: where the files go (created if missing).
        num_nodes (int): N.
        num_edges (int): undirected edges E (each stored once; Ā has 2E + N non-zeros).
        num_features (int): F (default 64).
        num_classes (int): C (default 5).
        homophily (float): probability that an edge joins two nodes of one class.
        signal (float): length of the class mean in the features (noise has unit variance).
        train, val, test (float): fractions of the nodes in each split (the rest: none).
        seed (int): the seed of every block's generator.
        block (int): nodes or edges per block (memory: about ``block · F · 8`` bytes).
        progress (bool): a progress bar on stderr.
    """
    _check(
        num_nodes,
        num_edges,
        num_features,
        num_classes,
        homophily=homophily,
        train=train,
        val=val,
        test=test,
    )
    out = as_path(folder, "folder")
    out.mkdir(parents=True, exist_ok=True)
    graph = SyntheticGraph(
        str(out.resolve()),
        num_nodes,
        num_edges,
        num_features,
        num_classes,
        float(homophily),
        float(signal),
        float(train),
        float(val),
        float(test),
        int(seed),
    )
    params = {**{k: v for k, v in asdict(graph).items() if k != "folder"}, "block": block}
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    if manifest is not None and manifest.get("params") != params:
        raise FileExistsError(
            f"{out} holds another synthetic graph ({manifest.get('params')}); choose another "
            "folder or delete it"
        )
    done: list[str] = [] if manifest is None else list(manifest.get("done", []))
    shapes = {
        "x": ((num_nodes, num_features), np.float32),
        "y": ((num_nodes,), np.int64),
        "split": ((num_nodes,), np.uint8),
        "edges": ((num_edges, 2), np.int64),
    }
    arrays = {}
    for name, (shape, dtype) in shapes.items():
        path = out / f"{name}.npy"
        if path.is_file():
            arrays[name] = np.load(path, mmap_mode="r+")
        else:
            arrays[name] = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    means = np.random.default_rng([seed, 0]).standard_normal((num_classes, num_features))
    means *= signal / np.linalg.norm(means, axis=1, keepdims=True)
    cuts = np.cumsum([train, val, test])
    blocks = {
        "features": range(0, num_nodes, block),
        "edges": range(0, num_edges, block),
    }
    with progress_bar(progress) as bar:
        for part in _PARTS:
            if part in done:
                continue
            task = bar.add_task(f"synthetic graph: {part}", total=len(blocks[part]), info="")
            for b, lo in enumerate(blocks[part]):
                rng = np.random.default_rng([seed, 1 + _PARTS.index(part), b])
                if part == "features":
                    hi = min(num_nodes, lo + block)
                    y = np.arange(lo, hi, dtype=np.int64) % num_classes
                    noise = rng.standard_normal((hi - lo, num_features), dtype=np.float32)
                    arrays["x"][lo:hi] = noise + means[y].astype(np.float32)
                    arrays["y"][lo:hi] = y
                    # 1 train, 2 val, 3 test for the first three fractions; 0: the rest
                    split = np.searchsorted(cuts, rng.random(hi - lo), side="right") + 1
                    arrays["split"][lo:hi] = np.where(split == 4, 0, split)
                else:
                    hi = min(num_edges, lo + block)
                    arrays["edges"][lo:hi] = _edge_block(
                        rng, hi - lo, num_nodes, num_classes, homophily
                    )
                bar.advance(task)
            for a in arrays.values():
                a.flush()
            done.append(part)
            atomic_write(manifest_path, json.dumps({"params": params, "done": done}, indent=2))
    return graph


def _edge_block(
    rng: np.random.Generator, m: int, n: int, classes: int, homophily: float
) -> np.ndarray:
    """``m`` edges: a uniform node, then a node of its class (probability ``homophily``; class
    of i is i mod C) or any node; a drawn self-loop is moved to the next node of the class."""
    src = rng.integers(0, n, size=m, dtype=np.int64)
    same = rng.random(m) < homophily
    dst = rng.integers(0, n, size=m, dtype=np.int64)
    c = src[same] % classes
    count = (n - 1 - c) // classes + 1  # nodes of class c: c, c + C, ... < n
    dst[same] = c + classes * (rng.random(int(same.sum())) * count).astype(np.int64)
    loop = dst == src
    if loop.any():
        shifted = src[loop] + classes
        dst[loop] = np.where(shifted < n, shifted, src[loop] % classes)
        still = dst == src  # a class with a single node: any other node
        dst[still] = (src[still] + 1) % n
    return np.stack([src, dst], axis=1)


def synthetic_adjacency(
    graph: SyntheticGraph, *, block: int = BLOCK, progress: bool = True
) -> Tensor:
    """Ā = D^-1/2 (A + I) D^-1/2 of ``graph`` (undirected, self-loops added) as a sparse CSR
    float32 tensor [N, N] with sorted columns, built in streamed passes over the edge file
    (module docstring); the ``adj`` that :func:`graff.scale.precompute_on_disk` takes."""
    n = graph.num_nodes
    edges = graph.edges
    m = edges.shape[0]
    deg = np.ones(n, dtype=np.int64)  # the self-loop
    with progress_bar(progress) as bar:
        task = bar.add_task("Ā: degrees", total=(m + block - 1) // block, info="")
        for lo in range(0, m, block):
            e = np.asarray(edges[lo : lo + block])
            deg += np.bincount(e[:, 0], minlength=n) + np.bincount(e[:, 1], minlength=n)
            bar.advance(task)
        crow = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(deg, out=crow[1:])
        col = np.empty(int(crow[-1]), dtype=np.int64)
        cursor = crow[:-1].copy()
        col[cursor] = np.arange(n)
        cursor += 1
        task = bar.add_task("Ā: columns", total=(m + block - 1) // block, info="")
        for lo in range(0, m, block):
            e = np.asarray(edges[lo : lo + block])
            rows = np.concatenate([e[:, 0], e[:, 1]])
            cols = np.concatenate([e[:, 1], e[:, 0]])
            order = np.argsort(rows, kind="stable")
            rows, cols = rows[order], cols[order]
            uniq, start, counts = np.unique(rows, return_index=True, return_counts=True)
            rank = np.arange(rows.size) - np.repeat(start, counts)
            col[cursor[rows] + rank] = cols
            cursor[uniq] += counts
            bar.advance(task)
        del cursor
        dinv = (1.0 / np.sqrt(deg)).astype(np.float32)
        values = np.empty(col.size, dtype=np.float32)
        task = bar.add_task("Ā: sort, normalise", total=(n + block - 1) // block, info="")
        for lo in range(0, n, block):
            hi = min(n, lo + block)
            a, b = int(crow[lo]), int(crow[hi])
            row = np.repeat(np.arange(lo, hi, dtype=np.int64), deg[lo:hi])
            seg = col[a:b]
            seg[:] = seg[np.lexsort((seg, row))]
            values[a:b] = dinv[row] * dinv[seg]
            bar.advance(task)
    return csr(torch.from_numpy(crow), torch.from_numpy(col), torch.from_numpy(values), (n, n))

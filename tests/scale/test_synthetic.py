"""Tests of the streamed synthetic graph (graff.scale.synthetic): the files, the block model's
statistics, reuse and refusal of a folder, and Ā built in streamed passes equal to the Ā
GRAFF builds from the same edges (graff.nn.gcn_adjacency)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from graff.nn import gcn_adjacency
from graff.scale.synthetic import synthetic_adjacency, write_synthetic_graph

#: blocks of 700 nodes / edges: several blocks per part, the last one short
ARGS = dict(num_features=6, num_classes=4, homophily=0.8, block=700, seed=4, progress=False)


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("syn")
    return write_synthetic_graph(folder, 3000, 9000, **ARGS)  # type: ignore[arg-type]


def test_files_and_statistics(graph) -> None:  # type: ignore[no-untyped-def]
    x, y, split, edges = graph.x, graph.y, graph.split, graph.edges
    assert x.shape == (3000, 6) and x.dtype == np.float32
    assert np.array_equal(np.asarray(y), np.arange(3000) % 4)
    assert edges.shape == (9000, 2) and edges.min() >= 0 and edges.max() < 3000
    assert not (edges[:, 0] == edges[:, 1]).any()
    same = float((y[edges[:, 0]] == y[edges[:, 1]]).mean())
    assert same == pytest.approx(0.8 + 0.2 / 4, abs=0.02)  # h + (1 − h)/C
    counts = np.bincount(np.asarray(split), minlength=4) / 3000
    assert counts[1:] == pytest.approx([0.1, 0.1, 0.1], abs=0.025)
    # class means differ: a nearest-mean classifier beats chance by far
    means = np.stack([x[y == c].mean(0) for c in range(4)])
    pred = ((x[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
    assert float((pred == y).mean()) > 0.4
    train, val, test = graph.masks()
    assert int(train.sum()) == int((np.asarray(split) == 1).sum())
    assert not bool((train & val).any() or (val & test).any())


def test_adjacency_equals_graffs(graph) -> None:  # type: ignore[no-untyped-def]
    adj = synthetic_adjacency(graph, block=500, progress=False)
    e = torch.from_numpy(np.array(graph.edges)).t()
    edge_index = torch.cat([e, e.flip(0)], dim=1)
    ref = gcn_adjacency(edge_index, 3000)
    torch.testing.assert_close(adj.to_dense(), ref.to_dense(), rtol=1e-6, atol=1e-7)
    crow, col = adj.crow_indices(), adj.col_indices()
    for i in range(0, 3000, 97):  # sorted columns in every row
        row = col[crow[i] : crow[i + 1]]
        assert bool((row[1:] >= row[:-1]).all())


def test_same_graph_is_reused_and_another_refused(graph, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = Path(graph.folder)
    stamp = (folder / "x.npy").stat().st_mtime_ns
    again = write_synthetic_graph(folder, 3000, 9000, **ARGS)  # type: ignore[arg-type]
    assert again == graph and (folder / "x.npy").stat().st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match="another synthetic graph"):
        write_synthetic_graph(folder, 3000, 9000, num_features=6, seed=5, progress=False)
    with pytest.raises(ValueError, match="homophily"):
        write_synthetic_graph(tmp_path / "bad", 10, 10, homophily=1.5, progress=False)
    # more edges than node pairs (was drawn as a multigraph), a size as text (a TypeError
    # of '<' between str and int)
    with pytest.raises(ValueError, match=r"1000 undirected edges is more than the 45 pairs"):
        write_synthetic_graph(tmp_path / "bad", 10, 1000, progress=False)
    with pytest.raises(TypeError, match=r"num_nodes must be a positive integer, got '10'"):
        write_synthetic_graph(tmp_path / "bad", "10", 20, progress=False)  # type: ignore[arg-type]


def test_a_killed_run_resumes_to_the_same_files(graph, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "resume"
    write_synthetic_graph(folder, 3000, 9000, **ARGS)  # type: ignore[arg-type]
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["done"] = ["features"]  # as if killed while writing the edges
    (folder / "manifest.json").write_text(json.dumps(manifest))
    edges = np.load(folder / "edges.npy", mmap_mode="r+")
    edges[:] = 0
    edges.flush()
    del edges
    write_synthetic_graph(folder, 3000, 9000, **ARGS)  # type: ignore[arg-type]
    assert np.array_equal(np.load(folder / "edges.npy"), np.asarray(graph.edges))
    assert np.array_equal(np.load(folder / "x.npy"), np.asarray(graph.x))

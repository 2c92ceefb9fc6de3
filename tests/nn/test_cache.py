"""The graph/feature cache (graff.nn.cache) can never serve another graph's operators.

The old cache keyed Ā on the edge tensor's address and size: after freeing a graph, a new one
of the same size could be allocated at the same address and silently receive the old Ā.
These tests free graphs, batch equal-sized graphs and edit graphs in place, and compare every
output with a computation that builds everything afresh (``cache.disabled()``).
"""

from __future__ import annotations

import gc
import itertools
import weakref

import numpy as np
import pytest
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from graff.nn import GCN, GRAFF, cache, gcn_adjacency
from graff.train.config import ModelConfig
from graff.train.models import MODELS, build_model

N, E, P, K = 30, 120, 6, 3
GRAPH_MODELS = [name for name in MODELS if name != "mlp"]


def _model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig(name=name, hidden=8), P, K).double().eval()


def _fresh(model: torch.nn.Module, x: Tensor, graph: Tensor, w: Tensor | None = None) -> Tensor:
    with cache.disabled(), torch.no_grad():
        out: Tensor = model(x, graph, w)
        return out


def _graph(gen: torch.Generator) -> Tensor:
    """A random undirected graph on N nodes with exactly E edges."""
    ei = torch.randint(0, N, (2, E), generator=gen)
    ei = ei[:, ei[0] != ei[1]][:, : E // 2]
    ei = torch.cat([ei, ei.flip(0)], dim=1)
    assert ei.size(1) == E
    return ei


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_freed_graphs_of_equal_size_never_share_operators(name: str) -> None:
    """Three graphs of equal N and E, each freed before the next is built *in the very same
    memory* (a NumPy buffer, rewritten without touching torch's version counter): the new
    tensor has the freed one's address, size and version, so a cache keyed on any of these
    would serve the old operator. Every output equals a from-scratch computation."""
    model = _model(name)
    x = torch.randn(N, P, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(2)
    graphs = [_graph(gen) for _ in range(3)]
    expected = [_fresh(model, x, g) for g in graphs]
    for a, b in itertools.pairwise(expected):  # a stale operator would show
        assert not torch.equal(a, b)
    buffer = np.empty((2, E), dtype=np.int64)
    freed: tuple[int, int] | None = None
    for graph, want in zip(graphs, expected, strict=True):
        buffer[:] = graph.numpy()
        ei = torch.from_numpy(buffer)
        if freed is not None:  # the address reuse really happened: the test can fail
            assert (ei.data_ptr(), ei._version) == freed
        freed = (ei.data_ptr(), ei._version)
        with torch.no_grad():
            out = model(x, ei)
        assert torch.equal(out, want)
        freed_graph = weakref.ref(ei)
        del ei, out
        if freed_graph() is not None:  # held by a reference cycle: collect it
            gc.collect()
        assert freed_graph() is None


@pytest.mark.parametrize("name", ["graff", "gcn", "sage", "gat", "h2gcn", "grand"])
def test_dataloader_batches_of_equal_size(name: str) -> None:
    """A loop over torch_geometric DataLoader batches of equal-sized graphs (two epochs)."""
    gen = torch.Generator().manual_seed(3)
    graphs = []
    for _ in range(12):
        ei = torch.randint(0, 10, (2, 24), generator=gen)
        graphs.append(Data(x=torch.randn(10, P, generator=gen, dtype=torch.float64), edge_index=ei))
    model = _model(name)
    for _ in range(2):
        for batch in DataLoader(graphs, batch_size=3, shuffle=True):  # type: ignore[arg-type]
            with torch.no_grad():
                out = model(batch.x, batch.edge_index)
            assert torch.equal(out, _fresh(model, batch.x, batch.edge_index))


@pytest.mark.parametrize("name", ["graff", "graff_nores", "gcn", "sage", "gprgnn", "cgnn"])
def test_in_place_edits_of_the_graph_rebuild(name: str) -> None:
    """Editing edge_index or edge_weight in place between calls gives the new graph's output."""
    gen = torch.Generator().manual_seed(4)
    ei = torch.randint(0, N, (2, E), generator=gen)
    w = torch.rand(E, generator=gen, dtype=torch.float64) + 0.5
    x = torch.randn(N, P, dtype=torch.float64, generator=gen)
    model = _model(name)
    with torch.no_grad():
        before = model(x, ei, w)
        ei[1, :40] = torch.randint(0, N, (40,), generator=gen)
        after = model(x, ei, w)
        assert not torch.equal(before, after)
        assert torch.equal(after, _fresh(model, x, ei, w))
        w.mul_(3.0)[:10] = 0.1
        reweighted = model(x, ei, w)
        assert not torch.equal(after, reweighted)
        assert torch.equal(reweighted, _fresh(model, x, ei, w))


def test_sparse_features_freed_and_replaced_get_their_own_plan() -> None:
    """A new sparse feature matrix with the shape and nnz of a freed one, in the very same
    memory (its CSR arrays are NumPy buffers rewritten in place) but with another pattern, gets
    its own transpose plan: the encoder's gradient equals that of dense features."""
    gen = torch.Generator().manual_seed(5)
    model = GRAFF(20, 4, 2).double()
    ei = torch.randint(0, N, (2, E), generator=gen)
    crow, col = np.empty(N + 1, dtype=np.int64), np.empty(60, dtype=np.int64)
    val = np.empty(60, dtype=np.float64)
    memory = (crow.ctypes.data, col.ctypes.data, val.ctypes.data)
    for _ in range(3):
        dense = torch.zeros(N, 20, dtype=torch.float64)
        flat = torch.randperm(N * 20, generator=gen)[:60]
        dense.view(-1)[flat] = torch.rand(60, generator=gen, dtype=torch.float64)
        csr = dense.to_sparse_csr()
        crow[:], col[:] = csr.crow_indices().numpy(), csr.col_indices().numpy()
        val[:] = csr.values().numpy()
        parts = (torch.from_numpy(crow), torch.from_numpy(col), torch.from_numpy(val))
        x = torch.sparse_csr_tensor(*parts, (N, 20), check_invariants=True)
        # the previous matrix's memory, size and versions: only its identity differs
        assert (x.crow_indices().data_ptr(), x.col_indices().data_ptr()) == memory[:2]
        assert x.values().data_ptr() == memory[2]
        assert torch.equal(x.to_dense(), dense)
        model.zero_grad()
        model(x, ei).square().sum().backward()
        grad_sparse = model.encoder.weight.grad.clone()  # type: ignore[union-attr]
        model.zero_grad()
        model(dense, ei).square().sum().backward()
        torch.testing.assert_close(grad_sparse, model.encoder.weight.grad, rtol=1e-12, atol=1e-12)
        freed_x = weakref.ref(x)
        del x, parts, csr, dense
        if freed_x() is not None:  # held by a reference cycle: collect it
            gc.collect()
        assert freed_x() is None


def test_cache_keeps_no_graph_alive_and_forgets_freed_ones() -> None:
    """The cache holds weak references only: a freed graph is collected, and its entries go."""
    model = GCN(P, 4, K)
    ei = torch.randint(0, N, (2, E), generator=torch.Generator().manual_seed(6))
    gc.collect()  # graphs freed by earlier tests leave now, not during the count below
    before = set(cache._ENTRIES)
    model(torch.randn(N, P), ei)
    added = set(cache._ENTRIES) - before
    assert added
    ref = weakref.ref(ei)
    del ei
    gc.collect()
    assert ref() is None
    # Compare keys, not counts: another test's graph freed during this collect leaves as well.
    assert not added & set(cache._ENTRIES)


def test_operators_are_shared_across_models_and_follow_dtype() -> None:
    """One Ā per (graph, node count, dtype, self-loops), shared by all models (one per split)."""
    ei = torch.randint(0, N, (2, E), generator=torch.Generator().manual_seed(7))
    a = gcn_adjacency(ei, N)
    assert gcn_adjacency(ei, N) is a
    assert gcn_adjacency(ei, N, dtype=torch.float64) is not a
    assert gcn_adjacency(ei, N, self_loops=False) is not a
    assert gcn_adjacency(ei.clone(), N) is not a
    with cache.disabled():
        assert gcn_adjacency(ei, N) is not a


def test_transductive_training_reuses_the_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    """The training loop's pattern (same tensors every epoch) builds Ā once, and so does a
    second model on the same graph (the runner builds one model per split)."""
    from graff.nn import adjacency

    ei = torch.randint(0, N, (2, E), generator=torch.Generator().manual_seed(8))
    x = torch.randn(N, P)
    builds = []
    original = adjacency.normalized_adjacency

    def counting(*args: object, **kwargs: object) -> Tensor:
        builds.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(adjacency, "normalized_adjacency", counting)
    for _ in range(2):
        model = GRAFF(P, 4, K)
        opt = torch.optim.Adam(model.parameters())
        for _ in range(3):
            opt.zero_grad()
            model(x, ei).sum().backward()
            opt.step()
    assert len(builds) == 1

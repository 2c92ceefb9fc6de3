"""Tests of graff.scale.propagation: S_k = Ā^k [X, 1] against a dense float64 reference."""

from __future__ import annotations

import pytest
import torch

from graff.errors import GraffError, NotEnoughMemoryError
from graff.nn import GRAFF, gcn_adjacency
from graff.nn.sparse import to_csr
from graff.scale import csr_row_block, precompute_propagation
from tests.graff_reference import (
    DT,
    dense_abar,
    dense_abar_weighted,
    directed_graph,
    random_graph,
)


def _dense_reference(x: torch.Tensor, abar: torch.Tensor, steps: int) -> torch.Tensor:
    s = torch.cat([x, torch.ones(x.size(0), 1, dtype=DT)], dim=1)
    out = [s]
    for _ in range(steps):
        out.append(abar @ out[-1])
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("self_loops", [True, False])
@pytest.mark.parametrize("block_rows", [1, 4, 1000])
@pytest.mark.parametrize("seed", [0, 1])
def test_powers_of_abar_match_dense(self_loops: bool, block_rows: int, seed: int) -> None:
    n = 13
    ei = random_graph(n, 20, seed=seed, isolated=5)
    x = torch.randn(n, 4, dtype=DT, generator=torch.Generator().manual_seed(seed))
    s = precompute_propagation(x, ei, 4, self_loops=self_loops, block_rows=block_rows)
    assert s.shape == (n, 5, 5) and s.dtype == DT
    ref = _dense_reference(x, dense_abar(ei, n, self_loops), 4)
    torch.testing.assert_close(s, ref, rtol=0, atol=1e-12)


def test_directed_weighted_graph_and_graffs_own_operator() -> None:
    """Edge weights and direction as GRAFF's Ā (Ā_ij weighs j → i); a given Ā is used as is."""
    n = 11
    ei = directed_graph(n, 30, seed=3)
    w = torch.rand(ei.size(1), dtype=DT, generator=torch.Generator().manual_seed(3)) + 0.1
    x = torch.randn(n, 3, dtype=DT)
    s = precompute_propagation(x, ei, 3, edge_weight=w, block_rows=3)
    ref = _dense_reference(x, dense_abar_weighted(ei, n, w), 3)
    torch.testing.assert_close(s, ref, rtol=0, atol=1e-12)
    model = GRAFF(3, 4, 2, T=3.0).double()
    adj = model.conv.adjacency(ei, n, w)
    torch.testing.assert_close(precompute_propagation(x, None, 3, adj=adj), s, rtol=0, atol=0)


def test_sparse_csr_features_equal_dense() -> None:
    n = 10
    ei = random_graph(n, 15, seed=4)
    x = torch.randn(n, 6, dtype=DT) * (torch.rand(n, 6) < 0.3)
    dense = precompute_propagation(x, ei, 2, block_rows=3)
    sparse = precompute_propagation(to_csr(x), ei, 2, block_rows=3)
    torch.testing.assert_close(sparse, dense, rtol=0, atol=0)


def test_csr_row_block() -> None:
    m = torch.randn(7, 5, dtype=DT) * (torch.rand(7, 5) < 0.5)
    csr = to_csr(m)
    for lo, hi in [(0, 7), (2, 5), (6, 7), (3, 3)]:
        torch.testing.assert_close(csr_row_block(csr, lo, hi).to_dense(), m[lo:hi])


def test_zero_steps_and_float32_default() -> None:
    ei = random_graph(5, 6, seed=0)
    x = torch.arange(10).reshape(5, 2)  # integer features → float32
    s = precompute_propagation(x, ei, 0)
    assert s.shape == (5, 1, 3) and s.dtype == torch.float32
    assert torch.equal(s[:, 0, :2], x.float()) and torch.equal(s[:, 0, 2], torch.ones(5))


def test_bad_arguments() -> None:
    ei = random_graph(5, 6, seed=0)
    x = torch.randn(5, 2, dtype=DT)
    adj = gcn_adjacency(ei, 5, dtype=DT)
    with pytest.raises(ValueError, match="needs edge_index"):
        precompute_propagation(x, None, 2)
    with pytest.raises(ValueError, match="not both"):
        precompute_propagation(x, ei, 2, adj=adj)
    with pytest.raises(ValueError, match="steps"):
        precompute_propagation(x, ei, -1)
    with pytest.raises(ValueError, match="block_rows"):
        precompute_propagation(x, ei, 2, block_rows=0)
    with pytest.raises(ValueError, match="sparse CSR"):
        precompute_propagation(x, None, 2, adj=adj.to_dense())
    # a graph, NaN features, an integer dtype, an S past the memory: named, not an
    # AttributeError, a NaN S, a cast error or an allocator's trace
    from torch_geometric.data import Data

    with pytest.raises(TypeError, match=r"torch\.Tensor \[n, p\], got Data; pass data\.x"):
        precompute_propagation(Data(x=x, edge_index=ei), ei, 2)  # type: ignore[arg-type]
    nan = x.clone()
    nan[1, 0] = float("nan")
    for bad in (nan, nan.to_sparse_csr()):
        with pytest.raises(ValueError, match="x has NaN or infinite entries"):
            precompute_propagation(bad, ei, 2)
    with pytest.raises(ValueError, match="floating dtype"):
        precompute_propagation(x, ei, 2, dtype=torch.int64)
    # a graff error (one line from the command line, its advice kept) that is a MemoryError
    with pytest.raises(NotEnoughMemoryError, match=r"S \[5, 1000000001, 3\] needs .*on_disk") as e:
        precompute_propagation(x, ei, 10**9)
    assert isinstance(e.value, MemoryError) and isinstance(e.value, GraffError)

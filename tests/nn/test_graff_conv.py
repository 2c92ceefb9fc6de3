"""Tests of the GRAFF layer (graff.nn.graff_conv), Ā (graff.nn.adjacency) and the symmetric
sparse product (graff.nn.sparse), against the dense reference of graff_reference.py."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

from graff.nn import GRAFFConv, normalized_adjacency
from graff.nn.sparse import is_symmetric, sym_spmm_add
from tests.graff_reference import (
    ALL_OMEGA,
    ALL_W,
    DT,
    GRAPHS,
    dense_abar,
    randomise_,
    ref_matrix,
    ref_step,
    sparse_abar,
)


@pytest.mark.parametrize("omega_type", ALL_OMEGA)
@pytest.mark.parametrize("w_type", ALL_W)
@pytest.mark.parametrize("self_loops", [True, False])
def test_conv_step_matches_dense_reference(w_type: str, omega_type: str, self_loops: bool) -> None:
    """One GRAFFConv step equals F + τ(−FΩ + ĀFW + βF(0)) in float64, and its variants with a
    ReLU on the increment (NL) and/or a per-channel standardised increment (increment_norm)."""
    for nonlinear, norm in ((False, False), (True, False), (False, True), (True, True)):
        for gi, (_, n, ei) in enumerate(GRAPHS):
            conv = GRAFFConv(
                5,
                w_type,
                omega_type,
                step_size=0.7,
                nonlinear=nonlinear,
                increment_norm=norm,
                self_loops=self_loops,
            ).double()
            randomise_(conv, seed=gi)
            gen = torch.Generator().manual_seed(100 + gi)
            x = torch.randn(n, 5, dtype=DT, generator=gen)
            x0 = torch.randn(n, 5, dtype=DT, generator=gen)
            abar = dense_abar(ei, n, self_loops)
            w = ref_matrix(conv.ws[0], w_type)  # type: ignore[arg-type]
            om = ref_matrix(conv.omega, omega_type)
            beta = float(conv.beta.item())
            # Graph 0 goes through edge_index (GRAFFConv builds Ā); the others reuse a
            # precomputed Ā (``adj=``) to keep the test fast.
            graph = {"edge_index": ei} if gi == 0 else {"adj": sparse_abar(gi, self_loops)}
            for tau in (None, 0.3):
                step = 0.7 if tau is None else tau
                expected = ref_step(x, x0, abar, w, om, beta, step, nonlinear, norm)
                got = conv(x, x0, step_size=tau, **graph)
                torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


def test_conv_time_dependent_step_picks_w_k() -> None:
    """GRAFFConv(num_w=3)(…, step=k) uses W_k (and the last W for k beyond the list)."""
    _, n, ei = GRAPHS[0]
    conv = GRAFFConv(4, "sum", "diag", step_size=0.5, num_w=3).double()
    randomise_(conv, 3)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, dtype=DT, generator=gen)
    x0 = torch.randn(n, 4, dtype=DT, generator=gen)
    abar = dense_abar(ei, n, True)
    om = ref_matrix(conv.omega, "diag")
    beta = float(conv.beta.item())
    outs = []
    for k in range(3):
        w = ref_matrix(conv.ws[k], "sum")  # type: ignore[arg-type]
        expected = ref_step(x, x0, abar, w, om, beta, 0.5, False)
        got = conv(x, x0, ei, step=k)
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)
        outs.append(got)
    assert not torch.allclose(outs[0], outs[1])


def _abar_sparse(seed: int = 0) -> tuple[Tensor, int]:
    _, n, ei = GRAPHS[seed]
    return normalized_adjacency(ei, n, dtype=DT), n


@pytest.mark.parametrize("alpha", [1.0, 0.35])
def test_gradcheck_sym_spmm_add(alpha: float) -> None:
    """gradcheck of sym_spmm_add(Ā, x, base, α) = base + αĀx w.r.t. x and base (and no base)."""
    adj, n = _abar_sparse(0)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, dtype=DT, generator=gen, requires_grad=True)
    base = torch.randn(n, 3, dtype=DT, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: sym_spmm_add(adj, a, b, alpha), (x, base))
    assert torch.autograd.gradcheck(lambda a: sym_spmm_add(adj, a, None, alpha), (x,))


@pytest.mark.parametrize("graph", range(len(GRAPHS)))
@pytest.mark.parametrize("alpha", [1.0, -0.6])
def test_sym_spmm_add_matches_dense_autograd(graph: int, alpha: float) -> None:
    """Value and custom backward of sym_spmm_add equal generic autograd of base + α·(dense Ā)@x."""
    adj, n = _abar_sparse(graph)
    dense = adj.to_dense()
    gen = torch.Generator().manual_seed(graph)
    x = torch.randn(n, 4, dtype=DT, generator=gen)
    base = torch.randn(n, 4, dtype=DT, generator=gen)
    g = torch.randn(n, 4, dtype=DT, generator=gen)
    for with_base in (True, False):
        xa, ba = x.clone().requires_grad_(), base.clone().requires_grad_()
        xb, bb = x.clone().requires_grad_(), base.clone().requires_grad_()
        out_a = sym_spmm_add(adj, xa, ba if with_base else None, alpha)
        out_b = alpha * (dense @ xb) + (bb if with_base else 0.0)
        torch.testing.assert_close(out_a, out_b, rtol=0, atol=1e-12)
        (out_a * g).sum().backward()
        (out_b * g).sum().backward()
        torch.testing.assert_close(xa.grad, xb.grad, rtol=0, atol=1e-12)
        if with_base:
            torch.testing.assert_close(ba.grad, bb.grad, rtol=0, atol=1e-12)


def test_sym_spmm_add_does_not_modify_inputs() -> None:
    """sym_spmm_add leaves x and base untouched (no in-place aliasing of the inputs)."""
    adj, n = _abar_sparse(1)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(n, 2, dtype=DT, generator=gen)
    base = torch.randn(n, 2, dtype=DT, generator=gen)
    x_copy, base_copy = x.clone(), base.clone()
    sym_spmm_add(adj, x, base, 0.5)
    sym_spmm_add(adj, x, None, 0.5)
    assert torch.equal(x, x_copy) and torch.equal(base, base_copy)


@pytest.mark.parametrize("self_loops", [True, False])
@pytest.mark.parametrize("graph", range(len(GRAPHS)))
def test_normalized_adjacency_matches_dense_formula(graph: int, self_loops: bool) -> None:
    """normalized_adjacency equals D^{-1/2}(A[+I])D^{-1/2}, is a symmetric CSR matrix."""
    _, n, ei = GRAPHS[graph]
    adj = normalized_adjacency(ei, n, self_loops=self_loops, dtype=DT)
    assert adj.layout == torch.sparse_csr
    dense = adj.to_dense()
    torch.testing.assert_close(dense, dense_abar(ei, n, self_loops), rtol=0, atol=1e-14)
    torch.testing.assert_close(dense, dense.t(), rtol=0, atol=0)
    assert is_symmetric(adj)


def test_normalized_adjacency_spectrum_in_paper_range() -> None:
    """Spectrum of Δ = I − Ā lies in [0, 2] (paper §1)."""
    for _, n, ei in GRAPHS:
        for self_loops in (True, False):
            dense = normalized_adjacency(ei, n, self_loops=self_loops, dtype=DT).to_dense()
            ev = torch.linalg.eigvalsh(torch.eye(n, dtype=DT) - dense)
            assert ev.min() >= -1e-12 and ev.max() <= 2 + 1e-12


def test_is_symmetric_detects_asymmetry() -> None:
    """is_symmetric is False for a non-symmetric sparse matrix."""
    m = torch.tensor([[0.0, 1.0], [0.0, 0.0]]).to_sparse_csr()
    assert not is_symmetric(m)


def test_adjacency_is_cached() -> None:
    """GRAFFConv.adjacency returns the same object for the same edge_index, a new (different)
    one for another edge_index; the cache depends on the graph only (not on the parameters),
    so another conv on the same graph shares it."""
    _, n, ei = GRAPHS[0]
    _, _, ei_other = GRAPHS[3]
    conv = GRAFFConv(3).double()
    a1 = conv.adjacency(ei, n)
    assert conv.adjacency(ei, n) is a1
    a2 = conv.adjacency(ei_other, n)
    assert a2 is not a1
    torch.testing.assert_close(a2.to_dense(), dense_abar(ei_other, n, True), rtol=0, atol=1e-14)
    a3 = conv.adjacency(ei, n)
    torch.testing.assert_close(a3.to_dense(), dense_abar(ei, n, True), rtol=0, atol=1e-14)
    assert conv.adjacency(ei, n) is a3
    conv.reset_parameters()
    assert conv.adjacency(ei, n) is a3
    assert GRAFFConv(5).double().adjacency(ei, n) is a3
    assert GRAFFConv(5, self_loops=False).double().adjacency(ei, n) is not a3


def test_uncached_conv_recomputes() -> None:
    """With cached=False a new Ā is built at each call."""
    _, n, ei = GRAPHS[0]
    conv = GRAFFConv(3, cached=False)
    assert conv.adjacency(ei, n) is not conv.adjacency(ei, n)


@pytest.mark.parametrize("step_size", [0.0, -0.5, math.nan])
def test_conv_constructor_rejects_bad_step_size(step_size: float) -> None:
    """GRAFFConv(step_size ≤ 0 or nan) raises ValueError naming step_size."""
    with pytest.raises(ValueError, match="step_size"):
        GRAFFConv(4, step_size=step_size)


def test_conv_needs_a_graph() -> None:
    """GRAFFConv.forward without edge_index or adj raises ValueError."""
    conv = GRAFFConv(3)
    x = torch.randn(4, 3)
    with pytest.raises(ValueError, match="edge_index"):
        conv(x, x)


def test_sym_spmm_add_inplace_writes_into_base_and_keeps_gradients() -> None:
    """inplace=True returns base itself, with the same values and gradients as the out-of-place
    product (base is a temporary computed from a leaf, as in the Euler step)."""
    adj, n = _abar_sparse(0)
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(n, 3, dtype=DT, generator=gen)
    b = torch.randn(n, 3, dtype=DT, generator=gen)
    g = torch.randn(n, 3, dtype=DT, generator=gen)
    grads = []
    for inplace in (False, True):
        xa, ba = x.clone().requires_grad_(), b.clone().requires_grad_()
        base = ba * 2.0  # a fresh temporary
        out = sym_spmm_add(adj, xa, base, 0.5, inplace=inplace)
        assert (out.data_ptr() == base.data_ptr()) is inplace
        (out * g).sum().backward()
        grads.append((out.detach(), xa.grad, ba.grad))
    for a, b_ in zip(grads[0], grads[1], strict=True):
        torch.testing.assert_close(a, b_, rtol=0, atol=1e-12)


def test_rcm_order_is_a_permutation_that_narrows_the_bandwidth() -> None:
    from graff.nn.adjacency import rcm_order

    n = 300
    gen = torch.Generator().manual_seed(0)
    path = torch.stack([torch.arange(n - 1), torch.arange(1, n)])
    shuffle = torch.randperm(n, generator=gen)
    ei = to_undirected(shuffle[path], num_nodes=n)  # a path graph with shuffled ids
    order = rcm_order(ei, n)
    assert torch.equal(order.sort().values, torch.arange(n))
    new_id = torch.empty_like(order)
    new_id[order] = torch.arange(n)
    bandwidth = lambda e: int((e[0] - e[1]).abs().max())  # noqa: E731
    assert bandwidth(ei) > 50
    assert bandwidth(new_id[ei]) == 1  # RCM recovers the path order


def test_features_of_another_width_are_named() -> None:
    conv = GRAFFConv(4)
    ei = torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(
        ValueError, match=r"GRAFFConv\(4\) takes x and x0 of shape \[num_nodes, 4\]"
    ):
        conv(torch.randn(3, 6), torch.randn(3, 6), ei)
    with pytest.raises(ValueError, match=r"x0 \(2, 4\)"):
        conv(torch.randn(3, 4), torch.randn(2, 4), ei)
    # conv(x, edge_index), as a PyG layer is called, read edge_index as F(0)
    with pytest.raises(TypeError, match=r"conv\(x, x0, edge_index\).*integer tensor \(2, 2\)"):
        conv(torch.randn(3, 4), ei)
    # conv(data): the arguments it takes, by name, not Python's "missing argument"
    with pytest.raises(TypeError, match=r"GRAFFConv takes tensors, \(x, x0, edge_index\)"):
        conv(Data(x=torch.randn(3, 4), edge_index=ei))
    with pytest.raises(RuntimeError, match=r"x is on cpu but x0 is on meta; move it where x is"):
        conv(torch.randn(3, 4), torch.randn(3, 4, device="meta"), ei)

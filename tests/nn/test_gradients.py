"""Right values and gradients on any graph: directed edge_index, asymmetric edge weights.

Ā_ij weighs the edge j → i (PyG's orientation); on a directed graph or with asymmetric
weights Ā ≠ Āᵀ and the backward pass must multiply by Āᵀ. Each model is checked with
``torch.autograd.gradcheck`` in float64 on a directed graph, with asymmetric weights and on an
undirected graph (where the fast path, Āᵀ = Ā, must stay in use).
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor
from torch_geometric.nn import GCNConv

from graff.nn import (
    CGNN,
    GAT,
    GCN,
    GCNII,
    GPRGNN,
    GRAFF,
    H2GCN,
    PDEGCND,
    APPNPNet,
    GRAFFConv,
    GRANDLinear,
    GraphSAGE,
    normalized_adjacency,
)
from graff.nn.sparse import transpose_of
from tests.graff_reference import (
    DT,
    dense_abar_weighted,
    directed_graph,
    random_graph,
    randomise_,
    ref_forward,
)

N, P = 8, 3
KINDS = ["undirected", "directed", "asymmetric_weights"]


def _graph(kind: str) -> tuple[Tensor, Tensor | None]:
    if kind == "directed":
        return directed_graph(N, 14, seed=1), None
    ei = random_graph(N, 12, seed=2)
    if kind == "undirected":
        return ei, None
    w = torch.rand(ei.size(1), dtype=DT, generator=torch.Generator().manual_seed(3)) + 0.2
    return ei, w


def _x(seed: int = 0) -> Tensor:
    x = torch.randn(N, P, dtype=DT, generator=torch.Generator().manual_seed(seed))
    return x.requires_grad_()


def test_graphs_are_as_intended() -> None:
    for kind in KINDS:
        ei, w = _graph(kind)
        a = dense_abar_weighted(ei, N, w)
        assert torch.equal(a, a.t()) == (kind == "undirected")


@pytest.mark.parametrize("kind", KINDS)
def test_adjacency_and_transpose(kind: str) -> None:
    """normalized_adjacency equals the dense gcn_norm formula (Ā_ij: edge j → i); its
    registered transpose is Āᵀ, and Ā itself exactly when the graph is undirected."""
    ei, w = _graph(kind)
    adj = normalized_adjacency(ei, N, w, dtype=DT)
    torch.testing.assert_close(adj.to_dense(), dense_abar_weighted(ei, N, w), rtol=0, atol=1e-14)
    t = transpose_of(adj)
    assert (t is adj) == (kind == "undirected")
    torch.testing.assert_close(t.to_dense(), adj.to_dense().t(), rtol=0, atol=0)


@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_graff_values_and_gradcheck(kind: str, residual: bool) -> None:
    """GRAFF equals the dense reference on the graph's Ā and passes gradcheck w.r.t. X."""
    ei, w = _graph(kind)
    model = GRAFF(P, 4, 2, T=1.5, step_size=0.5, omega_type="sym", residual=residual)
    model = model.double().eval()
    randomise_(model, 0)
    x = _x()
    if residual:
        ref = ref_forward(
            model,
            x.detach(),
            ei,
            steps=[0.5] * 3,
            cfg={"omega_type": "sym"},
            abar=dense_abar_weighted(ei, N, w),
        )
        torch.testing.assert_close(model(x, ei, w), ref, rtol=0, atol=1e-10)
    assert torch.autograd.gradcheck(lambda v: model(v, ei, w), (x,))


@pytest.mark.parametrize("kind", KINDS)
def test_graff_conv_gradcheck(kind: str) -> None:
    """One GRAFFConv step (linear and GRAFF-NL) passes gradcheck w.r.t. F and F(0)."""
    ei, w = _graph(kind)
    for nonlinear in (False, True):
        conv = GRAFFConv(P, "sum", "sym", 0.7, beta=0.4, nonlinear=nonlinear).double()
        x, x0 = _x(1), _x(2)
        assert torch.autograd.gradcheck(lambda a, b, c=conv: c(a, b, ei, w), (x, x0))


def _baselines(weighted: bool) -> list[torch.nn.Module]:
    models: list[torch.nn.Module] = [
        GCN(P, 4, 2),
        GCNII(P, 4, 2, num_layers=2),
        APPNPNet(P, 4, 2, K=3),
        GPRGNN(P, 4, 2, K=3, init="uniform"),
        GraphSAGE(P, 4, 2),
        CGNN(P, 4, 2, T=1.0, step_size=0.5),
        PDEGCND(P, 4, 2, T=1.0, step_size=0.5),
        GRANDLinear(P, 4, 2, T=1.0, step_size=0.5, attention=False),
    ]
    if not weighted:
        models += [GAT(P, 2, 2, heads=2), H2GCN(P, 4, 2), GRANDLinear(P, 4, 2, T=1.0)]
    return models


@pytest.mark.parametrize("kind", KINDS)
def test_baselines_gradcheck(kind: str) -> None:
    """Every baseline passes gradcheck w.r.t. X on this graph."""
    ei, w = _graph(kind)
    torch.manual_seed(0)
    for model in _baselines(w is not None):
        model = model.double().eval()
        x = _x(3)
        ok = torch.autograd.gradcheck(lambda v, m=model: m(v, ei, w), (x,), raise_exception=False)
        assert ok, type(model).__name__


@pytest.mark.parametrize("kind", KINDS)
def test_gcn_equals_pyg_gcnconv(kind: str) -> None:
    """A one-layer GCN equals PyG's GCNConv (normalize=True) on the same graph, weights and
    parameters, directed or not: same orientation, same normalisation."""
    ei, w = _graph(kind)
    torch.manual_seed(0)
    ours = GCN(P, 4, 5, num_layers=1).double()
    pyg = GCNConv(P, 5).double()
    conv = ours.convs[0]
    with torch.no_grad():
        pyg.lin.weight.copy_(conv.lin.lin.weight)  # type: ignore[union-attr]
        pyg.bias.copy_(conv.bias)  # type: ignore[union-attr,arg-type]
    x = _x(4)
    torch.testing.assert_close(ours(x, ei, w), pyg(x, ei, w), rtol=0, atol=1e-12)
    g_ours = torch.autograd.grad(ours(x, ei, w).square().sum(), x)[0]
    g_pyg = torch.autograd.grad(pyg(x, ei, w).square().sum(), x)[0]
    torch.testing.assert_close(g_ours, g_pyg, rtol=0, atol=1e-12)

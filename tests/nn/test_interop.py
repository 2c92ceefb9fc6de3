"""Using graff.nn the PyG way: ``adj_t`` inputs, edge-weight gradients (explainer masks),
``copy.deepcopy``, ``torch.jit.trace`` and ONNX export."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import Tensor
from torch_geometric.nn import GCNConv

from graff.nn import GCN, GRAFF, GRAFFConv
from graff.train.config import ModelConfig
from graff.train.models import MODELS, build_model
from tests.graff_reference import DT, dense_abar_weighted, directed_graph, randomise_, ref_forward

N, P, K = 9, 4, 3
EI = directed_graph(N, 20, seed=11)


def _x(seed: int = 0) -> Tensor:
    return torch.randn(N, P, dtype=DT, generator=torch.Generator().manual_seed(seed))


def _adj_t(ei: Tensor, layout: str, w: Tensor | None = None) -> Tensor:
    """PyG's adj_t: entry (i, j) weighs the edge j → i."""
    value = torch.ones(ei.size(1), dtype=DT) if w is None else w
    adj_t = torch.sparse_coo_tensor(ei.flip(0), value, (N, N), check_invariants=True).coalesce()
    return adj_t if layout == "coo" else adj_t.to_sparse_csr()


def _model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig(name=name, hidden=8), P, K).double().eval()


class _FakeSparseTensor:
    """Duck type of torch_sparse.SparseTensor (not installed here): what graff.nn uses of it."""

    def __init__(self, adj_t: Tensor) -> None:
        self.adj_t = adj_t

    def to_torch_sparse_coo_tensor(self) -> Tensor:
        return self.adj_t


@pytest.mark.parametrize("layout", ["coo", "csr", "sparse_tensor"])
@pytest.mark.parametrize("name", list(MODELS))
def test_adj_t_in_place_of_edge_index(name: str, layout: str) -> None:
    """model(x, adj_t) == model(x, edge_index) for every model, adj_t as COO, CSR or a
    SparseTensor-like object."""
    model = _model(name)
    adj_t = _adj_t(EI, "coo" if layout == "sparse_tensor" else layout)
    graph = _FakeSparseTensor(adj_t) if layout == "sparse_tensor" else adj_t
    with torch.no_grad():
        torch.testing.assert_close(model(_x(), graph), model(_x(), EI), rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int32])
@pytest.mark.parametrize("name", list(MODELS))
def test_edge_index_of_any_integer_dtype(name: str, dtype: torch.dtype) -> None:
    """edge_index as uint8 / int16 / int32: the same output as int64 for every model (H2GCN
    crashed in PyG's scatter on uint8)."""
    model = _model(name)
    with torch.no_grad():
        torch.testing.assert_close(model(_x(), EI.to(dtype)), model(_x(), EI), rtol=0, atol=0)


# PyG's gcn_norm builds its CSR without choosing invariant checks, which torch warns about.
@pytest.mark.filterwarnings("ignore:Sparse invariant checks are implicitly disabled:UserWarning")
def test_weighted_adj_t_equals_edge_weight_and_pyg() -> None:
    """A weighted adj_t gives what edge_index + edge_weight give, and GCN matches PyG's
    GCNConv fed the same adj_t."""
    w = torch.rand(EI.size(1), dtype=DT, generator=torch.Generator().manual_seed(1)) + 0.5
    adj_t = _adj_t(EI, "csr", w)
    conv = GRAFFConv(P, "sum", "sym", 0.5).double()
    x, x0 = _x(1), _x(2)
    torch.testing.assert_close(conv(x, x0, adj_t), conv(x, x0, EI, w), rtol=0, atol=1e-12)
    ours = GCN(P, 4, 5, num_layers=1).double()
    pyg = GCNConv(P, 5).double()
    with torch.no_grad():
        pyg.lin.weight.copy_(ours.convs[0].lin.lin.weight)  # type: ignore[union-attr]
        pyg.bias.copy_(ours.convs[0].bias)  # type: ignore[union-attr,arg-type]
    torch.testing.assert_close(ours(x, adj_t), pyg(x, adj_t), rtol=0, atol=1e-12)


def test_bad_graph_inputs_are_refused_clearly() -> None:
    model = GRAFF(P, 4, K).double()
    with pytest.raises(ValueError, match=r"adj_t must be \[n, n\]"):
        model(_x(), torch.eye(N + 1, dtype=DT).to_sparse_coo())
    with pytest.raises(ValueError, match="pass edge_weight=None"):
        model(_x(), _adj_t(EI, "coo"), torch.ones(EI.size(1), dtype=DT))
    with pytest.raises(ValueError, match=r"shape \[2, E\]"):
        model(_x(), EI.t().contiguous())
    with pytest.raises(ValueError, match="one entry per edge"):
        model(_x(), EI, torch.ones(3, dtype=DT))
    with pytest.raises(TypeError, match=r"torch\.sparse adjacency"):
        model(_x(), [[0, 1], [1, 0]])


def test_edge_weight_gradient_matches_dense_reference() -> None:
    """An edge mask that requires grad (GNNExplainer's) gets the gradient of the dense
    reference, whose Ā = D^{-1/2}(A(w) + I)D^{-1/2} is differentiated by autograd."""
    model = GRAFF(P, 4, K, T=1.5, step_size=0.5).double().eval()
    randomise_(model, 1)
    x = _x(3)
    mask = torch.full((EI.size(1),), 0.8, dtype=DT).requires_grad_()
    model(x, EI, mask).square().sum().backward()
    assert mask.grad is not None and mask.grad.abs().sum() > 0
    ref_mask = mask.detach().clone().requires_grad_()
    abar = dense_abar_weighted(EI, N, ref_mask)
    ref = ref_forward(model, x, EI, steps=[0.5] * 3, cfg={}, abar=abar)
    ref.square().sum().backward()
    torch.testing.assert_close(mask.grad, ref_mask.grad, rtol=1e-9, atol=1e-12)
    assert torch.autograd.gradcheck(lambda m: model(x, EI, m), (mask,))


@pytest.mark.parametrize("name", ["gcn", "gcnii", "appnp", "gprgnn", "sage", "cgnn"])
def test_edge_weight_gradients_of_baselines(name: str) -> None:
    model = _model(name)
    mask = torch.full((EI.size(1),), 0.7, dtype=DT).requires_grad_()
    assert torch.autograd.gradcheck(lambda m: model(_x(4), EI, m), (mask,))


@pytest.mark.parametrize("name", list(MODELS))
def test_deepcopy_after_forward(name: str) -> None:
    """copy.deepcopy of a model that has run (and cached its operators) works and the copy
    computes the same output."""
    model = _model(name)
    with torch.no_grad():
        out = model(_x(), EI)
        clone = copy.deepcopy(model)
        torch.testing.assert_close(clone(_x(), EI), out, rtol=0, atol=0)


TRACEABLE = ["graff", "graff_nores", "mlp", "gcn", "gcnii", "appnp", "gprgnn", "cgnn", "pde_gcn"]


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
@pytest.mark.parametrize("name", list(MODELS))
def test_jit_trace_of_an_evaluated_model_works_on_any_graph(name: str) -> None:
    """torch.jit.trace records how Ā is built from the traced edge_index, so the traced module
    reproduces the model on the traced graph and on another one; models whose operators come
    from scipy refuse to be traced instead of baking in the traced graph."""
    model = _model(name)
    with torch.no_grad():
        model(_x(), EI)  # a warm cache must not be baked into the trace
        if name not in TRACEABLE:
            with pytest.raises(RuntimeError, match="cannot"):
                torch.jit.trace(model, (_x(), EI))
            return
        traced = torch.jit.trace(model, (_x(), EI))
        other = directed_graph(N, 31, seed=12)
        for ei in (EI, other):
            torch.testing.assert_close(traced(_x(5), ei), model(_x(5), ei), rtol=0, atol=1e-12)


def test_onnx_export(tmp_path: object) -> None:
    """ONNX export of GRAFF (needs the optional onnx package; skipped without it)."""
    pytest.importorskip("onnx")
    model = GRAFF(P, 4, K).eval()
    path = str(tmp_path) + "/graff.onnx"
    torch.onnx.export(model, (_x().float(), EI), path)  # type: ignore[operator]
    import onnx

    onnx.checker.check_model(onnx.load(path))  # a well-formed graph, not only a file


DEVICES = ["cpu"] + (["cuda:0"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["graff", "gcn", "sage", "h2gcn", "gat", "grand"])
def test_operators_live_on_the_inputs_device(name: str, device: str) -> None:
    """Cached operators are built on the graph's device and the output stays there (the
    device list holds CUDA only when one is present: untested on GPU otherwise)."""
    model = _model(name).to(device)
    x, ei = _x().to(device), EI.to(device)
    with torch.no_grad():
        out = model(x, ei)
    assert out.device == torch.device(device)
    if name == "graff":
        assert model.conv.adjacency(ei, N).device == torch.device(device)  # type: ignore[operator]

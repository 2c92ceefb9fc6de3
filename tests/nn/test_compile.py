"""torch.compile and torch.jit.script of graff's modules (:mod:`graff.nn`).

Every registered model (:data:`graff.train.models.MODELS`) is compiled and run on graphs it
has never seen eagerly: the compiled output equals the eager one, a few Adam steps train on
two different graphs, and a third graph of the second one's shape runs without recompiling
(``error_on_recompile``). The fast suite compiles with ``backend="aot_eager"`` (Dynamo's
tracing and guards and AOT autograd, without generating code); the ``slow`` tests compile
with inductor (C++ code for the CPU). ``torch.jit.script`` is refused with one clear line.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graff.errors import GraffError, TorchScriptError
from graff.nn import GRAFF, GRAFFConv
from graff.nn.sparse import to_csr
from graff.train.config import ModelConfig
from graff.train.models import MODELS, build_model

# Warnings of PyTorch's own: Dynamo reads ``.grad`` of the (non-leaf) features that cross
# the graph break at the operator lookup and instantiates autograd functions while tracing
# them; inductor's lowering of ``diagonal`` calls a deprecated check.
pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:The .grad attribute of a Tensor that is not a leaf:UserWarning"
    ),
    pytest.mark.filterwarnings("ignore:.*should not be instantiated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:`torch._prims_common.check` is deprecated:FutureWarning"),
]

IN, CLASSES = 6, 3
#: the models the fast suite compiles; the slow tests compile every registered model.
FAST = ("graff", "gcn", "mlp")


def ring_graph(n: int, chord: int, seed: int) -> tuple[Tensor, Tensor]:
    """Features [n, IN] and an undirected graph without duplicate edges: a ring with chords
    i ↔ i + chord, its node ids shuffled by ``seed`` (same shapes, other edges)."""
    gen = torch.Generator().manual_seed(seed)
    i = torch.arange(n)
    src = torch.cat([i, i])
    dst = torch.cat([(i + 1) % n, (i + chord) % n])
    perm = torch.randperm(n, generator=gen)
    ei = perm[torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])]
    return torch.randn(n, IN, generator=gen), ei


#: A and B differ in nodes and edges; C has B's shapes and other edges.
GRAPHS = {"A": ring_graph(17, 3, 0), "B": ring_graph(29, 5, 1), "C": ring_graph(29, 5, 2)}


@pytest.fixture(autouse=True)
def _fresh_dynamo() -> Iterator[None]:
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def make_model(name: str) -> nn.Module:
    torch.manual_seed(0)
    cfg = ModelConfig(name=name, hidden=8, num_layers=2, input_dropout=0.2, dropout=0.2)
    return build_model(cfg, IN, CLASSES)


def train_steps(model: nn.Module, run: nn.Module, key: str, steps: int = 4) -> list[float]:
    """Adam steps of ``model``'s parameters on graph ``key`` through ``run`` (the model or
    its compiled wrapper), with learnable labels and dropout from a fixed seed; the losses."""
    torch.manual_seed(1)
    x, ei = GRAPHS[key]
    y = x[:, :CLASSES].argmax(dim=1)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(run(x, ei), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def check_compiled(name: str, backend: str) -> None:
    """Compiled = eager in eval mode on A and B; training on A, then B, gives the eager
    losses (the compiled dropout draws the eager masks: ``graff::dropout_mask``), which
    decrease; C (B's shapes) runs without recompiling."""
    model, reference = make_model(name), make_model(name)
    compiled = torch.compile(model, backend=backend)
    model.eval()
    for key in ("A", "B"):
        x, ei = GRAPHS[key]
        with torch.no_grad():
            torch.testing.assert_close(compiled(x, ei), model(x, ei), rtol=1e-4, atol=1e-5)
    model.train()
    for key in ("A", "B"):
        losses = train_steps(model, compiled, key)
        expected = train_steps(reference, reference, key)
        torch.testing.assert_close(losses, expected, rtol=1e-4, atol=1e-5)
        assert losses[-1] < losses[0], (name, key, losses)
    x, ei = GRAPHS["C"]
    with torch._dynamo.config.patch(error_on_recompile=True):
        compiled(x, ei).sum().backward()


@pytest.mark.parametrize("name", FAST)
def test_compiled_model_trains_on_new_graphs(name: str) -> None:
    check_compiled(name, "aot_eager")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_compiles_and_trains(name: str) -> None:
    check_compiled(name, "aot_eager")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_compiles_with_inductor(name: str) -> None:
    check_compiled(name, "inductor")


def test_compiled_graff_breaks_only_at_the_operator_lookup() -> None:
    """With dropout (one opaque op in the compiled graph) and an encoder MLP, the one graph
    break of GRAFF's forward pass is Ā's lookup in the cache, and compiled training draws
    the eager dropout masks: the same losses."""
    from torch._dynamo.utils import counters

    def graff() -> GRAFF:
        torch.manual_seed(0)
        return GRAFF(IN, 8, CLASSES, input_dropout=0.5, dropout=0.5, encoder_layers=1, T=2.0)

    model, reference = graff(), graff()
    counters.clear()
    losses = train_steps(model, torch.compile(model, backend="aot_eager"), "A", steps=6)
    torch.testing.assert_close(losses, train_steps(reference, reference, "A", steps=6))
    reasons = list(counters["graph_break"])
    assert reasons and all("_compiled_lookup" in r for r in reasons), reasons


def test_compiled_graff_conv_matches_eager() -> None:
    torch.manual_seed(0)
    conv = GRAFFConv(8, "sum", "diag")
    compiled = torch.compile(conv, backend="aot_eager")
    for key in ("A", "B"):
        _, ei = GRAPHS[key]
        n = int(ei.max()) + 1
        x = torch.randn(n, 8, requires_grad=True)
        x0 = torch.randn(n, 8)
        out = compiled(x, x0, ei)
        torch.testing.assert_close(out, conv(x, x0, ei))
        (grad,) = torch.autograd.grad(out.square().sum(), x)
        (ref,) = torch.autograd.grad(conv(x, x0, ei).square().sum(), x)
        torch.testing.assert_close(grad, ref)


def test_compiled_graff_without_cache_and_with_reordering() -> None:
    """``cached=False`` (Ā built inside the compiled graph) and reordering (its edge list
    cached with the order) give the eager output too."""
    torch.manual_seed(0)
    model = GRAFF(IN, 8, CLASSES, reorder=True).eval()
    x, ei = GRAPHS["B"]
    expected = model(x, ei)
    compiled = torch.compile(model, backend="aot_eager")
    torch.testing.assert_close(compiled(x, ei), expected, rtol=1e-4, atol=1e-5)
    model.conv.cached = False
    torch._dynamo.reset()
    torch.testing.assert_close(compiled(x, ei), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["graff", "gcn"])
def test_compiled_model_takes_sparse_features_and_adjacency(name: str) -> None:
    """Sparse CSR features and a sparse ``adj_t`` (which run eagerly: a compiled graph takes
    no sparse tensor) give the eager output."""
    model = make_model(name).eval()
    x, ei = GRAPHS["A"]
    x = x * (x > 0.5)
    n = x.size(0)
    adj_t = torch.sparse_coo_tensor(
        ei.flip(0), torch.ones(ei.size(1)), (n, n), check_invariants=True
    )
    compiled = torch.compile(model, backend="aot_eager")
    expected = model(x, ei)
    with torch.no_grad():
        torch.testing.assert_close(compiled(to_csr(x), ei), expected, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(compiled(x, adj_t), expected, rtol=1e-4, atol=1e-5)


def test_compiled_graff_passes_gradients_to_edge_weights() -> None:
    """An ``edge_weight`` that requires grad (an explainer's mask) gets the eager gradient."""
    torch.manual_seed(0)
    model = GRAFF(IN, 8, CLASSES).eval()
    x, ei = GRAPHS["A"]
    weight = torch.rand(ei.size(1), requires_grad=True)
    (expected,) = torch.autograd.grad(model(x, ei, weight).square().sum(), weight)
    out = torch.compile(model, backend="aot_eager")(x, ei, weight)
    (grad,) = torch.autograd.grad(out.square().sum(), weight)
    torch.testing.assert_close(grad, expected)


@pytest.mark.parametrize("name", list(MODELS))
def test_jit_script_is_refused_clearly(name: str) -> None:
    with pytest.raises(TorchScriptError, match=r"use torch\.compile") as info:
        torch.jit.script(make_model(name))
    assert isinstance(info.value, GraffError)
    assert len(str(info.value).splitlines()) == 1


def test_jit_script_refuses_the_layer() -> None:
    with pytest.raises(TorchScriptError, match=r"GRAFFConv does not support torch\.jit\.script"):
        torch.jit.script(GRAFFConv(4))
    with pytest.raises(TorchScriptError, match="GRAFF does not support"):
        torch.jit.script(GRAFF(4, 8, 2))

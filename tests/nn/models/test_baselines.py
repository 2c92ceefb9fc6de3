"""Tests of the baselines (graff.nn.models) and the model registry.

The layers are checked in float64 against dense references written here from the papers'
formulas, and against PyG's own layers run on ``edge_index`` (our models feed PyG layers a
cached CSR Ā instead; the value must not change).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.nn import GATConv, GCN2Conv, SAGEConv
from torch_geometric.utils import remove_self_loops, to_undirected

from graff.data import dataset_groups, load_dataset
from graff.nn import (
    GAT,
    GCN,
    GCNII,
    GPRGNN,
    GRAFF,
    H2GCN,
    APPNPNet,
    GRAFFNoResidual,
    GraphSAGE,
    MLPClassifier,
    mean_adjacency,
    two_hop_adjacency,
)
from graff.nn.adjacency import edge_structure
from graff.nn.models.gat import gat_conv_csr
from graff.nn.sparse import edge_dot, edge_softmax, edge_values_mm, spmm, to_csr, transpose_of
from graff.train import ConfigError, ModelConfig, OptimConfig, RunConfig, train_split
from graff.train.config import apply_overrides, load_config
from graff.train.models import MODELS, build_model, check_model_config
from tests.graff_reference import GRAPHS

DT = torch.float64
REPO_ROOT = Path(__file__).resolve().parents[3]
SHIPPED = sorted((REPO_ROOT / "src" / "graff" / "configs").glob("*/*.yaml"))


# -- graphs and dense references ---------------------------------------------------------------
def _graph(n: int, m: int, seed: int) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    ei, _ = remove_self_loops(torch.randint(0, n, (2, m), generator=gen))
    return to_undirected(ei, num_nodes=n)


def _dense_a(ei: Tensor, n: int) -> Tensor:
    a = torch.zeros(n, n, dtype=DT)
    a[ei[0], ei[1]] = 1.0
    return a


def _sym_norm(a: Tensor) -> Tensor:
    d = a.sum(1)
    inv = torch.where(d > 0, d.rsqrt(), torch.zeros_like(d))
    return inv[:, None] * a * inv[None, :]


def _gcn_norm(ei: Tensor, n: int) -> Tensor:
    return _sym_norm(_dense_a(ei, n) + torch.eye(n, dtype=DT))


N, P, K = 12, 5, 3
EI = _graph(N, 30, seed=0)
X = torch.randn(N, P, generator=torch.Generator().manual_seed(1), dtype=DT)


@pytest.fixture(scope="module")
def small() -> Any:
    """A small homophilous csbm graph on which every model can learn."""
    d = load_dataset("csbm", num_nodes=120, num_classes=3, homophily=0.8, num_features=16)
    return d


# -- registry ----------------------------------------------------------------------------------
def test_config_validation_reads_the_registry() -> None:
    """A model registered after import is accepted by config validation (one source of truth),
    and a duplicate name is refused."""
    from graff.train import register_model

    cfg = RunConfig()
    cfg.model.name = "test_only_mlp"
    with pytest.raises(ConfigError, match=r"model\.name"):
        cfg.validate()
    register_model("test_only_mlp", MLPClassifier, ("num_layers",), "test entry", unbatched="t")
    try:
        cfg.validate()
        with pytest.raises(ValueError, match="already registered"):
            register_model("test_only_mlp", MLPClassifier, (), "again", unbatched="t")
    finally:
        MODELS._entries.pop("test_only_mlp")


@pytest.mark.parametrize("name", tuple(MODELS))
def test_every_model_builds_and_runs(name: str) -> None:
    """Each registered model builds from a default config, outputs [n, classes] logits, and
    gives the same eval-mode output for dense and sparse CSR features."""
    cfg = ModelConfig(name=name, hidden=8)
    check_model_config(cfg)
    torch.manual_seed(0)
    model = build_model(cfg, P, K).double().eval()
    out = model(X, EI)
    assert out.shape == (N, K) and out.dtype == DT
    assert torch.isfinite(out).all()
    if getattr(model, "accepts_sparse_features", False):
        torch.testing.assert_close(model(to_csr(X), EI), out)


@pytest.mark.parametrize("name", tuple(MODELS))
def test_every_model_learns(name: str, small: Any) -> None:
    """Training for 40 epochs lowers the training loss and beats chance on validation."""
    cfg = ModelConfig(name=name, hidden=16)
    torch.manual_seed(0)
    model = build_model(cfg, small.x.size(1), 3)
    tm = small.train_mask[:, 0]
    with torch.no_grad():
        before = float(F.cross_entropy(model(small.x, small.edge_index)[tm], small.y[tm]))
    res = train_split(
        model,
        small.x,
        small.edge_index,
        small.y,
        tm,
        small.val_mask[:, 0],
        small.test_mask[:, 0],
        OptimConfig(lr=0.01, weight_decay=0.0, epochs=40),
    )
    model.load_state_dict(res.state_dict)
    model.eval()
    with torch.no_grad():
        after = float(F.cross_entropy(model(small.x, small.edge_index)[tm], small.y[tm]))
    assert after < before
    assert res.val > 0.5  # chance is 1/3


# -- GCN, GCNII, APPNP, GPRGNN: exact values ---------------------------------------------------
def test_gcn_two_layers_equals_dense_formula() -> None:
    """GCN(depth 2) = Â ReLU(Â X W₁ + b₁) W₂ + b₂ with Â = D̃^{-1/2}(A+I)D̃^{-1/2}."""
    torch.manual_seed(0)
    model = GCN(P, 6, K, num_layers=2).double().eval()
    with torch.no_grad():
        for conv in model.convs:
            conv.bias.normal_()  # type: ignore[union-attr, operator]
    a = _gcn_norm(EI, N)
    c1, c2 = model.convs
    w1 = c1.lin.lin.weight  # type: ignore[union-attr]
    w2 = c2.lin.weight  # type: ignore[union-attr]
    ref = a @ torch.relu(a @ X @ w1.t() + c1.bias) @ w2.t() + c2.bias
    torch.testing.assert_close(model(X, EI), ref)


def test_gcn_dropout_only_in_training() -> None:
    """Dropout is active in train mode and off in eval mode."""
    torch.manual_seed(0)
    model = GCN(P, 6, K, input_dropout=0.5, dropout=0.5).double()
    model.train()
    assert not torch.allclose(model(X, EI), model(X, EI))
    model.eval()
    torch.testing.assert_close(model(X, EI), model(X, EI))


def test_gcnii_equals_pyg_on_edge_index() -> None:
    """Our GCNII layers (cached CSR Ā) give the same output as PyG's GCN2Conv normalising
    ``edge_index`` itself."""
    torch.manual_seed(0)
    model = GCNII(P, 6, K, num_layers=3, alpha=0.2, theta=0.7).double().eval()
    h = h0 = torch.relu(model.input(X))
    for layer, conv in enumerate(model.convs, start=1):
        ref = GCN2Conv(6, alpha=0.2, theta=0.7, layer=layer).double()
        ref.load_state_dict(conv.state_dict())
        h = torch.relu(ref(h, h0, EI))
    torch.testing.assert_close(model(X, EI), model.output(h))


def test_appnp_equals_personalised_pagerank() -> None:
    """APPNP: Z ← (1−α) Â Z + α H for K steps, from Z = H = MLP(X)."""
    torch.manual_seed(0)
    model = APPNPNet(P, 6, K, K=4, alpha=0.3).double().eval()
    a = _gcn_norm(EI, N)
    h = model.mlp(X)
    z = h
    for _ in range(4):
        z = 0.7 * a @ z + 0.3 * h
    torch.testing.assert_close(model(X, EI), z)


def test_appnp_and_gprgnn_callbacks_see_each_step() -> None:
    """callback(k, t, Z), as GRAFF's: APPNP's Z⁽ᵏ⁾ (from Z⁽⁰⁾ = H) and GPR-GNN's partial sums
    Σ_{j≤k} γ_j Âʲ H, written out densely here; the logits are the same with or without it
    (APPNP's own loop against PyG's layer), and a non-callable is refused."""
    torch.manual_seed(0)
    a = _gcn_norm(EI, N)
    appnp = APPNPNet(P, 6, K, K=3, alpha=0.3).double().eval()
    gpr = GPRGNN(P, 6, K, K=3, gamma=[0.5, -0.2, 0.4, 0.1]).double().eval()
    h = appnp.mlp(X)
    want_appnp = [h]
    for _ in range(3):
        want_appnp.append(0.7 * a @ want_appnp[-1] + 0.3 * h)
    g = gpr.mlp(X)
    want_gpr = [0.5 * g]
    for k, c in enumerate([-0.2, 0.4, 0.1], start=1):
        want_gpr.append(want_gpr[-1] + c * torch.linalg.matrix_power(a, k) @ g)
    for model, want in ((appnp, want_appnp), (gpr, want_gpr)):
        seen: list[tuple[int, float, Tensor]] = []
        out = model(X, EI, callback=lambda k, t, z, seen=seen: seen.append((k, t, z)))
        torch.testing.assert_close(out, model(X, EI), rtol=1e-12, atol=1e-12)
        assert [(k, t) for k, t, _ in seen] == [(k, float(k)) for k in range(4)]
        for (_, _, z), ref in zip(seen, want, strict=True):
            torch.testing.assert_close(z, ref)
        with pytest.raises(TypeError, match="callback must be callable"):
            model(X, EI, callback=1)


@pytest.mark.parametrize("k", [0, 1, 3])
def test_gprgnn_delta_gamma_is_power_of_a(k: int) -> None:
    """GPRGNN with γ = e_k (one-hot at k) outputs Â^k MLP(X)."""
    torch.manual_seed(0)
    gamma = [0.0] * 4
    gamma[k] = 1.0
    model = GPRGNN(P, 6, K, K=3, gamma=gamma).double().eval()
    a = _gcn_norm(EI, N)
    ref = torch.linalg.matrix_power(a, k) @ model.mlp(X)
    torch.testing.assert_close(model(X, EI), ref)


def test_gprgnn_ppr_initialisation() -> None:
    """init='ppr' starts from γ_k = α(1−α)^k, γ_K = (1−α)^K (sums to one)."""
    model = GPRGNN(P, 6, K, K=5, alpha=0.2)
    expected = torch.tensor([0.2 * 0.8**k for k in range(5)] + [0.8**5])
    torch.testing.assert_close(model.gamma.detach(), expected)
    assert float(model.gamma.detach().sum()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="gamma"):
        GPRGNN(P, 6, K, K=3, gamma=[1.0, 0.0])


# -- GAT and GraphSAGE against PyG ---------------------------------------------------------------
@pytest.mark.parametrize("concat", [True, False])
def test_gat_csr_equals_pyg_gatconv(concat: bool) -> None:
    """gat_conv_csr on the cached pattern of A+I equals GATConv(x, edge_index) (float64)."""
    torch.manual_seed(0)
    conv = GATConv(P, 4, heads=3, concat=concat).double().eval()
    with torch.no_grad():
        conv.bias.normal_()  # type: ignore[union-attr]
    torch.testing.assert_close(gat_conv_csr(conv, X, edge_structure(EI, N)), conv(X, EI))


def test_gat_gradients_equal_pyg() -> None:
    """The CSR attention gives PyG's parameter gradients too."""
    torch.manual_seed(0)
    conv = GATConv(P, 4, heads=2).double()
    s = edge_structure(EI, N)
    ours = torch.autograd.grad(gat_conv_csr(conv, X, s).pow(2).sum(), list(conv.parameters()))
    ref = torch.autograd.grad(conv(X, EI).pow(2).sum(), list(conv.parameters()))
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b)


def test_sage_equals_pyg_sageconv() -> None:
    """GraphSAGE (mean after the linear map, CSR) equals PyG's SAGEConv stack on edge_index,
    including a node without neighbours."""
    ei = _graph(N, 30, seed=3)
    ei = ei[:, (ei != N - 1).all(0)]  # node N-1 isolated
    torch.manual_seed(0)
    model = GraphSAGE(P, 6, K, num_layers=2).double().eval()
    c1, c2 = model.convs
    ref = c2(torch.relu(c1(X, ei)), ei)
    torch.testing.assert_close(model(X, ei), ref)
    assert isinstance(c1, SAGEConv)


# -- H2GCN -------------------------------------------------------------------------------------
def test_two_hop_is_strict_two_hop() -> None:
    """Ā₂ is supported exactly on the pairs at shortest-path distance 2 (no self, no one-hop),
    symmetrically normalised."""
    ei = _graph(15, 25, seed=4)
    g = nx.Graph()
    g.add_nodes_from(range(15))
    g.add_edges_from(ei.t().tolist())
    dist = dict(nx.all_pairs_shortest_path_length(g))
    mask = torch.tensor([[dist[i].get(j, -1) == 2 for j in range(15)] for i in range(15)])
    a2 = two_hop_adjacency(ei, 15, dtype=DT).to_dense()
    assert torch.equal(a2 != 0, mask)
    torch.testing.assert_close(a2, _sym_norm(mask.to(DT)))
    one_hop = _dense_a(ei, 15) != 0
    assert not (a2.diagonal() != 0).any()
    assert not ((a2 != 0) & one_hop).any()


def test_h2gcn_equals_dense_formula() -> None:
    """H2GCN (K=2) = [R₀ ‖ Ā₁R₀ ‖ Ā₂R₀ ‖ Ā₁R₁ ‖ Ā₂R₁] W_c with R₀ = ReLU(X W_e)."""
    torch.manual_seed(0)
    model = H2GCN(P, 4, K, rounds=2).double().eval()
    a1 = _sym_norm(_dense_a(EI, N))
    a2 = two_hop_adjacency(EI, N, dtype=DT).to_dense()
    r0 = torch.relu(X @ model.embed.lin.weight.t())  # type: ignore[operator]
    r1 = torch.cat([a1 @ r0, a2 @ r0], -1)
    r2 = torch.cat([a1 @ r1, a2 @ r1], -1)
    ref = model.classify(torch.cat([r0, r1, r2], -1))
    torch.testing.assert_close(model(X, EI), ref)
    assert model.classify.in_features == 4 * 7
    seen: list[tuple[int, float, Tensor]] = []
    out = model(X, EI, callback=lambda k, t, r: seen.append((k, t, r)))
    torch.testing.assert_close(out, ref)  # the same logits with a callback
    assert [(k, t) for k, t, _ in seen] == [(0, 0.0), (1, 1.0), (2, 2.0)]
    for (_, _, r), want in zip(seen, (r0, r1, r2), strict=True):
        torch.testing.assert_close(r, want)  # each round's representation


# -- GRAFF without residual ----------------------------------------------------------------------
def test_graff_no_residual_is_tau_a_f_w_iterated() -> None:
    """With Ω = 0 and β = 0 (fixed), F(T) = (τĀ)^m F(0) W^m: F ← τĀFW iterated."""
    torch.manual_seed(0)
    model = GRAFFNoResidual(
        P, 4, K, w_type="sum", omega_type="zero", learn_beta=False, T=1.5, step_size=0.5
    ).double()
    f0 = model.encode(X)
    a, w = _gcn_norm(EI, N), model.W
    f = f0
    for _ in range(3):
        f = 0.5 * a @ f @ w
    torch.testing.assert_close(model.evolve(f0, EI), f)


def test_graff_no_residual_with_omega_and_source() -> None:
    """In general F(t+τ) = τ(−FΩ + ĀFW + βF(0)), with a shorter last step for non-integer T/τ,
    and it differs from GRAFF only by the missing residual."""
    torch.manual_seed(0)
    kw: dict[str, Any] = dict(w_type="dd", omega_type="diag", T=1.3, step_size=0.5, beta=0.4)
    model = GRAFFNoResidual(P, 4, K, **kw).double()
    graff = GRAFF(P, 4, K, **kw).double()
    graff.load_state_dict(model.state_dict())
    f0 = model.encode(X)
    a, w, om, beta = _gcn_norm(EI, N), model.W, model.Omega, model.beta
    f, g = f0, f0
    for tau in (0.5, 0.5, 0.3):
        f = tau * (-f @ om + a @ f @ w + beta * f0)
        g = g + tau * (-g @ om + a @ g @ w + beta * f0)
    torch.testing.assert_close(model.evolve(f0, EI), f)
    torch.testing.assert_close(graff.evolve(f0, EI), g)


def test_no_residual_is_a_flag_with_gradients_checkpointing_and_reordering() -> None:
    """GRAFFNoResidual is GRAFF(residual=False): same state dict and outputs; checkpointing and
    node reordering give the same logits and gradients as the plain evolution."""
    kw: dict[str, Any] = dict(w_type="sum", omega_type="sym", T=2.0, step_size=0.5, beta=0.3)
    torch.manual_seed(0)
    ablation = GRAFFNoResidual(P, 4, K, **kw).double()
    runs = []
    for extra in ({}, {"checkpoint": True}, {"reorder": True}):
        model = GRAFF(P, 4, K, residual=False, **kw, **extra).double()
        model.load_state_dict(ablation.state_dict())
        out = model(X, EI)
        grads = torch.autograd.grad(out.square().sum(), list(model.parameters()))
        runs.append((out, grads))
    torch.testing.assert_close(runs[0][0], ablation(X, EI), rtol=0, atol=0)
    for out, grads in runs[1:]:
        torch.testing.assert_close(out, runs[0][0], rtol=1e-12, atol=1e-12)
        for g, g0 in zip(grads, runs[0][1], strict=True):
            torch.testing.assert_close(g, g0, rtol=1e-10, atol=1e-12)


# -- sparse operators ----------------------------------------------------------------------------
def test_mean_adjacency_and_transpose() -> None:
    """D⁻¹A and its registered transpose; spmm's backward uses the transpose (gradcheck)."""
    adj = mean_adjacency(EI, N, dtype=DT)
    adj_t = transpose_of(adj)
    a = _dense_a(EI, N)
    deg = a.sum(1, keepdim=True)
    ref = torch.where(deg > 0, a / deg.clamp(min=1), torch.zeros_like(a))
    torch.testing.assert_close(adj.to_dense(), ref)
    torch.testing.assert_close(adj_t.to_dense(), ref.t())
    x = X.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda v: spmm(adj, v), (x,))


def test_edge_ops_gradcheck_and_values() -> None:
    """edge_dot, edge_softmax and edge_values_mm match dense references and gradcheck."""
    s = edge_structure(EI, N)
    pattern = _dense_a(EI, N) + torch.eye(N, dtype=DT) != 0
    rows, cols = pattern.nonzero(as_tuple=True)  # row-major = CSR order
    assert torch.equal(s.row, rows) and torch.equal(s.col, cols)
    gen = torch.Generator().manual_seed(5)
    u = torch.randn(N, 3, generator=gen, dtype=DT, requires_grad=True)
    v = torch.randn(N, 3, generator=gen, dtype=DT, requires_grad=True)
    torch.testing.assert_close(edge_dot(u, v, s), (u[rows] * v[cols]).sum(-1))
    assert torch.autograd.gradcheck(lambda a, b: edge_dot(a, b, s), (u, v))
    scores = torch.randn(rows.numel(), 2, generator=gen, dtype=DT, requires_grad=True)
    alpha = edge_softmax(scores, s)
    dense = torch.full((2, N, N), float("-inf"), dtype=DT)
    dense[:, rows, cols] = scores.detach().t()
    torch.testing.assert_close(alpha, torch.softmax(dense, -1)[:, rows, cols].t())
    assert torch.autograd.gradcheck(lambda a: edge_softmax(a, s), (scores,))
    # head-major [H, E] (dim=1, as the attention modules use it): the same coefficients
    heads_first = scores.detach().t().contiguous().requires_grad_()
    torch.testing.assert_close(edge_softmax(heads_first, s, dim=1), alpha.t())
    assert torch.autograd.gradcheck(lambda a: edge_softmax(a, s, dim=-1), (heads_first,))
    with pytest.raises(ValueError, match="one entry per stored edge"):
        edge_softmax(heads_first, s)  # [H, E] read as [E, H]
    vals = torch.randn(rows.numel(), generator=gen, dtype=DT, requires_grad=True)
    mat = torch.zeros(N, N, dtype=DT)
    mat[rows, cols] = vals.detach()
    torch.testing.assert_close(edge_values_mm(vals, u, s), mat @ u)
    assert torch.autograd.gradcheck(lambda a, b: edge_values_mm(a, b, s), (vals, u))
    with pytest.raises(ValueError, match="one entry per stored edge"):
        edge_values_mm(vals[:-1], u, s)


def test_models_reject_edge_weights_they_cannot_use() -> None:
    for model in (GAT(P, 4, K), H2GCN(P, 4, K)):
        with pytest.raises(ValueError, match="edge weights"):
            model(X.float(), EI, torch.ones(EI.size(1)))


def test_mlp_ignores_the_graph() -> None:
    """MLPClassifier gives the same logits whatever edge_index (or none) it is given."""
    _, n, ei = GRAPHS[1]
    mlp = MLPClassifier(5, 8, 3, num_layers=2).double().eval()
    x = torch.randn(n, 5, dtype=DT)
    other = torch.tensor([[0, 1], [1, 0]])
    out = mlp(x, ei)
    assert out.shape == (n, 3)
    torch.testing.assert_close(mlp(x, other), out, rtol=0, atol=0)
    torch.testing.assert_close(mlp(x), out, rtol=0, atol=0)
    # Unlike GRAFF, whose output does depend on the graph.
    model = GRAFF(5, 4, 3).double().eval()
    assert not torch.allclose(model(x, ei), model(x, other))


def test_mlp_rejects_zero_layers() -> None:
    """MLPClassifier(num_layers < 1) raises ValueError naming num_layers."""
    with pytest.raises(ValueError, match="num_layers"):
        MLPClassifier(3, 4, 2, num_layers=0)


# -- configuration errors ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "params", "match"),
    [
        ("gcnn", {}, r"model\.name.*one of"),
        ("gcnii", {"alpah": 0.1}, r"model\.params\.alpah.*Did you mean alpha"),
        ("gcnii", {"alpha": "high"}, r"model\.params\.alpha = 'high'.*a number"),
        ("gcnii", {"alpha": 2.0}, r"gcnii.*alpha must be in \[0, 1\]"),
        ("gcn", {"dropout": 0.1}, r"model\.params\.dropout.*set model\.dropout"),
        ("gcn", {"self_loop": False}, r"Did you mean the field model\.self_loops"),
        ("gprgnn", {"init": "random"}, r"init must be one of"),
        ("gprgnn", {"gamma": [1, "x"]}, r"gamma\[1\]"),
        ("grand", {"method": "rk45"}, r"unknown ODE method 'rk45'.*dopri5"),
        ("gat", {"heads": 0}, r"heads must be a positive integer"),
        ("graff", {"alpha": 0.1}, r"model\.params\.alpha is not a parameter of model 'graff'"),
        ("h2gcn", {"K": 2}, r"h2gcn.*Its parameters: rounds"),
    ],
)
def test_invalid_model_config_is_a_config_error(
    model: str, params: dict[str, Any], match: str
) -> None:
    cfg = RunConfig()
    cfg.model.name, cfg.model.params = model, params
    with pytest.raises(ConfigError, match=match):
        cfg.validate()


def test_params_override_and_coercion() -> None:
    """``--set model.params.K=5`` sets a model parameter; YAML ints become floats where the
    constructor wants a float."""
    cfg = apply_overrides(
        RunConfig(), ["model.name=gprgnn", "model.params.K=5", "model.params.alpha=1"]
    )
    cfg.validate()
    model = build_model(cfg.model, 4, 2)
    assert isinstance(model, GPRGNN) and model.K == 5 and model.alpha == 1.0


def test_validate_does_not_touch_the_global_rng() -> None:
    torch.manual_seed(3)
    state = torch.get_rng_state()
    cfg = RunConfig()
    cfg.model.name = "gcnii"
    cfg.validate()
    assert torch.equal(torch.get_rng_state(), state)


# -- shipped configs ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", SHIPPED, ids=[f"{p.parent.name}/{p.stem}" for p in SHIPPED])
def test_shipped_config_loads_and_validates(path: Path) -> None:
    """Every configs/<model>/<dataset>.yaml validates, names its model and dataset as its path
    does, and says where its numbers come from."""
    cfg = load_config(path).validate()
    assert cfg.model.name == path.parent.name
    assert cfg.data.dataset == path.stem
    assert len(cfg.provenance) > 20


#: Platonov et al.'s -sep rows: models of their benchmark only, configs on its graphs
PLATONOV_ONLY = {"gat_sep": "GAT-sep", "gt_sep": "GT-sep"}


def test_shipped_configs_cover_the_table() -> None:
    """Every registered baseline ships a config for every dataset that GRAFF has one for;
    Platonov et al.'s -sep rows for every graph of theirs GRAFF has one for."""
    configs = REPO_ROOT / "src" / "graff" / "configs"
    graff = {p.stem for p in (configs / "graff").glob("*.yaml")}
    theirs = set(dataset_groups("extra"))
    assert theirs and theirs <= graff
    for name in tuple(MODELS):
        have = {p.stem for p in (configs / name).glob("*.yaml")}
        need = theirs if name in PLATONOV_ONLY else graff
        assert need <= have, f"{name} lacks configs for {sorted(need - have)}"


@pytest.mark.parametrize(
    "path",
    sorted((REPO_ROOT / "src" / "graff" / "configs" / "graff").glob("*.yaml")),
    ids=lambda p: p.stem,
)
def test_graff_nores_configs_reuse_graff_hyperparameters(path: Path) -> None:
    """GRAFF without residual runs with GRAFF's settings (only the name and patience differ)."""
    graff = load_config(path)
    nores = load_config(REPO_ROOT / "src" / "graff" / "configs" / "graff_nores" / path.name)
    graff.model.name = "graff_nores"
    assert nores.model == graff.model
    assert nores.data == graff.data
    assert (nores.optim.lr, nores.optim.weight_decay, nores.optim.epochs) == (
        graff.optim.lr,
        graff.optim.weight_decay,
        graff.optim.epochs,
    )


# -- inputs that do not fit the model: one clear error, for every registered model ----------
@pytest.mark.parametrize("name", sorted(MODELS))
def test_inputs_that_do_not_fit_the_model_are_named(name: str) -> None:
    """Features of another width or dtype, a non-matrix, and node ids outside the graph (a
    negative id would index from the end, silently) are refused before any product."""
    cfg = RunConfig()
    cfg.model.name = name
    model = build_model(cfg.model, 3, 2)
    x, ei = torch.randn(5, 3), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    assert model(x, ei).shape == (5, 2)
    with pytest.raises(ValueError, match=r"x has 7 features per node.*in_channels=3"):
        model(torch.randn(5, 7), ei)
    with pytest.raises(ValueError, match=r"x has 7 features per node"):
        model(torch.randn(5, 7).to_sparse_csr(), ei)
    with pytest.raises(ValueError, match=r"must be a matrix \[num_nodes, 3\]"):
        model(torch.randn(5), ei)
    with pytest.raises(TypeError, match=r"x is torch.int64.*x.to\(torch.float32\)"):
        model(torch.ones(5, 3, dtype=torch.long), ei)
    with pytest.raises(TypeError, match=r"model.to\(torch.float64\)"):
        model(x.double(), ei)
    with pytest.raises(RuntimeError, match=r"x is on meta but the model's parameters are on cpu"):
        model(x.to("meta"), ei)  # as a CUDA x would be beside a CPU model
    # the graph left on another device than x and the model (PyTorch's "Expected all tensors
    # to be on the same device" from the first product, not graff's words)
    with pytest.raises(RuntimeError, match=r"x is on cpu but edge_index is on meta; move it"):
        model(x, ei.to("meta"))
    with pytest.raises(TypeError, match=r"not a Data object: call model\(data.x, data.edge_index"):
        model(Data(x=x, edge_index=ei))  # Python's "missing 1 required positional argument"
    bad_x = x.clone()
    bad_x[3, 1] = float("inf")
    assert model(x.to_sparse(), ei).shape == (5, 2)  # COO features run as before
    for features in (bad_x, bad_x.to_sparse_csr(), bad_x.to_sparse()):  # NaN logits, silently
        with pytest.raises(ValueError, match=r"1 NaN or infinite entries in 1 rows \(first: row 3"):
            model(features, ei)
    bad_x[3, 1] = 0.0  # mended in place: the cached check sees the new version
    assert torch.isfinite(model(bad_x, ei)).all()
    if name == "mlp":
        return  # no graph
    for bad, node in (
        (torch.tensor([[0, -1], [1, 2]]), "-1"),
        (torch.tensor([[0, 5], [1, 2]]), "5"),
    ):
        with pytest.raises(ValueError, match=rf"refers to node {node}, but the graph has 5 nodes"):
            model(x, bad)

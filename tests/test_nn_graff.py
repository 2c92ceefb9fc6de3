"""Tests of the GRAFF layer and model (graff.nn.graff_conv, graff.nn.graff, graff.nn.adjacency).

The mathematics is checked against a naive dense float64 reference written here from the
paper's formulas (Di Giovanni et al. 2022, eq. 6):

    F(0) = ψ_EN(X),  F(t+τ) = F(t) + τ(−F(t)Ω + Ā F(t) W + β F(0)),  Y = ψ_DE(F(T)),

Ā = D̃^{-1/2}(A+I)D̃^{-1/2} (self-loops) or D^{-1/2} A D^{-1/2} (isolated nodes → zero rows).
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import Tensor
from torch_geometric.utils import remove_self_loops, to_undirected

from graff.nn import GRAFF, GRAFFConv, MLPClassifier, euler_steps
from graff.nn.adjacency import is_symmetric, normalized_adjacency, sym_spmm_add
from graff.nn.parametrisations import ChannelMixing

DT = torch.float64
ALL_W = ["sum", "prod", "neg_prod", "diag", "dd"]
ALL_OMEGA = ["diag", "const", "zero", "sym"]


# --------------------------------------------------------------------------------------------
# Graphs and the dense reference
# --------------------------------------------------------------------------------------------
def _random_graph(n: int, m: int, seed: int, isolated: int | None = None) -> Tensor:
    """Random undirected simple graph on n nodes; node ``isolated`` (if given) has no edges."""
    gen = torch.Generator().manual_seed(seed)
    hi = n - 1 if isolated is not None else n
    ei = torch.randint(0, hi, (2, m), generator=gen)
    if isolated is not None:  # map [0, n-1) onto the nodes other than ``isolated``
        ei = ei + (ei >= isolated).long()
    ei, _ = remove_self_loops(ei)
    return to_undirected(ei, num_nodes=n)


GRAPHS: list[tuple[str, int, Tensor]] = [
    ("sparse", 9, _random_graph(9, 12, seed=0)),
    ("dense", 7, _random_graph(7, 30, seed=1)),
    ("isolated", 8, _random_graph(8, 10, seed=2, isolated=3)),
    ("isolated_last", 6, _random_graph(6, 6, seed=3, isolated=5)),
]


def test_test_graphs_are_as_intended() -> None:
    """The test graphs are undirected and loop-free; the 'isolated' ones have an isolated node."""
    for name, n, ei in GRAPHS:
        a = _dense_a(ei, n)
        assert torch.equal(a, a.t())
        assert not a.diagonal().any()
        if name.startswith("isolated"):
            assert (a.sum(1) == 0).any()


def _dense_a(edge_index: Tensor, n: int) -> Tensor:
    a = torch.zeros(n, n, dtype=DT)
    a[edge_index[0], edge_index[1]] = 1.0
    return a


def _dense_abar(edge_index: Tensor, n: int, self_loops: bool) -> Tensor:
    """Ā = D^{-1/2} A D^{-1/2} (A ← A + I first with self-loops), zero rows for degree 0."""
    a = _dense_a(edge_index, n)
    if self_loops:
        a = a + torch.eye(n, dtype=DT)
    deg = a.sum(1)
    dinv = torch.where(deg > 0, deg.clamp(min=1e-300).pow(-0.5), torch.zeros_like(deg))
    return dinv[:, None] * a * dinv[None, :]


def _ref_matrix(module: ChannelMixing, kind: str) -> Tensor:
    """W or Ω rebuilt from the module's raw parameters with the paper's formulas."""
    d = module.channels
    if kind == "zero":
        return torch.zeros(d, d, dtype=DT)
    raw = module.weight.detach()
    if kind in ("sum", "sym"):
        return 0.5 * (raw + raw.t())
    if kind == "prod":
        return raw.t() @ raw
    if kind == "neg_prod":
        return -(raw.t() @ raw)
    if kind == "diag":
        return torch.diag(raw)
    if kind == "const":
        return raw.reshape(()) * torch.eye(d, dtype=DT)
    if kind == "dd":
        w0 = 0.5 * (raw + raw.t())
        w0 = w0 - torch.diag(torch.diagonal(w0))
        q, r = module.q.detach(), module.r.detach()  # type: ignore[union-attr]
        return torch.diag(q * w0.abs().sum(1) + r) + w0
    raise AssertionError(kind)


def _standardise(z: Tensor) -> Tensor:
    """Per-channel standardisation over the nodes (biased variance, ε = 1e-5, no affine)."""
    mean = z.mean(0, keepdim=True)
    var = ((z - mean) ** 2).mean(0, keepdim=True)
    return (z - mean) / torch.sqrt(var + 1e-5)


def _ref_step(
    f: Tensor,
    f0: Tensor,
    abar: Tensor,
    w: Tensor,
    om: Tensor,
    beta: float,
    tau: float,
    nl: bool,
    norm: bool = False,
) -> Tensor:
    """F + τ·σ(N(−FΩ + ĀFW + βF(0))), σ = ReLU if ``nl``, N = standardisation if ``norm``."""
    inc = -f @ om + abar @ f @ w + beta * f0
    if norm:
        inc = _standardise(inc)
    if nl:
        inc = torch.relu(inc)
    return f + tau * inc


def _ref_forward(
    model: GRAFF, x: Tensor, edge_index: Tensor, *, steps: list[float], cfg: dict
) -> Tensor:
    """Dense float64 GRAFF forward in eval mode (no dropout), from the raw parameters."""
    n = x.shape[0]
    abar = _dense_abar(edge_index, n, cfg.get("self_loops", True))
    h = x @ model.encoder.weight.detach().t() + model.encoder.bias.detach()
    for lin in model.encoder_mlp:
        h = h + torch.relu(h) @ lin.weight.detach().t() + lin.bias.detach()
    f0 = h
    conv = model.conv
    w_type = cfg.get("w_type", "dd")
    ws = [_ref_matrix(w, w_type) for w in conv.ws]  # type: ignore[arg-type]
    om = _ref_matrix(conv.omega, cfg.get("omega_type", "diag"))
    beta = float(conv.beta.detach().item())
    f = f0
    for k, tau in enumerate(steps):
        w = ws[k] if cfg.get("time_dependent", False) else ws[0]
        nl, norm = cfg.get("nonlinear", False), cfg.get("step_norm", False)
        f = _ref_step(f, f0, abar, w, om, beta, tau, nl, norm)
    if cfg.get("output_relu", False):
        f = torch.relu(f)
    return f @ model.decoder.weight.detach().t() + model.decoder.bias.detach()


_ADJ: dict[tuple[int, bool], Tensor] = {}


def _sparse_abar(graph: int, self_loops: bool) -> Tensor:
    """normalized_adjacency of GRAPHS[graph] in float64, memoised across tests."""
    key = (graph, self_loops)
    if key not in _ADJ:
        _, n, ei = GRAPHS[graph]
        _ADJ[key] = normalized_adjacency(ei, n, self_loops=self_loops, dtype=DT)
    return _ADJ[key]


def _randomise_(model: torch.nn.Module, seed: int) -> None:
    """Redraw every parameter (incl. β) so that no term of the update is trivially zero."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=gen, dtype=p.dtype))


# --------------------------------------------------------------------------------------------
# Dense reference comparisons
# --------------------------------------------------------------------------------------------
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
            _randomise_(conv, seed=gi)
            gen = torch.Generator().manual_seed(100 + gi)
            x = torch.randn(n, 5, dtype=DT, generator=gen)
            x0 = torch.randn(n, 5, dtype=DT, generator=gen)
            abar = _dense_abar(ei, n, self_loops)
            w = _ref_matrix(conv.ws[0], w_type)  # type: ignore[arg-type]
            om = _ref_matrix(conv.omega, omega_type)
            beta = float(conv.beta.item())
            # Graph 0 goes through edge_index (GRAFFConv builds Ā); the others reuse a
            # precomputed Ā (``adj=``) to keep the test fast.
            graph = {"edge_index": ei} if gi == 0 else {"adj": _sparse_abar(gi, self_loops)}
            for tau in (None, 0.3):
                step = 0.7 if tau is None else tau
                expected = _ref_step(x, x0, abar, w, om, beta, step, nonlinear, norm)
                got = conv(x, x0, step_size=tau, **graph)
                torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


def test_conv_time_dependent_step_picks_w_k() -> None:
    """GRAFFConv(num_w=3)(…, step=k) uses W_k (and the last W for k beyond the list)."""
    _, n, ei = GRAPHS[0]
    conv = GRAFFConv(4, "sum", "diag", step_size=0.5, num_w=3).double()
    _randomise_(conv, 3)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, dtype=DT, generator=gen)
    x0 = torch.randn(n, 4, dtype=DT, generator=gen)
    abar = _dense_abar(ei, n, True)
    om = _ref_matrix(conv.omega, "diag")
    beta = float(conv.beta.item())
    outs = []
    for k in range(3):
        w = _ref_matrix(conv.ws[k], "sum")  # type: ignore[arg-type]
        expected = _ref_step(x, x0, abar, w, om, beta, 0.5, False)
        got = conv(x, x0, ei, step=k)
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)
        outs.append(got)
    assert not torch.allclose(outs[0], outs[1])


MODEL_CONFIGS: list[tuple[str, dict, list[float]]] = [
    ("linear_T3_tau1", {"T": 3.0, "step_size": 1.0}, [1.0, 1.0, 1.0]),
    ("noninteger_T", {"T": 2.3, "step_size": 0.5}, [0.5] * 4 + [0.3]),
    ("nonlinear", {"T": 2.3, "step_size": 0.5, "nonlinear": True}, [0.5] * 4 + [0.3]),
    ("time_dependent", {"T": 2.3, "step_size": 0.5, "time_dependent": True}, [0.5] * 4 + [0.3]),
    ("encoder_layers", {"T": 1.5, "step_size": 0.5, "encoder_layers": 1}, [0.5] * 3),
    ("output_relu", {"T": 1.2, "step_size": 0.5, "output_relu": True}, [0.5, 0.5, 0.2]),
    ("step_norm", {"T": 2.3, "step_size": 0.5, "step_norm": True}, [0.5] * 4 + [0.3]),
    (
        "everything",
        {
            "T": 2.3,
            "step_size": 0.5,
            "nonlinear": True,
            "time_dependent": True,
            "encoder_layers": 1,
            "output_relu": True,
            "step_norm": True,
        },
        [0.5] * 4 + [0.3],
    ),
]


def _check_model(cfg: dict, steps: list[float], seed: int) -> None:
    p, d, k = 4, 5, 3
    for self_loops in (True, False):
        for gi, (_, n, ei) in enumerate(GRAPHS):
            full = {**cfg, "self_loops": self_loops}
            model = GRAFF(p, d, k, input_dropout=0.3, dropout=0.4, **full).double().eval()
            _randomise_(model, seed + gi)
            assert model.steps == pytest.approx(steps, abs=1e-12)
            x = torch.randn(n, p, dtype=DT, generator=torch.Generator().manual_seed(gi))
            expected = _ref_forward(model, x, ei, steps=steps, cfg=full)
            got = model(x, ei)
            torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("omega_type", ALL_OMEGA)
@pytest.mark.parametrize("w_type", ALL_W)
def test_model_matches_dense_reference_all_types(w_type: str, omega_type: str) -> None:
    """GRAFF.forward (eval) equals the dense reference for every W × Ω, non-integer T=2.3, τ=0.5."""
    cfg = {"w_type": w_type, "omega_type": omega_type, "T": 2.3, "step_size": 0.5}
    _check_model(cfg, [0.5] * 4 + [0.3], seed=10)


@pytest.mark.parametrize(("name", "cfg", "steps"), MODEL_CONFIGS, ids=[c[0] for c in MODEL_CONFIGS])
@pytest.mark.parametrize("w_type", ["dd", "sum"])
def test_model_matches_dense_reference_variants(
    name: str, cfg: dict, steps: list[float], w_type: str
) -> None:
    """GRAFF.forward equals the dense reference with NL, time-dependent W, MLP encoder, output
    ReLU, per-step standardisation, with and without self-loops, on graphs with isolated nodes."""
    _check_model({**cfg, "w_type": w_type, "omega_type": "sym"}, steps, seed=20)


def test_isolated_node_without_self_loops_only_feels_omega_and_source() -> None:
    """Without self-loops an isolated node has a zero row of Ā: its features evolve by
    f ← f + τ(−fΩ + βf(0)) only, independently of the rest of the graph."""
    _, n, ei = GRAPHS[2]  # node 3 is isolated
    conv = GRAFFConv(4, "sum", "sym", step_size=0.5, self_loops=False).double()
    _randomise_(conv, 0)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, dtype=DT, generator=gen)
    x0 = torch.randn(n, 4, dtype=DT, generator=gen)
    om = _ref_matrix(conv.omega, "sym")
    beta = float(conv.beta.item())
    got = conv(x, x0, ei)[3]
    expected = x[3] + 0.5 * (-x[3] @ om + beta * x0[3])
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------------
# Sparse input features
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("train", [False, True])
def test_sparse_csr_features_match_dense(train: bool) -> None:
    """CSR input features give the same logits and the same encoder/other gradients as dense X."""
    _, n, ei = GRAPHS[0]
    p = 12
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, p, dtype=DT, generator=gen)
    x = x * (torch.rand(n, p, generator=gen) < 0.25)
    assert 0 < int((x != 0).sum()) < n * p
    x_sparse = x.to_sparse_csr()
    torch.manual_seed(0)
    model = GRAFF(p, 5, 3, T=2.3, step_size=0.5, encoder_layers=1).double()
    _randomise_(model, 1)
    model.train(train)
    target = torch.randn(n, 3, dtype=DT, generator=gen)

    grads = []
    outs = []
    for inp in (x, x_sparse):
        model.zero_grad()
        out = model(inp, ei)
        ((out - target) ** 2).sum().backward()
        outs.append(out.detach())
        grads.append({k: v.grad.clone() for k, v in model.named_parameters()})  # type: ignore[union-attr]
    torch.testing.assert_close(outs[1], outs[0], rtol=0, atol=1e-10)
    assert grads[0]["encoder.weight"].abs().sum() > 0
    for key in grads[0]:
        torch.testing.assert_close(grads[1][key], grads[0][key], rtol=0, atol=1e-10, msg=key)


def test_sparse_features_second_matrix_same_shape() -> None:
    """A second CSR feature matrix of the same shape but other sparsity gives correct gradients
    (the cached transpose plan is not reused for a different matrix)."""
    _, n, ei = GRAPHS[0]
    p = 10
    model = GRAFF(p, 4, 2, T=1.0).double()
    _randomise_(model, 2)
    gen = torch.Generator().manual_seed(5)
    for density in (0.2, 0.5):
        x = torch.randn(n, p, dtype=DT, generator=gen)
        x = x * (torch.rand(n, p, generator=gen) < density)
        grads = []
        for inp in (x, x.to_sparse_csr()):
            model.zero_grad()
            model(inp, ei).pow(2).sum().backward()
            grads.append(model.encoder.weight.grad.clone())  # type: ignore[union-attr]
        torch.testing.assert_close(grads[1], grads[0], rtol=0, atol=1e-10)


# --------------------------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cfg",
    [
        {"w_type": "dd", "omega_type": "diag"},
        {"w_type": "sum", "omega_type": "sym", "nonlinear": True, "time_dependent": True},
        {"w_type": "prod", "omega_type": "const", "step_norm": True, "self_loops": False},
    ],
)
def test_gradcheck_model_wrt_features(cfg: dict) -> None:
    """torch.autograd.gradcheck of a tiny float64 GRAFF (n=6, d=3) w.r.t. the input features."""
    ei = to_undirected(torch.tensor([[0, 1, 2, 3, 0], [1, 2, 3, 4, 2]]), num_nodes=6)
    model = GRAFF(4, 3, 2, T=1.7, step_size=0.5, **cfg).double().eval()
    _randomise_(model, 0)
    x = torch.randn(6, 4, dtype=DT, generator=torch.Generator().manual_seed(0))
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda inp: model(inp, ei), (x,), eps=1e-6, atol=1e-6)


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


# --------------------------------------------------------------------------------------------
# Parameter counts (paper: pd + d² + 3d + dk for DD, pd + 3d + dk for diag)
# --------------------------------------------------------------------------------------------
def _counts(model: GRAFF) -> tuple[int, int]:
    weights = sum(
        p.numel()
        for name, p in model.named_parameters()
        if not name.endswith("bias") and not name.endswith("beta")
    )
    return weights, model.encoder.bias.numel()


@pytest.mark.parametrize(("p", "d", "k"), [(7, 5, 3), (20, 16, 4)])
def test_parameter_count_dd(p: int, d: int, k: int) -> None:
    """DD with diag Ω: weights (no biases, no β) = p·d + d² + 3d + d·k."""
    weights, _ = _counts(GRAFF(p, d, k, w_type="dd", omega_type="diag"))
    assert weights == p * d + d * d + 3 * d + d * k


@pytest.mark.parametrize(("p", "d", "k"), [(7, 5, 3), (20, 16, 4)])
def test_parameter_count_diag(p: int, d: int, k: int) -> None:
    """diag W with diag Ω: weights = p·d + 2d + d·k; adding the encoder bias gives the paper's
    pd + 3d + dk."""
    weights, enc_bias = _counts(GRAFF(p, d, k, w_type="diag", omega_type="diag"))
    assert weights == p * d + 2 * d + d * k
    assert weights + enc_bias == p * d + 3 * d + d * k


def test_parameter_count_beta_and_biases() -> None:
    """The remaining parameters are β (1, when learnt), the encoder bias (d), decoder bias (k)."""
    p, d, k = 6, 4, 3
    model = GRAFF(p, d, k)
    rest = {n: q.numel() for n, q in model.named_parameters()}
    assert sum(v for n, v in rest.items() if n.endswith("beta")) == 1
    assert sum(v for n, v in rest.items() if n.endswith("bias")) == d + k
    frozen = GRAFF(p, d, k, learn_beta=False)
    assert not any(n.endswith("beta") for n, _ in frozen.named_parameters())


# --------------------------------------------------------------------------------------------
# euler_steps
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("T", "tau", "expected"),
    [
        (3.0, 0.25, [0.25] * 12),
        (3.0, 1.0, [1.0] * 3),
        (0.3, 0.1, [0.1] * 3),
        (0.7, 0.1, [0.1] * 7),
        (2.3, 0.5, [0.5] * 4 + [0.3]),
        (2.5, 1.0, [1.0, 1.0, 0.5]),
        (0.5, 1.0, [0.5]),
        (3.194, 1.0, [1.0, 1.0, 1.0, 0.194]),
        (2.985, 0.5, [0.5] * 5 + [0.485]),
    ],
)
def test_euler_steps_values(T: float, tau: float, expected: list[float]) -> None:
    """euler_steps(T, τ) gives ⌊T/τ⌋ steps of τ, then the remainder if any; sums to T."""
    steps = euler_steps(T, tau)
    assert len(steps) == len(expected)
    assert steps == pytest.approx(expected, abs=1e-12)
    assert math.fsum(steps) == pytest.approx(T, abs=1e-12)
    assert all(s > 0 for s in steps)


@pytest.mark.parametrize(
    ("T", "tau", "word"),
    [
        (0.0, 1.0, "T"),
        (-1.0, 1.0, "T"),
        (math.nan, 1.0, "T"),
        (math.inf, 1.0, "T"),
        (1.0, 0.0, "step"),
        (1.0, -0.5, "step"),
        (1.0, math.nan, "step"),
        (1.0, math.inf, "step"),
    ],
)
def test_euler_steps_rejects_bad_arguments(T: float, tau: float, word: str) -> None:
    """euler_steps raises ValueError on T ≤ 0, τ ≤ 0, nan or inf, naming the culprit."""
    with pytest.raises(ValueError, match=word):
        euler_steps(T, tau)


# --------------------------------------------------------------------------------------------
# Normalised adjacency
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("self_loops", [True, False])
@pytest.mark.parametrize("graph", range(len(GRAPHS)))
def test_normalized_adjacency_matches_dense_formula(graph: int, self_loops: bool) -> None:
    """normalized_adjacency equals D^{-1/2}(A[+I])D^{-1/2}, is a symmetric CSR matrix."""
    _, n, ei = GRAPHS[graph]
    adj = normalized_adjacency(ei, n, self_loops=self_loops, dtype=DT)
    assert adj.layout == torch.sparse_csr
    dense = adj.to_dense()
    torch.testing.assert_close(dense, _dense_abar(ei, n, self_loops), rtol=0, atol=1e-14)
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
    one for another edge_index, and recomputes after reset_parameters."""
    _, n, ei = GRAPHS[0]
    _, _, ei_other = GRAPHS[3]
    conv = GRAFFConv(3).double()
    a1 = conv.adjacency(ei, n)
    assert conv.adjacency(ei, n) is a1
    a2 = conv.adjacency(ei_other, n)
    assert a2 is not a1
    torch.testing.assert_close(a2.to_dense(), _dense_abar(ei_other, n, True), rtol=0, atol=1e-14)
    a3 = conv.adjacency(ei, n)
    torch.testing.assert_close(a3.to_dense(), _dense_abar(ei, n, True), rtol=0, atol=1e-14)
    assert conv.adjacency(ei, n) is a3
    conv.reset_parameters()
    a4 = conv.adjacency(ei, n)
    assert a4 is not a3
    torch.testing.assert_close(a4.to_dense(), a3.to_dense(), rtol=0, atol=0)


def test_uncached_conv_recomputes() -> None:
    """With cached=False a new Ā is built at each call."""
    _, n, ei = GRAPHS[0]
    conv = GRAFFConv(3, cached=False)
    assert conv.adjacency(ei, n) is not conv.adjacency(ei, n)


def test_model_with_two_graphs_uses_the_right_adjacency() -> None:
    """Calling the same GRAFF on two graphs in turn gives each graph's own reference output."""
    model = GRAFF(3, 4, 2, T=1.5, step_size=0.5, omega_type="sym").double().eval()
    _randomise_(model, 0)
    cfg = {"omega_type": "sym"}
    for _, n, ei in GRAPHS + GRAPHS[:2]:
        x = torch.randn(n, 3, dtype=DT, generator=torch.Generator().manual_seed(n))
        expected = _ref_forward(model, x, ei, steps=[0.5] * 3, cfg=cfg)
        torch.testing.assert_close(model(x, ei), expected, rtol=0, atol=1e-10)


def test_dtype_change_after_forward_invalidates_cached_adjacency() -> None:
    """Running a model in float32, then converting it with .double(), must not reuse the
    float32 cached Ā: the float64 forward works and equals the dense reference."""
    _, n, ei = GRAPHS[0]
    model = GRAFF(3, 4, 2, T=1.0).eval()
    x = torch.randn(n, 3, generator=torch.Generator().manual_seed(0))
    model(x, ei)
    model.double()
    got = model(x.double(), ei)
    expected = _ref_forward(model, x.double(), ei, steps=[1.0], cfg={})
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


# --------------------------------------------------------------------------------------------
# Read-outs, β, callback, constructor errors, docs
# --------------------------------------------------------------------------------------------
def test_readouts_shapes_and_values() -> None:
    """model.W is [steps, d, d] when time-dependent ([d, d] otherwise) and equals each W_k;
    model.Omega is [d, d]; model.beta is a scalar; all are detached."""
    d = 4
    model = GRAFF(3, d, 2, T=2.3, step_size=0.5, time_dependent=True, w_type="dd").double()
    _randomise_(model, 0)
    assert len(model.steps) == 5
    ws = model.W
    assert ws.shape == (5, d, d)
    for k in range(5):
        torch.testing.assert_close(ws[k], _ref_matrix(model.conv.ws[k], "dd"))  # type: ignore[arg-type]
    assert not torch.allclose(ws[0], ws[1])
    assert not ws.requires_grad
    om = model.Omega
    assert om.shape == (d, d) and not om.requires_grad
    torch.testing.assert_close(om, _ref_matrix(model.conv.omega, "diag"))
    assert model.beta.shape == ()
    assert float(model.beta) == pytest.approx(float(model.conv.beta.detach().item()))
    shared = GRAFF(3, d, 2, T=2.3, step_size=0.5)
    assert shared.W.shape == (d, d)


def test_beta_initialised_at_zero_and_learnable() -> None:
    """β starts at 0, is a parameter, and receives a non-zero gradient."""
    _, n, ei = GRAPHS[0]
    model = GRAFF(3, 4, 2, T=2.0, step_size=0.5).double()
    assert float(model.beta) == 0.0
    names = dict(model.named_parameters())
    assert any(k.endswith("beta") for k in names)
    x = torch.randn(n, 3, dtype=DT, generator=torch.Generator().manual_seed(0))
    model(x, ei).pow(2).sum().backward()
    grad = model.conv.beta.grad
    assert grad is not None and grad.abs().item() > 0


def test_beta_fixed_is_a_buffer() -> None:
    """learn_beta=False makes β a buffer (not a parameter) that keeps its value."""
    model = GRAFF(3, 4, 2, learn_beta=False, beta=0.25)
    assert not any(k.endswith("beta") for k, _ in model.named_parameters())
    assert any(k.endswith("beta") for k, _ in model.named_buffers())
    assert float(model.beta) == pytest.approx(0.25)
    model.reset_parameters()
    assert float(model.beta) == pytest.approx(0.25)


def test_reset_parameters_restores_beta_init() -> None:
    """reset_parameters puts a learnt β back to its initial value."""
    model = GRAFF(3, 4, 2, beta=0.1)
    with torch.no_grad():
        model.conv.beta.fill_(3.0)
    model.reset_parameters()
    assert float(model.beta) == pytest.approx(0.1)


def test_callback_sees_every_step() -> None:
    """callback(k, t, F) is called for k = 0..steps with t accumulating the step sizes to T;
    F at k=0 is F(0) and F at the last call decodes to the forward output."""
    _, n, ei = GRAPHS[0]
    model = GRAFF(3, 4, 2, T=2.3, step_size=0.5).double().eval()
    _randomise_(model, 0)
    x = torch.randn(n, 3, dtype=DT, generator=torch.Generator().manual_seed(0))
    calls: list[tuple[int, float, Tensor]] = []
    out = model(x, ei, callback=lambda k, t, f: calls.append((k, t, f.detach().clone())))
    assert [c[0] for c in calls] == list(range(6))
    expected_t = [0.0, 0.5, 1.0, 1.5, 2.0, 2.3]
    assert [c[1] for c in calls] == pytest.approx(expected_t, abs=1e-12)
    torch.testing.assert_close(calls[0][2], model.encode(x))
    torch.testing.assert_close(model.decode(calls[-1][2]), out)
    # The intermediate states follow the dense Euler recursion.
    abar = _dense_abar(ei, n, True)
    w = _ref_matrix(model.conv.ws[0], "dd")  # type: ignore[arg-type]
    om = _ref_matrix(model.conv.omega, "diag")
    beta = float(model.beta)
    for (_, t0, f_prev), (_, t1, f_next) in itertools.pairwise(calls):
        ref = _ref_step(f_prev, calls[0][2], abar, w, om, beta, t1 - t0, False)
        torch.testing.assert_close(f_next, ref, rtol=0, atol=1e-10)


def test_evolve_callback() -> None:
    """evolve(f0, edge_index, callback=...) calls back with k = 0..steps and t up to T."""
    _, n, ei = GRAPHS[1]
    model = GRAFF(3, 4, 2, T=3.0, step_size=0.25).double()
    f0 = torch.randn(n, 4, dtype=DT)
    seen: list[tuple[int, float]] = []
    model.evolve(f0, ei, callback=lambda k, t, f: seen.append((k, t)))
    assert [k for k, _ in seen] == list(range(13))
    assert seen[-1][1] == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"hidden_channels": 0}, "hidden_channels"),
        ({"hidden_channels": -2}, "hidden_channels"),
        ({"in_channels": 0}, "in_channels"),
        ({"out_channels": 0}, "out_channels"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"input_dropout": 1.0}, "input_dropout"),
        ({"input_dropout": -0.5}, "input_dropout"),
        ({"step_size": 0.0}, "step"),
        ({"step_size": -1.0}, "step"),
        ({"T": 0.0}, "T"),
        ({"encoder_layers": -1}, "encoder_layers"),
    ],
)
def test_model_constructor_errors(kwargs: dict, word: str) -> None:
    """Invalid GRAFF constructor arguments raise ValueError with a message naming the argument."""
    args = {"in_channels": 3, "hidden_channels": 4, "out_channels": 2}
    args.update(kwargs)
    in_c, hid, out_c = (
        args.pop("in_channels"),
        args.pop("hidden_channels"),
        args.pop("out_channels"),
    )
    with pytest.raises(ValueError, match=word):
        GRAFF(in_c, hid, out_c, **args)


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


def test_graff_class_has_docstring() -> None:
    """GRAFF documents itself (paper link and the update rule) in its class docstring."""
    assert GRAFF.__doc__ is not None
    assert "2206.10991" in GRAFF.__doc__ or "gradient flow" in GRAFF.__doc__


# --------------------------------------------------------------------------------------------
# Dropout behaviour
# --------------------------------------------------------------------------------------------
def test_eval_mode_is_deterministic_and_train_mode_uses_dropout() -> None:
    """In eval mode dropout is off (two calls agree); in train mode with dropout they differ."""
    _, n, ei = GRAPHS[0]
    model = GRAFF(3, 4, 2, input_dropout=0.5, dropout=0.5).double()
    x = torch.randn(n, 3, dtype=DT)
    model.eval()
    torch.testing.assert_close(model(x, ei), model(x, ei), rtol=0, atol=0)
    model.train()
    torch.manual_seed(0)
    a = model(x, ei)
    b = model(x, ei)
    assert not torch.allclose(a, b)


# --------------------------------------------------------------------------------------------
# MLP baseline
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# Fast path: in-place accumulation and node reordering
# --------------------------------------------------------------------------------------------
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


@pytest.mark.parametrize("train", [False, True])
def test_reordered_evolution_matches_the_plain_one(train: bool) -> None:
    """reorder=True gives the same logits, gradients and callback states (in the caller's node
    order) as reorder=False, up to summation order."""
    n = 60
    ei = _random_graph(n, 150, seed=7)
    x = torch.randn(n, 5, dtype=DT, generator=torch.Generator().manual_seed(1))
    runs = []
    for reorder in (False, True):
        torch.manual_seed(0)
        model = GRAFF(5, 6, 3, T=2.5, step_size=0.5, reorder=reorder, dropout=0.3).double()
        model.train(train)
        _, order = model.conv.propagation(ei, n)
        assert (order is not None) is reorder
        states: list[Tensor] = []
        torch.manual_seed(1)
        out = model(x, ei, callback=lambda k, t, f, s=states: s.append(f.detach().clone()))
        out.square().sum().backward()
        runs.append((out.detach(), model.conv.ws[0].matrix().detach(), states, model))
    (out_a, _, states_a, model_a), (out_b, _, states_b, model_b) = runs
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=1e-10)
    for fa, fb in zip(states_a, states_b, strict=True):
        torch.testing.assert_close(fa, fb, rtol=0, atol=1e-10)
    for (name, pa), pb in zip(model_a.named_parameters(), model_b.parameters(), strict=True):
        assert pa.grad is not None and pb.grad is not None, name
        torch.testing.assert_close(pa.grad, pb.grad, rtol=0, atol=1e-9, msg=name)


def test_reorder_default_depends_on_graph_size() -> None:
    from graff.nn.graff_conv import REORDER_MIN_NODES

    conv = GRAFFConv(4)
    small = _random_graph(50, 80, seed=0)
    assert conv.propagation(small, 50)[1] is None
    n = REORDER_MIN_NODES
    ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
    big = to_undirected(ring, num_nodes=n)
    adj, order = conv.propagation(big, n)
    assert order is not None and adj.shape == (n, n)
    assert conv.propagation(big, n)[0] is adj  # cached
    assert GRAFFConv(4, reorder=False).propagation(big, n)[1] is None


def test_checkpointed_evolution_matches_and_saves_less() -> None:
    """checkpoint=True gives the same logits and gradients, and keeps fewer tensors for the
    backward pass (O(√steps) instead of O(steps) feature matrices)."""
    n = 40
    ei = _random_graph(n, 90, seed=11)
    x = torch.randn(n, 5, dtype=DT, generator=torch.Generator().manual_seed(2))
    results = []
    for ckpt in (False, True):
        torch.manual_seed(0)
        model = GRAFF(5, 6, 3, T=16.0, step_size=1.0, checkpoint=ckpt).double()
        saved: list[int] = []

        def pack(t: Tensor, saved: list[int] = saved) -> Tensor:
            saved.append(t.numel())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(x, ei)
        out.square().sum().backward()
        grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        big = sum(1 for s in saved if s == n * 6)  # saved n×d feature matrices
        results.append((out.detach(), grads, big))
    (out_a, g_a, big_a), (out_b, g_b, big_b) = results
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=1e-12)
    assert len(g_a) == len(g_b)
    for a, b in zip(g_a, g_b, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    assert big_a >= 16  # at least one n×d tensor per Euler step without checkpointing
    assert big_b <= big_a // 2

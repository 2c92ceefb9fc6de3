"""Tests of the GRAFF model (graff.nn.graff) against the dense float64 reference of
graff_reference.py (Di Giovanni et al. 2022, eq. 6)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import Tensor
from torch_geometric.utils import to_undirected

from graff.nn import GRAFF, GRAFFConv, euler_steps
from tests.graff_reference import (
    ALL_OMEGA,
    ALL_W,
    DT,
    GRAPHS,
    dense_a,
    dense_abar,
    random_graph,
    randomise_,
    ref_forward,
    ref_matrix,
    ref_step,
)


def test_test_graphs_are_as_intended() -> None:
    """The test graphs are undirected and loop-free; the 'isolated' ones have an isolated node."""
    for name, n, ei in GRAPHS:
        a = dense_a(ei, n)
        assert torch.equal(a, a.t())
        assert not a.diagonal().any()
        if name.startswith("isolated"):
            assert (a.sum(1) == 0).any()


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
            randomise_(model, seed + gi)
            assert model.steps == pytest.approx(steps, abs=1e-12)
            x = torch.randn(n, p, dtype=DT, generator=torch.Generator().manual_seed(gi))
            expected = ref_forward(model, x, ei, steps=steps, cfg=full)
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
    randomise_(conv, 0)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, dtype=DT, generator=gen)
    x0 = torch.randn(n, 4, dtype=DT, generator=gen)
    om = ref_matrix(conv.omega, "sym")
    beta = float(conv.beta.item())
    got = conv(x, x0, ei)[3]
    expected = x[3] + 0.5 * (-x[3] @ om + beta * x0[3])
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)


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
    randomise_(model, 1)
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
    randomise_(model, 2)
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
    randomise_(model, 0)
    x = torch.randn(6, 4, dtype=DT, generator=torch.Generator().manual_seed(0))
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda inp: model(inp, ei), (x,), eps=1e-6, atol=1e-6)


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


@pytest.mark.parametrize(
    ("args", "kwargs", "says"),
    [
        ((4, "8", 3), {}, "hidden_channels must be a positive integer, got '8' (str)"),
        ((4, 8.0, 3), {}, "hidden_channels must be a positive integer, got 8.0 (float)"),
        ((True, 8, 3), {}, "in_channels must be a positive integer, got True (bool)"),
        ((4, 8, 3), {"T": "3"}, "integration time T must be a number, got '3' (str)"),
        ((4, 8, 3), {"dropout": None}, "dropout must be a number, got None (NoneType)"),
        # a switch given a string counted as true ("no" meant nonlinear); 2 is no answer
        ((4, 8, 3), {"nonlinear": "no"}, "nonlinear must be True or False, got 'no' (str)"),
        ((4, 8, 3), {"time_dependent": 2}, "time_dependent must be True or False, got 2 (int)"),
        ((4, 8, 3), {"self_loops": "yes"}, "self_loops must be True or False, got 'yes' (str)"),
        ((4, 8, 3), {"beta": "a"}, "beta must be a number, got 'a' (str)"),
        ((4, 8, 3), {"w_type": None}, "the W type must be a name, one of sum, prod"),
    ],
)
def test_arguments_of_the_wrong_type_are_named(
    args: tuple[object, ...], kwargs: dict[str, object], says: str
) -> None:
    """A size, time or probability of the wrong type is a TypeError naming the argument, the
    value and its type (a string compared with an int said only "'<=' not supported")."""
    with pytest.raises(TypeError) as err:
        GRAFF(*args, **kwargs)  # type: ignore[arg-type]
    assert says in str(err.value)


def test_a_nan_beta_or_a_typo_sized_horizon_is_refused() -> None:
    """beta = NaN gave NaN outputs silently; T = 1e9 built a list of 10⁹ steps (a hang)."""
    with pytest.raises(ValueError, match="beta must be a finite number, got nan"):
        GRAFF(4, 8, 3, beta=float("nan"))
    with pytest.raises(ValueError, match=r"1000000000 Euler steps, more than 1000000"):
        GRAFF(4, 8, 3, T=1e9)
    np = pytest.importorskip("numpy")
    assert GRAFF(4, 8, 3, nonlinear=np.bool_(True)).conv.nonlinear  # a NumPy bool is a bool


def test_integer_like_sizes_are_accepted() -> None:
    """NumPy and 0-d tensor integers are sizes (a hyperparameter read from an array)."""
    np = pytest.importorskip("numpy")
    model = GRAFF(np.int64(4), torch.tensor(8), 3, T=np.float32(2.0))
    assert model(torch.randn(5, 4), torch.tensor([[0, 1], [1, 2]])).shape == (5, 3)


@pytest.mark.parametrize(
    ("x", "says"),
    [
        ("array", "got numpy.ndarray; convert it, e.g. torch.as_tensor(x, dtype=torch.float32)"),
        ("data", "call model(data.x, data.edge_index)"),
    ],
)
def test_features_that_are_not_a_tensor_are_named(x: str, says: str) -> None:
    """x as a NumPy array, or a PyG Data passed as x: a TypeError that says what to pass."""
    from torch_geometric.data import Data

    ei = torch.tensor([[0, 1], [1, 2]])
    feats = torch.randn(3, 4)
    given = feats.numpy() if x == "array" else Data(x=feats, edge_index=ei)
    with pytest.raises(TypeError, match=r"node features x must be a torch\.Tensor") as err:
        GRAFF(4, 8, 3)(given, ei)
    assert says in str(err.value)


def test_model_with_two_graphs_uses_the_right_adjacency() -> None:
    """Calling the same GRAFF on two graphs in turn gives each graph's own reference output."""
    model = GRAFF(3, 4, 2, T=1.5, step_size=0.5, omega_type="sym").double().eval()
    randomise_(model, 0)
    cfg = {"omega_type": "sym"}
    for _, n, ei in GRAPHS + GRAPHS[:2]:
        x = torch.randn(n, 3, dtype=DT, generator=torch.Generator().manual_seed(n))
        expected = ref_forward(model, x, ei, steps=[0.5] * 3, cfg=cfg)
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
    expected = ref_forward(model, x.double(), ei, steps=[1.0], cfg={})
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


def test_readouts_shapes_and_values() -> None:
    """model.W is [steps, d, d] when time-dependent ([d, d] otherwise) and equals each W_k;
    model.Omega is [d, d]; model.beta is a scalar; all are detached."""
    d = 4
    model = GRAFF(3, d, 2, T=2.3, step_size=0.5, time_dependent=True, w_type="dd").double()
    randomise_(model, 0)
    assert len(model.steps) == 5
    ws = model.W
    assert ws.shape == (5, d, d)
    for k in range(5):
        torch.testing.assert_close(ws[k], ref_matrix(model.conv.ws[k], "dd"))  # type: ignore[arg-type]
    assert not torch.allclose(ws[0], ws[1])
    assert not ws.requires_grad
    om = model.Omega
    assert om.shape == (d, d) and not om.requires_grad
    torch.testing.assert_close(om, ref_matrix(model.conv.omega, "diag"))
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
    randomise_(model, 0)
    x = torch.randn(n, 3, dtype=DT, generator=torch.Generator().manual_seed(0))
    calls: list[tuple[int, float, Tensor]] = []
    out = model(x, ei, callback=lambda k, t, f: calls.append((k, t, f.detach().clone())))
    assert [c[0] for c in calls] == list(range(6))
    expected_t = [0.0, 0.5, 1.0, 1.5, 2.0, 2.3]
    assert [c[1] for c in calls] == pytest.approx(expected_t, abs=1e-12)
    torch.testing.assert_close(calls[0][2], model.encode(x))
    torch.testing.assert_close(model.decode(calls[-1][2]), out)
    # The intermediate states follow the dense Euler recursion.
    abar = dense_abar(ei, n, True)
    w = ref_matrix(model.conv.ws[0], "dd")  # type: ignore[arg-type]
    om = ref_matrix(model.conv.omega, "diag")
    beta = float(model.beta)
    for (_, t0, f_prev), (_, t1, f_next) in itertools.pairwise(calls):
        ref = ref_step(f_prev, calls[0][2], abar, w, om, beta, t1 - t0, False)
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


def test_graff_class_has_docstring() -> None:
    """GRAFF documents itself (paper link and the update rule) in its class docstring."""
    assert GRAFF.__doc__ is not None
    assert "2206.10991" in GRAFF.__doc__ or "gradient flow" in GRAFF.__doc__


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


@pytest.mark.parametrize("train", [False, True])
def test_reordered_evolution_matches_the_plain_one(train: bool) -> None:
    """reorder=True gives the same logits, gradients and callback states (in the caller's node
    order) as reorder=False, up to summation order."""
    n = 60
    ei = random_graph(n, 150, seed=7)
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
    small = random_graph(50, 80, seed=0)
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
    ei = random_graph(n, 90, seed=11)
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


def test_a_callback_that_is_not_callable_and_nan_edge_weights_are_named() -> None:
    """callback=3 failed with "'int' object is not callable" after the encoder ran; NaN edge
    weights gave NaN outputs (checked once per graph, where Ā is built)."""
    model = GRAFF(4, 8, 3)
    x, ei = torch.randn(5, 4), torch.tensor([[0, 1, 2], [1, 2, 3]])
    with pytest.raises(TypeError, match=r"callback must be callable as callback\(step, t, F\)"):
        model(x, ei, callback=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="edge_weight has 1 NaN or infinite entries"):
        model(x, ei, torch.tensor([1.0, float("nan"), 1.0]))
    assert torch.isfinite(model(x, ei, torch.tensor([1.0, 2.0, 1.0]))).all()


def test_a_node_count_or_dtype_of_the_wrong_kind_is_named_by_the_adjacency_builders() -> None:
    """normalized_adjacency(ei, "3") failed inside a comparison ("'>=' not supported"), a
    negative count was reported as a graph of -1 nodes, and an integer dtype ended in
    PyTorch's cast error; an empty graph of 0 nodes still runs."""
    from graff.nn import normalized_adjacency

    ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    with pytest.raises(TypeError, match=r"num_nodes must be an integer, got '3' \(str\)"):
        normalized_adjacency(ei, "3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_nodes must be ≥ 0, got -1"):
        normalized_adjacency(ei, -1)
    with pytest.raises(TypeError, match="dtype must be a floating dtype"):
        normalized_adjacency(ei, 3, dtype=torch.long)
    assert normalized_adjacency(ei, torch.tensor(3)).shape == (3, 3)  # type: ignore[arg-type]
    empty = torch.empty(2, 0, dtype=torch.long)
    assert GRAFF(4, 8, 3)(torch.randn(0, 4), empty).shape == (0, 3)


def test_signed_edge_weights_are_refused_only_where_a_degree_turns_negative() -> None:
    """A negative weighted degree made D̃^{-1/2} NaN and every logit with it; signed weights
    that leave each degree ≥ 0 still give Ā (checked against the dense formula)."""
    from graff.nn import normalized_adjacency

    model = GRAFF(4, 8, 3)
    x, ei = torch.randn(4, 4), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    with pytest.raises(ValueError, match=r"leaves 1 node\(s\) a negative weighted degree \(node 2"):
        model(x, ei, torch.tensor([1.0, -3.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"node 2: -2, self-loop included"):
        normalized_adjacency(ei, 4, torch.tensor([1.0, -3.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"negative weighted degree"):  # adj_t carries them too
        signed = torch.tensor([1.0, -3.0, 1.0, 1.0])
        model(x, torch.sparse_coo_tensor(ei.flip(0), signed, (4, 4), check_invariants=True))
    w = torch.tensor([1.0, -0.5, 1.0, 1.0])
    assert torch.isfinite(model(x, ei, w)).all()
    a = torch.zeros(4, 4)
    a[ei[1], ei[0]] = w
    a += torch.eye(4)
    d = a.sum(1).rsqrt()
    expected = d[:, None] * a * d[None, :]
    torch.testing.assert_close(normalized_adjacency(ei, 4, w).to_dense(), expected)


@pytest.mark.parametrize(
    ("T", "tau"), [(2.5, 1.0), (3.0, 1.0), (0.3, 1.0), (4.8, 0.25), (1.0, 0.1)]
)
def test_euler_step_count_is_the_length_of_euler_steps(T: float, tau: float) -> None:
    from graff.nn import euler_step_count

    assert euler_step_count(T, tau) == len(euler_steps(T, tau))

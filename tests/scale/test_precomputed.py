"""Tests of graff.scale.precomputed: PrecomputedGRAFF equals full-batch GRAFF (float64, random
graphs, every W and Ω type), shares its parameters, and refuses the nonlinear variants."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest
import torch
from torch import Tensor

from graff.errors import ConfigError
from graff.nn import GRAFF, OMEGA_TYPES, W_TYPES, GRAFFNoResidual
from graff.nn.sparse import to_csr
from graff.scale import PrecomputedGRAFF, propagation_coefficients
from tests.graff_reference import DT, random_graph, randomise_

N, P, D, C = 17, 5, 4, 3


def _setup(seed: int, **kwargs: Any) -> tuple[GRAFF, PrecomputedGRAFF, Tensor, Tensor, Tensor]:
    """A randomised float64 GRAFF on a random graph, its twin, X, edge_index and S."""
    gen = torch.Generator().manual_seed(seed)
    ei = random_graph(N, 30, seed=seed, isolated=seed % N)
    x = torch.randn(N, P, dtype=DT, generator=gen)
    model = GRAFF(P, D, C, **kwargs).double().eval()
    randomise_(model, seed)
    twin = PrecomputedGRAFF.from_graff(model).eval()
    return model, twin, x, ei, twin.precompute(x, ei, block_rows=5)


def _assert_equal_outputs(
    model: GRAFF, twin: PrecomputedGRAFF, x: Tensor, ei: Tensor, s: Tensor
) -> None:
    with torch.no_grad():
        full = model(x, ei)
        torch.testing.assert_close(twin(s), full, rtol=0, atol=1e-10)
        rows = torch.randperm(N, generator=torch.Generator().manual_seed(7))[:6]
        torch.testing.assert_close(twin(s[rows]), full[rows], rtol=0, atol=1e-10)


@pytest.mark.parametrize("w_type", sorted(W_TYPES))
@pytest.mark.parametrize("omega_type", sorted(OMEGA_TYPES))
def test_equals_graff_for_every_w_and_omega(w_type: str, omega_type: str) -> None:
    seed = sorted(W_TYPES).index(w_type) + 5 * sorted(OMEGA_TYPES).index(omega_type)
    kw = {"w_type": w_type, "omega_type": omega_type, "T": 2.5, "step_size": 1.0}
    _assert_equal_outputs(*_setup(seed, **kw))


CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("T2.5_tau1", {"T": 2.5, "step_size": 1.0}),
    ("T1.3_tau0.5", {"T": 1.3, "step_size": 0.5}),
    ("time_dependent", {"T": 1.3, "step_size": 0.5, "time_dependent": True, "w_type": "sum"}),
    ("time_dependent_sym", {"T": 2.5, "time_dependent": True, "omega_type": "sym"}),
    ("no_source", {"T": 2.0, "learn_beta": False, "beta": 0.0, "w_type": "prod"}),
    ("fixed_beta", {"T": 1.5, "step_size": 0.5, "learn_beta": False, "beta": 0.7}),
    ("no_residual", {"T": 2.5, "residual": False, "omega_type": "sym"}),
    (
        "output_relu_no_loops",
        {"T": 1.0, "step_size": 0.25, "output_relu": True, "self_loops": False},
    ),
    ("one_short_step", {"T": 0.4, "step_size": 1.0, "dropout": 0.5, "input_dropout": 0.3}),
]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("name", "kw"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_equals_graff(name: str, kw: dict[str, Any], seed: int) -> None:
    _assert_equal_outputs(*_setup(seed, **kw))


def test_no_residual_ablation_class() -> None:
    model = GRAFFNoResidual(P, D, C, T=2.0).double().eval()
    randomise_(model, 3)
    ei = random_graph(N, 30, seed=3)
    x = torch.randn(N, P, dtype=DT)
    twin = PrecomputedGRAFF.from_graff(model).eval()
    _assert_equal_outputs(model, twin, x, ei, twin.precompute(x, ei))


@pytest.mark.parametrize("kw", [{"T": 1.3, "step_size": 0.5, "time_dependent": True}, {}])
def test_gradients_agree(kw: dict[str, Any]) -> None:
    model, twin, x, ei, s = _setup(4, **kw)
    model.train()
    twin.train()
    rows = torch.tensor([0, 3, 8, 11])
    target = torch.tensor([0, 2, 1, 1])
    for m, out in ((model, lambda: model(x, ei)[rows]), (twin, lambda: twin(s[rows]))):
        m.zero_grad()
        torch.nn.functional.cross_entropy(out(), target).backward()
    theirs = dict(twin.named_parameters())
    for name, p in model.named_parameters():
        assert p.grad is not None and theirs[name].grad is not None, name
        torch.testing.assert_close(theirs[name].grad, p.grad, rtol=0, atol=1e-10, msg=name)


def test_decoder_dropout_as_graff() -> None:
    """Training mode, dropout before the decoder only: the same random draws give the same
    output (GRAFF's dropout mask on F(T) is per node, so precomputing loses nothing)."""
    model, twin, x, ei, s = _setup(5, dropout=0.5)
    model.train()
    twin.train()
    torch.manual_seed(11)
    full = model(x, ei)
    torch.manual_seed(11)
    torch.testing.assert_close(twin(s), full, rtol=0, atol=1e-10)


def test_input_dropout_only_in_training() -> None:
    _, twin, _, _, s = _setup(6, input_dropout=0.5)
    twin.train()
    torch.manual_seed(0)
    assert not torch.allclose(twin(s), twin.eval()(s))


def test_state_dicts_load_both_ways() -> None:
    for kw in ({"omega_type": "zero", "learn_beta": False, "beta": 0.3}, {"time_dependent": True}):
        model = GRAFF(P, D, C, **kw).double()
        randomise_(model, 1)
        twin = PrecomputedGRAFF(P, D, C, **kw).double()
        assert set(twin.state_dict()) == set(model.state_dict())
        twin.load_state_dict(model.state_dict())
        back = GRAFF(P, D, C, **kw).double()
        back.load_state_dict(twin.state_dict())
        for key, value in model.state_dict().items():
            assert torch.equal(back.state_dict()[key], value), key


def _wrong_coefficients(
    steps: Sequence[float], ws: Sequence[Tensor], omega: Tensor, beta: Tensor
) -> list[Tensor]:
    """A plausible bug: Q_k updated in place in increasing k, so Q_k reads the new Q_{k−1}."""
    eye = torch.eye(omega.size(0), dtype=omega.dtype)
    qs = [eye]
    for s, tau in enumerate(steps):
        w = ws[min(s, len(ws) - 1)]
        qs.append(torch.zeros_like(eye))
        for k in range(len(qs)):
            inc = -tau * qs[k] @ omega + (tau * beta * eye if k == 0 else tau * qs[k - 1] @ w)
            qs[k] = qs[k] + inc
    return qs


def test_a_wrong_recursion_is_caught() -> None:
    model, twin, x, ei, s = _setup(8, T=2.5, omega_type="sym", w_type="sum")
    with torch.no_grad():
        ws = [w.matrix() for w in twin.conv.ws]
        omega, beta = twin.conv.omega.matrix(), twin.conv.beta
        wrong = _wrong_coefficients(twin.steps, ws, omega, beta)
        assert len(wrong) == len(twin.coefficients())
        twin.coefficients = lambda: wrong  # type: ignore[method-assign]
        assert (twin(s) - model(x, ei)).abs().max() > 1e-3
        del twin.coefficients
        torch.testing.assert_close(twin(s), model(x, ei), rtol=0, atol=1e-10)


def test_coefficients_closed_form() -> None:
    """Ω = 0, β = 0, shared W, n steps of τ: Q_k = C(n, k) τ^k W^k (binomial expansion)."""
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(3, 3, dtype=DT, generator=gen)
    w = w + w.t()
    zero = torch.zeros(3, 3, dtype=DT)
    qs = propagation_coefficients([0.5] * 4, [w], zero, torch.zeros(1, dtype=DT))
    for k, q in enumerate(qs):
        ref = math.comb(4, k) * 0.5**k * torch.linalg.matrix_power(w, k)
        torch.testing.assert_close(q, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("option", "kw"),
    [
        ("nonlinear", {"nonlinear": True}),
        ("encoder_layers", {"encoder_layers": 2}),
        ("step_norm", {"step_norm": True}),
    ],
)
def test_refuses_what_cannot_be_precomputed(option: str, kw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=f"with {option} set"):
        PrecomputedGRAFF(P, D, C, **kw)
    with pytest.raises(ConfigError, match=f"with {option} set"):
        PrecomputedGRAFF.from_graff(GRAFF(P, D, C, **kw))


def test_wrong_s_shape_says_how_to_build_it() -> None:
    twin = PrecomputedGRAFF(P, D, C, T=2.0).double()
    with pytest.raises(ValueError, match=r"\[b, 3, 6\].*model.precompute"):
        twin(torch.zeros(4, 4, 6, dtype=DT))
    # called as a graph model, it failed with "takes 2 positional arguments but 3 were given"
    x, ei = torch.randn(4, P, dtype=DT), torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(TypeError, match=r"not the features and graph.*model.precompute\(x, edge"):
        twin(x, ei)


def test_sparse_features_and_float32() -> None:
    """Sparse CSR X gives GRAFF's output on CSR X; in float32 the two agree to rounding."""
    gen = torch.Generator().manual_seed(9)
    ei = random_graph(N, 30, seed=9)
    x = torch.randn(N, P, generator=gen) * (torch.rand(N, P, generator=gen) < 0.4)
    model = GRAFF(P, D, C, T=2.5, w_type="sum", omega_type="sym").eval()
    randomise_(model, 9)
    twin = PrecomputedGRAFF.from_graff(model).eval()
    with torch.no_grad():
        full = model(to_csr(x), ei)
        s = twin.precompute(to_csr(x), ei)
        assert s.dtype == torch.float32
        torch.testing.assert_close(twin(s), full, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(full, model(x, ei), rtol=1e-5, atol=1e-5)

"""Tests of the continuous baselines (graff.nn.models.continuous): linear GRAND, CGNN, PDE-GCN_D.

Each vector field is compared with the paper's formula written densely here (float64); the
torchdiffeq integration with ``method="euler"`` is compared with a hand-written explicit Euler
of the same field, and an adaptive solver with the closed form expm((Ā − I)T) F(0) of the
heat equation (as torchdiffeq's own tests compare with ``scipy.linalg.expm``).
"""

from __future__ import annotations

import pytest
import torch
from scipy.linalg import expm
from torch import Tensor
from torch_geometric.utils import remove_self_loops, to_undirected

from graff.nn.models.continuous import (
    ADAPTIVE_METHODS,
    CGNN,
    FIXED_GRID_METHODS,
    PDEGCND,
    GRANDLinear,
)

DT = torch.float64
N, P, D, K = 10, 4, 5, 3


def _graph(n: int, m: int, seed: int) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    ei, _ = remove_self_loops(torch.randint(0, n, (2, m), generator=gen))
    return to_undirected(ei, num_nodes=n)


EI = _graph(N, 22, seed=0)
X = torch.randn(N, P, generator=torch.Generator().manual_seed(1), dtype=DT)


def _a_loops() -> Tensor:
    a = torch.eye(N, dtype=DT)
    a[EI[0], EI[1]] = 1.0
    return a


def _a_bar() -> Tensor:
    a = _a_loops()
    inv = a.sum(1).rsqrt()
    return inv[:, None] * a * inv[None, :]


def _euler(field: object, f0: Tensor, steps: list[float]) -> Tensor:
    f = f0
    for tau in steps:
        f = f + tau * field(f)  # type: ignore[operator]
    return f


def _grand_attention(model: GRANDLinear, f0: Tensor) -> Tensor:
    """Dense 𝒜(F(0)): per head softmax over each row of ⟨W_K f_i, W_Q f_j⟩/d_k on A+I, mean."""
    h, d = model.heads, model.attention_dim
    q = model.query(f0).view(N, h, d)
    k = model.key(f0).view(N, h, d)
    scores = torch.einsum("ihd,jhd->hij", k, q) / d
    scores = scores.masked_fill(_a_loops() == 0, float("-inf"))
    return torch.softmax(scores, dim=-1).mean(0)


def _fields(model: torch.nn.Module, f0: Tensor) -> object:
    """The paper's right-hand side F ↦ Ḟ, densely."""
    a = _a_bar()
    lap = torch.eye(N, dtype=DT) - a
    if isinstance(model, GRANDLinear):
        att = _grand_attention(model, f0) if model.attention else a
        return lambda f: (att - torch.eye(N, dtype=DT)) @ f
    if isinstance(model, CGNN):
        om = model.omega()
        return lambda f: -lap @ f + f @ om + f0
    assert isinstance(model, PDEGCND)
    kk = model.k.t() @ model.k
    return lambda f: -lap @ f @ kk


def _model(kind: str, **kw: object) -> torch.nn.Module:
    torch.manual_seed(0)
    cls = {"grand": GRANDLinear, "grand_fixed": GRANDLinear, "cgnn": CGNN, "pde": PDEGCND}[kind]
    if kind == "grand":
        kw.setdefault("heads", 2)
        kw.setdefault("attention_dim", 3)
    if kind == "grand_fixed":
        kw["attention"] = False
    model = cls(P, D, K, **kw).double()  # type: ignore[operator]
    with torch.no_grad():  # move CGNN/PDE-GCN off their identity initialisation
        for name, p in model.named_parameters():
            if name in ("u", "m", "k"):
                p.add_(0.3 * torch.randn_like(p))
    return model


KINDS = ["grand", "grand_fixed", "cgnn", "pde"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("T", "tau", "steps"), [(2.0, 0.5, [0.5] * 4), (1.3, 0.5, [0.5, 0.5, 0.3])]
)
def test_torchdiffeq_euler_equals_hand_written_euler(
    kind: str, T: float, tau: float, steps: list[float]
) -> None:
    """odeint(method='euler', step_size=τ) = explicit Euler of the paper's field, including
    a shorter last step when T/τ is not an integer."""
    model = _model(kind, T=T, step_size=tau)
    f0 = model.encoder(X)
    ours = model.integrate(model.vector_field(f0, EI, None), f0)
    torch.testing.assert_close(ours, _euler(_fields(model, f0), f0, steps))


@pytest.mark.parametrize("kind", KINDS)
def test_a_callback_sees_each_euler_state_and_leaves_the_output_alone(kind: str) -> None:
    """callback(k, t, F) of the continuous models (as GRAFF's): F after each step of τ, the
    short last step included, equal to the hand-written Euler states; the logits are the
    same with or without it (one solve); a non-callable is refused."""
    model = _model(kind, T=1.3, step_size=0.5).eval()
    seen: list[tuple[int, float, Tensor]] = []
    logits = model(X, EI, callback=lambda k, t, f: seen.append((k, t, f.clone())))
    torch.testing.assert_close(logits, model(X, EI), rtol=0, atol=0)
    assert [k for k, _, _ in seen] == [0, 1, 2, 3]
    assert [t for _, t, _ in seen] == pytest.approx([0.0, 0.5, 1.0, 1.3])
    f0 = model.encoder(X)
    field, steps = _fields(model, f0), [0.5, 0.5, 0.3]
    for k, _, f in seen:
        torch.testing.assert_close(f, _euler(field, f0, steps[:k]))
    with pytest.raises(TypeError, match=r"callback must be callable as callback\(step, t, F\)"):
        model(X, EI, callback="energy")


def test_an_adaptive_solver_reports_the_exact_states_on_the_way() -> None:
    """dopri5's states at t = kτ (dense output of the same solve) are expm((Ā − I)t) F(0)."""
    model = _model("grand_fixed", T=2.5, step_size=1.0, method="dopri5", rtol=1e-9, atol=1e-11)
    seen: list[tuple[float, Tensor]] = []
    model(X, EI, callback=lambda k, t, f: seen.append((t, f.clone())))
    f0 = model.encoder(X)
    assert [t for t, _ in seen] == pytest.approx([0.0, 1.0, 2.0, 2.5])
    gen = (_a_bar() - torch.eye(N, dtype=DT)).numpy()
    for t, f in seen:
        exact = torch.from_numpy(expm(gen * t)) @ f0
        torch.testing.assert_close(f, exact, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", KINDS)
def test_vector_field_equals_paper_formula(kind: str) -> None:
    model = _model(kind)
    f0 = model.encoder(X)
    f = torch.randn(N, D, dtype=DT)
    field = model.vector_field(f0, EI, None)
    torch.testing.assert_close(field(torch.tensor(0.0), f), _fields(model, f0)(f))  # type: ignore[operator]


def test_dopri5_heat_equation_matches_matrix_exponential() -> None:
    """Linear GRAND with the fixed Ā solved by dopri5: F(T) = expm((Ā − I)T) F(0)."""
    model = _model("grand_fixed", T=2.5, method="dopri5", rtol=1e-9, atol=1e-11)
    f0 = model.encoder(X)
    ours = model.integrate(model.vector_field(f0, EI, None), f0)
    prop = torch.from_numpy(expm(((_a_bar() - torch.eye(N, dtype=DT)) * 2.5).numpy()))
    torch.testing.assert_close(ours, prop @ f0, rtol=1e-7, atol=1e-8)


def test_euler_converges_to_exponential_at_first_order() -> None:
    """Halving τ halves the Euler error on the heat equation (first-order convergence)."""
    errors = []
    for tau in (0.2, 0.1, 0.05):
        model = _model("grand_fixed", T=1.0, step_size=tau)
        with torch.no_grad():
            f0 = model.encoder(X)
            exact = torch.from_numpy(expm((_a_bar() - torch.eye(N, dtype=DT)).numpy())) @ f0
            ours = model.integrate(model.vector_field(f0, EI, None), f0)
        errors.append(float((ours - exact).norm()))
    assert errors[0] / errors[1] == pytest.approx(2.0, rel=0.1)
    assert errors[1] / errors[2] == pytest.approx(2.0, rel=0.1)


def test_grand_attention_is_row_stochastic_and_differentiable() -> None:
    """𝒜(F(0)) rows sum to one on A+I, and the loss gradient reaches W_Q and W_K."""
    model = _model("grand")
    out = model(X, EI)
    out.pow(2).sum().backward()
    assert model.query.weight.grad is not None and model.query.weight.grad.abs().sum() > 0
    assert model.key.weight.grad is not None and model.key.weight.grad.abs().sum() > 0
    att = _grand_attention(model, model.encoder(X).detach())
    torch.testing.assert_close(att.sum(1), torch.ones(N, dtype=DT))


def test_cgnn_starts_as_heat_equation_with_source() -> None:
    """At initialisation Ω̃ = U diag(min(m,1)) Uᵀ − I = 0, so Ḟ = −ΔF + F(0)."""
    torch.manual_seed(0)
    model = CGNN(P, D, K).double()
    torch.testing.assert_close(model.omega(), torch.zeros(D, D, dtype=DT))
    om = _model("cgnn").omega()  # type: ignore[operator]
    torch.testing.assert_close(om, om.t())


@pytest.mark.parametrize("method", [*FIXED_GRID_METHODS, *ADAPTIVE_METHODS])
def test_every_listed_solver_runs(method: str) -> None:
    model = _model("pde", method=method, T=0.5, step_size=0.25)
    out = model(X, EI)
    assert out.shape == (N, K) and torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"method": "rk45"}, "unknown ODE method"),
        ({"T": 0.0}, "integration time T"),
        ({"step_size": -1.0}, "step_size"),
        ({"rtol": 0.0}, "rtol"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_invalid_arguments(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CGNN(P, D, K, **kw)  # type: ignore[arg-type]

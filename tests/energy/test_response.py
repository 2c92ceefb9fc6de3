"""Tests of graff.energy.frequency_response: GRAFF's linear steps as graph filters.

References are written here from the formulas: closed-form products h_a(λ), explicit
products of M_j(λ) = I − τ_jΩ + τ_j(1−λ)W, and dense loops of Euler steps
F ← F + τ(−FΩ + ĀFW) on small random graphs (float64).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor

from graff.energy import FrequencyResponse, frequency_response, model_frequency_response
from graff.nn import GRAFF, euler_steps

DT = torch.float64


def _sym(d: int, gen: torch.Generator, scale: float = 1.0) -> Tensor:
    a = torch.randn(d, d, generator=gen, dtype=DT) * scale
    return (a + a.t()) / 2


def _random_graph(n: int, p: float, seed: int) -> Tensor:
    """Dense Ā = D^{-1/2} A D^{-1/2} (no self-loops) of a random graph with no isolated node."""
    gen = torch.Generator().manual_seed(seed)
    A = (torch.rand(n, n, generator=gen) < p).to(DT).triu(1)
    ring = torch.roll(torch.eye(n, dtype=DT), 1, dims=1).triu(1)  # path 0-1-…-(n−1)
    A = ((A + ring) > 0).to(DT)
    A = A + A.t()
    dinv = A.sum(1).rsqrt()
    return dinv[:, None] * A * dinv[None, :]


def _euler(F0: Tensor, A_bar: Tensor, W: Tensor, Omega: Tensor, steps: list[float]) -> Tensor:
    F = F0.clone()
    for tau in steps:
        F = F + tau * (-F @ Omega + A_bar @ F @ W)
    return F


def _explicit_product(W: np.ndarray, Om: np.ndarray, steps: list[float], lam: float) -> np.ndarray:
    P = np.eye(W.shape[0])
    for tau in steps:
        P = P @ (np.eye(W.shape[0]) - tau * Om + tau * (1.0 - lam) * W)
    return P


def test_diagonal_matches_closed_form_product() -> None:
    w = torch.tensor([0.7, -1.3, 0.2, 2.1], dtype=DT)  # deliberately unsorted
    om = torch.tensor([0.5, 0.1, -0.4, 1.0], dtype=DT)
    steps = euler_steps(2.3, 0.5)  # [0.5]*4 + [0.3]
    assert len(steps) == 5 and abs(steps[-1] - 0.3) < 1e-12
    res = frequency_response(torch.diag(w), torch.diag(om), steps, num_points=41)
    assert isinstance(res, FrequencyResponse) and res.commutes
    assert res.lambdas.dtype == DT and res.response.shape == (41, 4)
    torch.testing.assert_close(res.lambdas, torch.linspace(0, 2, 41, dtype=DT))
    torch.testing.assert_close(res.w_eigenvalues, w.sort().values)
    for a in range(4):
        i = int(res.eigenvectors[:, a].abs().argmax())  # which original channel
        assert abs(float(res.w_eigenvalues[a]) - float(w[i])) < 1e-12
        expected = []
        for lam in res.lambdas.tolist():
            h = 1.0
            for tau in steps:
                h *= 1.0 - tau * float(om[i]) + tau * (1.0 - lam) * float(w[i])
            expected.append(abs(h))
        np.testing.assert_allclose(res.response[:, a].numpy(), expected, rtol=1e-12, atol=1e-14)
        assert res.omega_eigenvalues is not None and res.filters is not None
        assert abs(float(res.omega_eigenvalues[a]) - float(om[i])) < 1e-12
    assert res.filters is not None
    torch.testing.assert_close(res.filters.abs(), res.response)


@pytest.mark.parametrize("seed", [0, 1])
def test_commuting_prediction_matches_euler_on_eigenvector_inputs(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    n, d = 9, 4
    A_bar = _random_graph(n, 0.35, seed)
    lam_graph, V = torch.linalg.eigh(torch.eye(n, dtype=DT) - A_bar)
    W = _sym(d, gen)
    Omega = 0.3 * torch.eye(d, dtype=DT)
    steps = euler_steps(2.5, 0.4)  # non-integer: last step 0.1
    res = frequency_response(W, Omega, steps, lambdas=lam_graph)
    assert res.commutes and res.filters is not None
    torch.testing.assert_close(res.lambdas, lam_graph)
    for k in range(n):
        for a in range(d):
            v, u = V[:, k], res.eigenvectors[:, a]
            F0 = torch.outer(v, u)
            FT = _euler(F0, A_bar, W, Omega, steps)
            torch.testing.assert_close(FT, res.filters[k, a] * F0, rtol=1e-10, atol=1e-12)
            gain = float(torch.linalg.matrix_norm(FT))  # ‖F0‖_F = 1
            assert abs(gain - float(res.response[k, a])) < 1e-10


def test_commuting_with_repeated_w_eigenvalues_uses_common_eigenbasis() -> None:
    # W = I on a 2-d block and Ω non-diagonal there: they commute, but eigh(W) alone would
    # not diagonalise Ω.
    W = torch.diag(torch.tensor([1.0, 1.0, -0.5], dtype=DT))
    Omega = torch.tensor([[0.6, 0.4, 0.0], [0.4, 0.6, 0.0], [0.0, 0.0, 0.2]], dtype=DT)
    steps = [0.5, 0.5, 0.25]
    res = frequency_response(W, Omega, steps, num_points=11)
    assert res.commutes and res.omega_eigenvalues is not None
    D = res.eigenvectors.t() @ Omega @ res.eigenvectors
    torch.testing.assert_close(D, torch.diag(res.omega_eigenvalues), rtol=0, atol=1e-12)
    for i, lam in enumerate(res.lambdas.tolist()):
        sv = np.linalg.svd(_explicit_product(W.numpy(), Omega.numpy(), steps, lam))[1]
        np.testing.assert_allclose(np.sort(res.response[i].numpy())[::-1], sv, atol=1e-12)


def test_non_commuting_equals_singular_values_of_explicit_product() -> None:
    gen = torch.Generator().manual_seed(3)
    d = 5
    W, Omega = _sym(d, gen), _sym(d, gen, 0.5)
    assert float((W @ Omega - Omega @ W).abs().max()) > 1e-2
    steps = [0.6, 0.3, 0.45]  # unequal: the product's order matters
    res = frequency_response(W, Omega, steps, num_points=17)
    assert not res.commutes and res.filters is None and res.omega_eigenvalues is None
    assert res.response.shape == (17, d) and len(res.kind) == d
    torch.testing.assert_close(res.w_eigenvalues, torch.linalg.eigvalsh(W))
    for i, lam in enumerate(res.lambdas.tolist()):
        P = _explicit_product(W.numpy(), Omega.numpy(), steps, lam)
        np.testing.assert_allclose(res.response[i].numpy(), np.linalg.svd(P)[1], rtol=1e-12)
        assert bool((res.response[i, :-1] >= res.response[i, 1:]).all())

    # End to end on a graph: P is the operator of the Euler steps on a frequency,
    # F0 = v_k xᵀ ↦ v_k (xᵀP), and P's top left singular vector x attains σ_1.
    A_bar = _random_graph(8, 0.4, 3)
    lam_graph, V = torch.linalg.eigh(torch.eye(8, dtype=DT) - A_bar)
    res_g = frequency_response(W, Omega, steps, lambdas=lam_graph)
    for k in range(8):
        P = _explicit_product(W.numpy(), Omega.numpy(), steps, float(lam_graph[k]))
        x = torch.from_numpy(np.linalg.svd(P)[0][:, 0])
        FT = _euler(torch.outer(V[:, k], x), A_bar, W, Omega, steps)
        torch.testing.assert_close(FT, torch.outer(V[:, k], x @ torch.from_numpy(P)))
        assert abs(float(torch.linalg.matrix_norm(FT)) - float(res_g.response[k, 0])) < 1e-10


def test_kinds_follow_sign_of_w_eigenvalues() -> None:
    W = torch.diag(torch.tensor([0.8, -0.6, 0.0], dtype=DT))
    Omega = 0.1 * torch.eye(3, dtype=DT)
    res = frequency_response(W, Omega, euler_steps(1.0, 0.1))
    kinds = dict(zip(res.w_eigenvalues.tolist(), res.kind, strict=True))
    assert kinds == {0.8: "low-pass", -0.6: "high-pass", 0.0: "flat"}

    # Random W with Ω = 0 and small τ: every non-zero eigenvalue's sign decides.
    gen = torch.Generator().manual_seed(7)
    Wr = _sym(6, gen)
    rr = frequency_response(Wr, torch.zeros(6, 6, dtype=DT), euler_steps(1.0, 0.05))
    expected = ["low-pass" if x > 0 else "high-pass" for x in rr.w_eigenvalues.tolist()]
    assert rr.kind == expected

    # General case: the top singular value's trend.
    Om = _sym(4, gen, 0.1)
    B = torch.randn(4, 4, generator=gen, dtype=DT)
    pd = B @ B.t() + torch.eye(4, dtype=DT)
    assert frequency_response(pd, Om, [0.1, 0.1]).kind[0] == "low-pass"
    neg = frequency_response(-pd, Om, [0.1, 0.1])
    assert not neg.commutes and neg.kind[0] == "high-pass"


def test_model_frequency_response_matches_and_predicts_evolve() -> None:
    torch.manual_seed(0)
    d = 3
    model = GRAFF(
        4, d, 2, w_type="diag", omega_type="diag", T=2.5, step_size=1.0,
        learn_beta=False, beta=0.0, self_loops=False,
    ).double()  # fmt: skip
    w_par, om_par = model.conv.ws[0].weight, model.conv.omega.weight
    assert isinstance(w_par, Tensor) and isinstance(om_par, Tensor)
    with torch.no_grad():
        w_par.copy_(torch.tensor([0.4, -0.3, 0.1]))
        om_par.copy_(torch.tensor([0.2, -0.1, 0.3]))
    assert model.steps == [1.0, 1.0, 0.5]
    res = model_frequency_response(model, num_points=21)
    ref = frequency_response(model.W, model.Omega, model.steps, num_points=21)
    assert res.commutes
    torch.testing.assert_close(res.response, ref.response, rtol=0, atol=0)
    torch.testing.assert_close(res.lambdas, ref.lambdas, rtol=0, atol=0)
    assert res.kind == ref.kind

    # The model's own evolve (β = 0, linear) on a frequency ⊗ channel input.
    n = 7
    A_bar = _random_graph(n, 0.4, 5)
    edge_index = A_bar.nonzero().t().contiguous()
    adj = model.conv.adjacency(edge_index, n).to_dense()
    torch.testing.assert_close(adj, A_bar)
    lam_graph, V = torch.linalg.eigh(torch.eye(n, dtype=DT) - A_bar)
    rg = model_frequency_response(model, lambdas=lam_graph)
    assert rg.filters is not None
    with torch.no_grad():
        for k in (0, n // 2, n - 1):
            for a in range(d):
                F0 = torch.outer(V[:, k], rg.eigenvectors[:, a])
                FT = model.evolve(F0, edge_index)
                torch.testing.assert_close(FT, rg.filters[k, a] * F0, rtol=1e-9, atol=1e-12)


def test_model_time_dependent_w_raises_and_input_checks() -> None:
    model = GRAFF(3, 2, 2, w_type="diag", T=2.0, time_dependent=True)
    with pytest.raises(ValueError, match="pass one step's W"):
        model_frequency_response(model)
    eye = torch.eye(2, dtype=DT)
    with pytest.raises(ValueError, match="symmetric"):
        frequency_response(torch.tensor([[0.0, 1.0], [0.0, 0.0]], dtype=DT), eye, [1.0])
    with pytest.raises(ValueError, match="step"):
        frequency_response(eye, eye, [])
    with pytest.raises(ValueError, match="step"):
        frequency_response(eye, eye, [1.0, -0.5])
    with pytest.raises(ValueError, match="same shape"):
        frequency_response(eye, torch.eye(3, dtype=DT), [1.0])

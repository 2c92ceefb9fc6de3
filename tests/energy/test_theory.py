"""Theory tests of graff.energy: the paper's energy identities and spectral statements.

Di Giovanni et al. (2022), "Graph Neural Networks as Gradient Flows". Everything is float64,
on small graphs: a deterministic subset of ``networkx.graph_atlas_g()`` (every 10th connected
graph with 3–7 nodes) plus a few seeded random graphs. References are naive dense numpy code
written here from the formulas; linear flows are integrated exactly with ``scipy.linalg.expm``
on the Kronecker form vec(ĀFW) = (W ⊗ Ā) vec(F) (W symmetric, column-major vec).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import networkx as nx
import numpy as np
import pytest
import scipy.linalg as sla
import torch
from torch import Tensor

from graff.energy import (
    adjusted_homophily,
    attraction_repulsion,
    class_insensitive_homophily,
    dirichlet_energy,
    dirichlet_energy_W,
    edge_homophily,
    is_bipartite,
    laplacian_spectrum,
    measured_regime,
    node_homophily,
    normalized_dirichlet_energy,
    normalized_laplacian,
    predicted_regime,
    prediction_homophily,
    spectral_radius,
    total_energy,
    w_spectrum,
)

DT = torch.float64


# --------------------------------------------------------------------------------------------
# Graphs and dense references
# --------------------------------------------------------------------------------------------
def _atlas() -> list[nx.Graph]:
    graphs = [g for g in nx.graph_atlas_g() if 3 <= g.number_of_nodes() <= 7 and nx.is_connected(g)]
    return graphs[::10]


def _random_graphs() -> list[nx.Graph]:
    out = []
    for seed, (n, p) in enumerate([(12, 0.3), (16, 0.25), (20, 0.2)]):
        g = nx.gnp_random_graph(n, p, seed=seed)
        g = g.subgraph(max(nx.connected_components(g), key=len)).copy()
        out.append(nx.convert_node_labels_to_integers(g))
    return out


ATLAS = _atlas()
GRAPHS = ATLAS + _random_graphs()
NON_BIPARTITE = [g for g in GRAPHS if not nx.is_bipartite(g)]


def _ei(g: nx.Graph) -> Tensor:
    edges = list(g.edges())
    if not edges:
        return torch.zeros(2, 0, dtype=torch.long)
    e = torch.tensor(edges, dtype=torch.long).t()
    return torch.cat([e, e.flip(0)], dim=1)


def _abar(g: nx.Graph, self_loops: bool = False) -> np.ndarray:
    """Dense Ā = D^{-1/2} A D^{-1/2} (or with A + I), written from the definition."""
    a = nx.to_numpy_array(g, nodelist=range(g.number_of_nodes()))
    if self_loops:
        a = a + np.eye(len(a))
    d = a.sum(1)
    inv = np.where(d > 0, 1 / np.sqrt(np.where(d > 0, d, 1)), 0.0)
    return inv[:, None] * a * inv[None, :]


def _lap(g: nx.Graph) -> np.ndarray:
    return np.eye(g.number_of_nodes()) - _abar(g)


def _naive_dirichlet(g: nx.Graph, f: np.ndarray, self_loops: bool = False) -> float:
    """¼ Σ over both directions of each edge of ‖f_i/√d_i − f_j/√d_j‖² (double loop)."""
    n = g.number_of_nodes()
    a = nx.to_numpy_array(g, nodelist=range(n)) + (np.eye(n) if self_loops else 0)
    d = a.sum(1)
    total = 0.0
    for i in range(n):
        for j in range(n):
            if a[i, j]:
                diff = f[i] / math.sqrt(d[i]) - f[j] / math.sqrt(d[j])
                total += float(diff @ diff)
    return total / 4


def _sym(d: int, rng: np.random.Generator) -> np.ndarray:
    m = rng.standard_normal((d, d))
    return (m + m.T) / 2


def _with_eigenvalues(eigs: list[float], rng: np.random.Generator) -> np.ndarray:
    """Symmetric W = Q diag(eigs) Qᵀ with a random orthogonal Q."""
    q, _ = np.linalg.qr(rng.standard_normal((len(eigs), len(eigs))))
    return q @ np.diag(eigs) @ q.T


def _t(x: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).to(DT)


def _ids(graphs: list[nx.Graph]) -> list[str]:
    return [f"n{g.number_of_nodes()}e{g.number_of_edges()}_{k}" for k, g in enumerate(graphs)]


def _linear_flow_energies(
    g: nx.Graph, K: np.ndarray, f0: np.ndarray, times: np.ndarray
) -> list[float]:
    """Normalised energies of vec F(t) = expm(tK) vec F(0) (K symmetric), overflow-free.

    expm(tK) is evaluated as expm(t(K − r I)) with r the top eigenvalue of K: a positive
    scalar factor, which leaves F/‖F‖ unchanged.
    """
    n, d = f0.shape
    r = float(np.linalg.eigvalsh(K)[-1])
    shifted = K - r * np.eye(len(K))
    ei = _ei(g)
    out = []
    for t in times:
        v = sla.expm(t * shifted) @ f0.flatten(order="F")
        f = _t(v.reshape(n, d, order="F"))
        out.append(float(normalized_dirichlet_energy(f, ei, n)))
    return out


def _kron_gap(K: np.ndarray) -> float:
    """Gap between the top two distinct eigenvalues of a symmetric K."""
    ev = np.unique(np.round(np.linalg.eigvalsh(K), 9))
    return float(ev[-1] - ev[-2])


# --------------------------------------------------------------------------------------------
# Energies against the naive references
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("self_loops", [False, True])
def test_dirichlet_energy_equals_edge_sum_and_trace(self_loops: bool) -> None:
    """E^Dir(F) = ¼ Σ_{(i,j)∈E} ‖f_i/√d_i − f_j/√d_j‖² = ½ tr(FᵀΔF) (§2), on every graph."""
    rng = np.random.default_rng(0)
    for g in GRAPHS:
        n = g.number_of_nodes()
        f = rng.standard_normal((n, 3))
        got = float(dirichlet_energy(_t(f), _ei(g), n, self_loops))
        assert got == pytest.approx(_naive_dirichlet(g, f, self_loops), rel=1e-12, abs=1e-12)
        lap = np.eye(n) - _abar(g, self_loops)
        assert got == pytest.approx(0.5 * np.trace(f.T @ lap @ f), rel=1e-12, abs=1e-12)
        if not self_loops:
            lap_t = normalized_laplacian(_ei(g), n, dense=True).numpy()
            np.testing.assert_allclose(lap_t, lap, atol=1e-14)


def test_generalised_dirichlet_energy_matches_edge_sum_and_gradient() -> None:
    """E^Dir_W(F) = ¼ Σ_{(i,j)} ‖W(∇F)_ij‖² and ∇_F E^Dir_W = ΔFWᵀW (§3, harmonic flow)."""
    rng = np.random.default_rng(1)
    for g in GRAPHS[::3]:
        n, d = g.number_of_nodes(), 3
        f, w = rng.standard_normal((n, d)), rng.standard_normal((d, d))
        a = nx.to_numpy_array(g, nodelist=range(n))
        deg = a.sum(1)
        ref = 0.0
        for i in range(n):
            for j in range(n):
                if a[i, j]:
                    grad_ij = f[j] / math.sqrt(deg[j]) - f[i] / math.sqrt(deg[i])
                    ref += float(np.sum((w @ grad_ij) ** 2)) / 4
        F = _t(f).requires_grad_(True)
        e = dirichlet_energy_W(F, _t(w), _ei(g), n)
        assert float(e.detach()) == pytest.approx(ref, rel=1e-12, abs=1e-12)
        (grad,) = torch.autograd.grad(e, F)
        np.testing.assert_allclose(grad.numpy(), _lap(g) @ f @ w.T @ w, atol=1e-12)


def test_total_energy_parts_match_double_loops() -> None:
    """E^ext = ½Σ_i⟨f_i, Ωf_i⟩, E^pair = −½Σ_ij ā_ij⟨f_i, Wf_j⟩, source −β⟨F, F(0)⟩ (§4)."""
    rng = np.random.default_rng(2)
    for g in GRAPHS[::3]:
        n, d = g.number_of_nodes(), 4
        f, f0 = rng.standard_normal((n, d)), rng.standard_normal((n, d))
        w, om, beta = _sym(d, rng), _sym(d, rng), 0.7
        abar = _abar(g)
        ext = sum(0.5 * f[i] @ om @ f[i] for i in range(n))
        pair = sum(-0.5 * abar[i, j] * (f[i] @ w @ f[j]) for i in range(n) for j in range(n))
        src = -beta * float(np.sum(f * f0))
        got = total_energy(_t(f), _t(w), _t(om), beta, _t(f0), edge_index=_ei(g), num_nodes=n)
        assert float(got.external) == pytest.approx(ext, rel=1e-12, abs=1e-12)
        assert float(got.pairwise) == pytest.approx(pair, rel=1e-12, abs=1e-12)
        assert float(got.source) == pytest.approx(src, rel=1e-12, abs=1e-12)
        assert float(got.total) == pytest.approx(ext + pair + src, rel=1e-12, abs=1e-12)


def test_attraction_repulsion_reconstructs_w_and_splits_the_energy() -> None:
    """W = Θ₊ᵀΘ₊ − Θ₋ᵀΘ₋ and E^tot = ½Σ⟨f_i,(Ω−W)f_i⟩ + ¼Σ‖Θ₊(∇F)_ij‖² − ¼Σ‖Θ₋(∇F)_ij‖² (§4)."""
    rng = np.random.default_rng(3)
    for g in GRAPHS[::7]:
        n, d = g.number_of_nodes(), 5
        w, om, f = _sym(d, rng), _sym(d, rng), rng.standard_normal((n, d))
        tp, tm = attraction_repulsion(_t(w))
        spec = w_spectrum(_t(w))
        assert tp.shape == (int((spec.eigenvalues > 0).sum()), d)
        assert tm.shape == (int((spec.eigenvalues < 0).sum()), d)
        np.testing.assert_allclose((tp.t() @ tp - tm.t() @ tm).numpy(), w, atol=1e-12)
        assert spec.lambda_plus == pytest.approx(max(np.linalg.eigvalsh(w)[-1], 0.0))
        assert spec.lambda_minus == pytest.approx(max(-np.linalg.eigvalsh(w)[0], 0.0))
        ei, F = _ei(g), _t(f)
        split = (
            0.5 * float((F * (F @ _t(om - w))).sum())
            + float(dirichlet_energy_W(F, tp, ei, n))
            - float(dirichlet_energy_W(F, tm, ei, n))
        )
        got = float(total_energy(F, _t(w), _t(om), edge_index=ei, num_nodes=n).total)
        assert got == pytest.approx(split, rel=1e-10, abs=1e-10)


# --------------------------------------------------------------------------------------------
# Spectrum of Δ
# --------------------------------------------------------------------------------------------
def test_laplacian_spectrum_range_and_bipartite_iff_rho_two() -> None:
    """0 = λ_0 ≤ … ≤ ρ_Δ ≤ 2, and (connected) ρ_Δ = 2 iff bipartite (§2)."""
    for g in GRAPHS:
        n, ei = g.number_of_nodes(), _ei(g)
        spec = laplacian_spectrum(ei, n).numpy()
        np.testing.assert_allclose(spec, np.linalg.eigvalsh(_lap(g)), atol=1e-12)
        assert abs(spec[0]) < 1e-12 and spec[-1] <= 2 + 1e-12
        rho = spectral_radius(ei, n)
        assert rho == pytest.approx(spec[-1], abs=1e-12)
        assert is_bipartite(ei, n) == nx.is_bipartite(g) == (abs(rho - 2) < 1e-9)


def test_normalised_energy_is_a_rayleigh_quotient_in_zero_rho_half() -> None:
    """E^Dir(F/‖F‖) ∈ [0, ρ_Δ/2], 0 on ker Δ and ρ_Δ/2 on the ρ_Δ-eigenspace (§2)."""
    rng = np.random.default_rng(4)
    for g in GRAPHS:
        n, ei = g.number_of_nodes(), _ei(g)
        lam, u = np.linalg.eigh(_lap(g))
        rho = lam[-1]
        for _ in range(3):
            e = float(normalized_dirichlet_energy(_t(rng.standard_normal((n, 2))), ei, n))
            assert -1e-14 <= e <= rho / 2 + 1e-14
        assert float(normalized_dirichlet_energy(_t(u[:, 0]), ei, n)) == pytest.approx(
            0.0, abs=1e-13
        )
        assert float(normalized_dirichlet_energy(_t(u[:, -1]), ei, n)) == pytest.approx(
            rho / 2, abs=1e-13
        )


# --------------------------------------------------------------------------------------------
# Heat equation and Ḟ = ĀF
# --------------------------------------------------------------------------------------------
def test_heat_equation_decreases_dirichlet_energy() -> None:
    """Ḟ = −ΔF is the gradient flow of E^Dir: explicit Euler (τ = 0.1 < 2/ρ_Δ) decreases it."""
    rng = np.random.default_rng(5)
    for g in GRAPHS:
        n, ei = g.number_of_nodes(), _ei(g)
        lap = normalized_laplacian(ei, n)
        f = _t(rng.standard_normal((n, 3)))
        energies = [float(dirichlet_energy(f, ei, n))]
        for _ in range(30):
            f = f - 0.1 * (lap @ f)
            energies.append(float(dirichlet_energy(f, ei, n)))
        assert all(b <= a + 1e-15 for a, b in itertools.pairwise(energies))
        assert energies[-1] < energies[0]


def test_adjacency_flow_energy_grows_while_normalised_energy_vanishes() -> None:
    """Ḟ = ĀF: E^Dir(F) → ∞ but E^Dir(F/‖F‖) → 0 (§2).

    E^Dir(F(t)) = ½ Σ_k λ_k e^{2t(1−λ_k)} c_k² grows iff some 0 < λ_k < 1, so graphs whose
    non-zero spectrum lies above 1 (complete graphs) are excluded: there E^Dir(F) → 0.
    """
    rng = np.random.default_rng(6)
    checked = 0
    for g in NON_BIPARTITE:
        n, ei = g.number_of_nodes(), _ei(g)
        lam = np.linalg.eigvalsh(_lap(g))
        lam1 = lam[1]
        if lam1 >= 0.9:
            continue
        f0 = rng.standard_normal((n, 2))
        abar = _abar(g)
        t_end = 25.0 / lam1
        raw = [
            float(dirichlet_energy(_t(sla.expm(t * abar) @ f0), ei, n))
            for t in (0.0, t_end / 2, t_end)
        ]
        assert raw[0] < raw[1] < raw[2]
        assert raw[2] > 1e3 * raw[0]
        normalised = _linear_flow_energies(g, np.kron(np.eye(2), abar), f0, [0.0, t_end])
        assert normalised[-1] < 1e-9 < normalised[0]
        checked += 1
    assert checked >= 10


# --------------------------------------------------------------------------------------------
# GRAFF as a gradient flow
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("self_loops", [False, True])
def test_graff_vector_field_is_minus_gradient_of_total_energy(self_loops: bool) -> None:
    """−∇_F E^tot = −FΩ + ĀFW + βF(0) for symmetric W, Ω (§4, GRAFF's update)."""
    rng = np.random.default_rng(7)
    for g in GRAPHS[::4]:
        n, d = g.number_of_nodes(), 3
        w, om = _sym(d, rng), _sym(d, rng)
        f, f0, beta = rng.standard_normal((n, d)), rng.standard_normal((n, d)), -0.4
        F = _t(f).requires_grad_(True)
        e = total_energy(
            F, _t(w), _t(om), beta, _t(f0), edge_index=_ei(g), num_nodes=n, self_loops=self_loops
        ).total
        (grad,) = torch.autograd.grad(e, F)
        field = -f @ om + _abar(g, self_loops) @ f @ w + beta * f0
        np.testing.assert_allclose(-grad.numpy(), field, atol=1e-12)


def test_total_energy_decreases_along_discrete_graff_flow() -> None:
    """F ← F + τ(−FΩ + ĀFW + βF(0)) is gradient descent on E^tot: it decreases for
    τ‖Hess‖ < 2 (here τ = ½ / (‖Ω‖₂ + ‖W‖₂), since ‖Ā‖₂ ≤ 1)."""
    rng = np.random.default_rng(8)
    for g in GRAPHS[::5]:
        n, d, beta = g.number_of_nodes(), 3, 0.3
        w, om = _sym(d, rng), _sym(d, rng)
        tau = 0.5 / (np.linalg.norm(w, 2) + np.linalg.norm(om, 2))
        abar = _abar(g)
        f0 = rng.standard_normal((n, d))
        f, ei = f0.copy(), _ei(g)
        energies = []
        for _ in range(40):
            energies.append(
                float(
                    total_energy(
                        _t(f), _t(w), _t(om), beta, _t(f0), edge_index=ei, num_nodes=n
                    ).total
                )
            )
            f = f + tau * (-f @ om + abar @ f @ w + beta * f0)
        assert all(b < a for a, b in itertools.pairwise(energies))


# --------------------------------------------------------------------------------------------
# LFD / HFD: continuous Ḟ = ĀFW
# --------------------------------------------------------------------------------------------
def _regime_cases(rho: float) -> list[tuple[str, list[float]]]:
    """W spectra on either side of |λ₋|(ρ_Δ − 1) = λ₊ (margin factor 2)."""
    return [
        ("HFD", [0.5 * (rho - 1), 0.1, -1.0]),
        ("HFD", [-0.3, -1.0, -0.6]),  # W < 0: λ₊ = 0
        ("LFD", [1.0, -0.5 / (rho - 1), 0.2]),
        ("LFD", [0.4, 1.0, 0.7]),  # W > 0: λ₋ = 0
    ]


@pytest.mark.parametrize("g", NON_BIPARTITE[::3], ids=_ids(NON_BIPARTITE[::3]))
def test_continuous_flow_regime_follows_w_spectrum(g: nx.Graph) -> None:
    """Ḟ = ĀFW is HFD (E^Dir(F/‖F‖) → ρ_Δ/2) if |λ₋|(ρ_Δ−1) > λ₊ and LFD (→ 0) if
    λ₊ > |λ₋|(ρ_Δ−1) (§4 proposition), integrated exactly via vec(F(t)) = e^{t W⊗Ā} vec F(0);
    predicted_regime agrees with measured_regime."""
    rng = np.random.default_rng(g.number_of_nodes() * 100 + g.number_of_edges())
    n, ei = g.number_of_nodes(), _ei(g)
    rho = spectral_radius(ei, n)
    for expected, eigs in _regime_cases(rho):
        w = _with_eigenvalues(eigs, rng)
        K = np.kron(w, _abar(g))
        t_end = 40.0 / _kron_gap(K)
        f0 = rng.standard_normal((n, 3))
        energies = _linear_flow_energies(g, K, f0, np.linspace(0, t_end, 6))
        measured = measured_regime(energies, rho, tol=1e-6)
        predicted = predicted_regime(_t(w), rho)
        assert measured.regime == expected, (expected, eigs, energies)
        assert predicted.regime == expected
        assert predicted.condition_holds == (expected == "HFD")


# --------------------------------------------------------------------------------------------
# LFD / HFD: discrete residual and non-residual maps
# --------------------------------------------------------------------------------------------
def _normalised_trajectory(
    g: nx.Graph, f0: np.ndarray, step: Callable[[np.ndarray], np.ndarray], m: int
) -> tuple[list[float], np.ndarray]:
    n, ei = g.number_of_nodes(), _ei(g)
    f = f0 / np.linalg.norm(f0)
    energies = []
    for _ in range(m):
        f = step(f)
        f = f / np.linalg.norm(f)
        energies.append(float(normalized_dirichlet_energy(_t(f), ei, n)))
    return energies, f


def _steps_for(multipliers: np.ndarray) -> int:
    """Iterations for the top |multiplier| to beat the runner-up by a factor e^{-30}."""
    mags = np.unique(np.round(np.abs(multipliers), 10))
    ratio = mags[-2] / mags[-1]
    return int(min(5000, math.ceil(30 / -math.log(ratio))))


@pytest.mark.parametrize("g", NON_BIPARTITE[::3], ids=_ids(NON_BIPARTITE[::3]))
def test_residual_discrete_flow_under_eq1_is_hfd_and_aligns_with_rho_eigenspace(
    g: nx.Graph,
) -> None:
    """F ← F + τĀFW with λ₊(ρ_Δ−1)^{-1} < |λ₋| < 2(τ(2−ρ_Δ))^{-1} (eq. 1) is HFD and
    F/‖F‖ converges into the ρ_Δ-eigenspace of Δ (§4 theorem). Breaking the upper bound
    of eq. 1 makes the frequency-0 mode with multiplier 1 − τ|λ₋| win: LFD."""
    rng = np.random.default_rng(1000 + g.number_of_nodes() * 100 + g.number_of_edges())
    n = g.number_of_nodes()
    lam, u = np.linalg.eigh(_lap(g))
    rho = float(lam[-1])
    u_rho = u[:, np.abs(lam - rho) < 1e-9]
    abar, tau = _abar(g), 0.5
    upper = 2 / (tau * (2 - rho))
    lm = 0.5 * upper  # inside eq. 1: λ₊/(ρ−1) < |λ₋| < 2/(τ(2−ρ))
    lp = 0.5 * lm * (rho - 1)
    w = _with_eigenvalues([lp, 0.2 * lp, -lm], rng)
    pred = predicted_regime(_t(w), rho, tau)
    assert pred.condition_holds and pred.regime == "HFD"
    mult = 1 + tau * np.kron(np.linalg.eigvalsh(w), 1 - lam)
    m = _steps_for(mult)
    energies, f = _normalised_trajectory(
        g, rng.standard_normal((n, 3)), lambda x: x + tau * abar @ x @ w, m
    )
    assert measured_regime(energies, rho, tol=1e-6).regime == "HFD"
    assert np.linalg.norm(u_rho @ (u_rho.T @ f)) == pytest.approx(1.0, abs=1e-6)

    # Upper bound of eq. 1 violated: |λ₋| = 3·2(τ(2−ρ))^{-1}, tiny λ₊.
    w_big = _with_eigenvalues([0.01, 0.005, -3 * upper], rng)
    pred = predicted_regime(_t(w_big), rho, tau)
    assert not pred.condition_holds and pred.regime == "LFD"
    mult = 1 + tau * np.kron(np.linalg.eigvalsh(w_big), 1 - lam)
    energies, _ = _normalised_trajectory(
        g, rng.standard_normal((n, 3)), lambda x: x + tau * abar @ x @ w_big, _steps_for(mult)
    )
    assert measured_regime(energies, rho, tol=1e-6).regime == "LFD"


@pytest.mark.parametrize("g", NON_BIPARTITE[::3], ids=_ids(NON_BIPARTITE[::3]))
def test_non_residual_flow_is_lfd_on_non_bipartite_graphs(g: nx.Graph) -> None:
    """F ← τĀFW with symmetric W is LFD on a non-bipartite graph whatever the spectrum of W
    (§4): |1 − λ^Δ| < 1 for λ^Δ ∈ (0, ρ_Δ] when ρ_Δ < 2, so frequency 0 dominates."""
    rng = np.random.default_rng(2000 + g.number_of_nodes() * 100 + g.number_of_edges())
    n = g.number_of_nodes()
    lam = np.linalg.eigvalsh(_lap(g))
    rho, abar, tau = float(lam[-1]), _abar(g), 0.7
    for eigs in ([1.0, 0.5, 0.2], [-1.0, -0.5, -0.2], [1.0, -2.0, 0.3]):
        w = _with_eigenvalues(eigs, rng)
        assert predicted_regime(_t(w), rho, tau, residual=False).regime == "LFD"
        mult = tau * np.kron(np.linalg.eigvalsh(w), 1 - lam)
        energies, _ = _normalised_trajectory(
            g, rng.standard_normal((n, 3)), lambda x, w=w: tau * abar @ x @ w, _steps_for(mult)
        )
        assert measured_regime(energies, rho, tol=1e-6).regime == "LFD"


@pytest.mark.parametrize("g", [nx.cycle_graph(6), nx.path_graph(5), nx.cycle_graph(8)])
def test_non_residual_flow_on_bipartite_graph_does_not_go_to_zero(g: nx.Graph) -> None:
    """Counter-example: on a bipartite graph Ā has eigenvalue −1 (λ^Δ = ρ_Δ = 2) as well as
    +1, so the frequency-2 component of F ← τĀFW keeps the same magnitude as the frequency-0
    one and E^Dir(F/‖F‖) stays bounded away from 0: neither LFD nor HFD."""
    rng = np.random.default_rng(3)
    n, ei = g.number_of_nodes(), _ei(g)
    rho, abar, tau = spectral_radius(ei, n), _abar(g), 0.7
    assert rho == pytest.approx(2.0) and is_bipartite(ei, n)
    w = _with_eigenvalues([1.0, -0.5, 0.3], rng)
    energies, _ = _normalised_trajectory(
        g, rng.standard_normal((n, 3)), lambda x: tau * abar @ x @ w, 400
    )
    assert min(energies[-50:]) > 1e-2
    assert measured_regime(energies, rho, tol=1e-6).regime == "undetermined"
    assert predicted_regime(_t(w), rho, tau, residual=False).regime == "undetermined"


def test_generalised_harmonic_flow_smooths() -> None:
    """Ḟ = −ΔFWᵀW (gradient flow of E^Dir_W, §3) over-smooths when W has trivial kernel:
    E^Dir(F/‖F‖) → 0, and E^Dir_W decreases along it."""
    rng = np.random.default_rng(9)
    for g in GRAPHS[::6]:
        n, d, ei = g.number_of_nodes(), 3, _ei(g)
        w = rng.standard_normal((d, d)) + 0.5 * np.eye(d)
        h = w.T @ w
        K = -np.kron(h, _lap(g))
        f0 = rng.standard_normal((n, d))
        t_end = 40.0 / _kron_gap(K)
        times = np.linspace(0, t_end, 5)
        normalised = _linear_flow_energies(g, K, f0, times)
        assert normalised[-1] < 1e-10 < normalised[0]
        ew = [
            float(
                dirichlet_energy_W(
                    _t((sla.expm(t * K) @ f0.flatten(order="F")).reshape(n, d, order="F")),
                    _t(w),
                    ei,
                    n,
                )
            )
            for t in np.linspace(0, t_end / 8, 6)
        ]
        assert all(b < a for a, b in itertools.pairwise(ew))


def test_predicted_regime_matches_the_stated_conditions() -> None:
    """predicted_regime is HFD exactly when |λ₋|(ρ_Δ−1) > λ₊ (continuous) and whenever eq. 1
    holds (discrete residual), on random W, ρ_Δ ∈ (1, 2], τ ∈ (0, 1]."""
    rng = np.random.default_rng(10)
    hfd_eq1 = 0
    for _ in range(300):
        w = _t(_sym(4, rng) + rng.normal() * np.eye(4))
        rho = float(rng.uniform(1.05, 2.0))
        tau = float(rng.uniform(0.05, 1.0))
        spec = w_spectrum(w)
        cont = predicted_regime(w, rho)
        assert (cont.regime == "HFD") == (spec.lambda_minus * (rho - 1) > spec.lambda_plus)
        assert (cont.regime == "LFD") == (spec.lambda_plus > spec.lambda_minus * (rho - 1))
        disc = predicted_regime(w, rho, tau)
        upper = 2 / (tau * (2 - rho))
        eq1 = spec.lambda_plus / (rho - 1) < spec.lambda_minus < upper
        assert disc.condition_holds == eq1
        if eq1:
            hfd_eq1 += 1
            assert disc.regime == "HFD"
    assert hfd_eq1 > 20


# --------------------------------------------------------------------------------------------
# Homophily
# --------------------------------------------------------------------------------------------
def _two_triangles() -> tuple[Tensor, Tensor]:
    """Triangles {0,1,2} and {3,4,5} joined by the edge 2–3; labels 0,0,0,1,1,1."""
    g = nx.Graph([(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)])
    return _ei(g), torch.tensor([0, 0, 0, 1, 1, 1])


def test_homophily_measures_equal_hand_computed_values() -> None:
    """Two triangles joined by one edge, one class per triangle (14 directed edges, 12 inside
    a class; degrees 2,2,3,3,2,2):
    edge h = 12/14 = 6/7; node h = (1+1+⅔+⅔+1+1)/6 = 8/9;
    class-insensitive (Lim et al.) = Σ_k max(0, h_k − ½) = 2(6/7 − ½) = 5/7;
    adjusted (Platonov et al.): p̄_k = 7/14, (6/7 − ½)/(1 − ½) = 5/7."""
    ei, y = _two_triangles()
    assert edge_homophily(y, ei) == pytest.approx(6 / 7)
    assert node_homophily(y, ei) == pytest.approx(8 / 9)
    assert class_insensitive_homophily(y, ei) == pytest.approx(5 / 7)
    assert adjusted_homophily(y, ei) == pytest.approx(5 / 7)
    # Alternating labels 0,1,0,1,0,1: same-class edges 0–2, 3–5 only → 4/14.
    y_alt = torch.tensor([0, 1, 0, 1, 0, 1])
    assert edge_homophily(y_alt, ei) == pytest.approx(4 / 14)
    logits = torch.nn.functional.one_hot(y, 2).to(DT) * 3.0 - 1.0
    assert prediction_homophily(logits, ei) == pytest.approx(6 / 7)
    assert prediction_homophily(y_alt, ei) == pytest.approx(4 / 14)


def test_adjusted_homophily_is_near_zero_for_random_labels() -> None:
    """Adjusted homophily corrects edge homophily for chance: ≈ 0 for labels independent of
    the graph (here edge homophily ≈ Σ_k p̄_k² instead, clearly non-zero)."""
    g = nx.gnm_random_graph(2000, 10000, seed=0)
    ei = _ei(g)
    gen = torch.Generator().manual_seed(0)
    # Unbalanced random classes, so that Σ p̄_k² is not 1/C.
    y = torch.multinomial(torch.tensor([0.5, 0.3, 0.15, 0.05]), 2000, True, generator=gen)
    assert abs(adjusted_homophily(y, ei)) < 0.03
    assert edge_homophily(y, ei) > 0.3


# --------------------------------------------------------------------------------------------
# Continuous models the paper compares with are never HFD (§4)
# --------------------------------------------------------------------------------------------
NEVER_HFD_GRAPHS = NON_BIPARTITE[::3]


def _limit_energy(g: nx.Graph, K: np.ndarray, d: int, seed: int) -> tuple[float, float]:
    """Normalised energy of the flow vec Ḟ = K vec F at a time long after the slowest mode
    separated (t · gap = 60), and ρ_Δ of the graph."""
    rng = np.random.default_rng(seed)
    f0 = rng.standard_normal((g.number_of_nodes(), d))
    t = 60.0 / max(_kron_gap(K), 1e-3)
    (e_t,) = _linear_flow_energies(g, K, f0, np.array([t]))
    return e_t, float(np.linalg.eigvalsh(_lap(g))[-1])


@pytest.mark.parametrize("g", NEVER_HFD_GRAPHS, ids=_ids(NEVER_HFD_GRAPHS))
def test_cgnn_is_never_hfd(g: nx.Graph) -> None:
    """CGNN, Ḟ = −ΔF + FΩ̃ (+ F(0)) with symmetric Ω̃ (§4): the rate of graph mode λ_k and
    channel mode ω_a is −λ_k + ω_a, largest at λ_k = 0 for every channel, so the homogeneous
    flow is LFD (normalised energy → 0) whatever Ω̃ is — never HFD."""
    d = 3
    n = g.number_of_nodes()
    omega = _sym(d, np.random.default_rng(n))
    K = -np.kron(np.eye(d), _lap(g)) + np.kron(omega, np.eye(n))
    e_t, rho = _limit_energy(g, K, d, seed=n)
    assert e_t < 1e-6 < rho / 2


@pytest.mark.parametrize("g", NEVER_HFD_GRAPHS, ids=_ids(NEVER_HFD_GRAPHS))
def test_linear_pde_gcn_d_is_never_hfd(g: nx.Graph) -> None:
    """Linear PDE-GCN_D, Ḟ = −ΔF KᵀK (§4): rates −λ_k κ_a with κ_a ≥ 0 are largest at
    λ_k = 0, so the flow smooths (LFD) for every K — never HFD."""
    d = 3
    n = g.number_of_nodes()
    k = np.random.default_rng(n + 1).standard_normal((d, d))
    K = -np.kron(k.T @ k, _lap(g))
    e_t, rho = _limit_energy(g, K, d, seed=n + 1)
    assert e_t < 1e-6 < rho / 2


@pytest.mark.parametrize("g", NEVER_HFD_GRAPHS, ids=_ids(NEVER_HFD_GRAPHS))
def test_linear_grand_is_never_hfd(g: nx.Graph) -> None:
    """Linear GRAND, Ḟ = −(I − A(F(0)))F with a fixed attention matrix (§4), here symmetric:
    A = D_w^{-1/2} A_w D_w^{-1/2} for positive random edge weights w. Its slowest mode is the
    top eigenvector D_w^{1/2}1 of A, a smooth signal, so the normalised energy settles far
    below the HFD limit ρ_Δ/2 (and at 0 when the weights are all equal)."""
    n = g.number_of_nodes()
    rng = np.random.default_rng(n + 2)
    a = nx.to_numpy_array(g, nodelist=range(n))
    w = np.triu(a * rng.uniform(0.5, 2.0, a.shape), 1)
    w = w + w.T
    inv = 1 / np.sqrt(w.sum(1))
    attention = inv[:, None] * w * inv[None, :]
    K = -np.kron(np.eye(2), np.eye(n) - attention)
    e_t, rho = _limit_energy(g, K, 2, seed=n + 2)
    assert e_t < 0.5 * rho / 2
    # Equal weights: the attention is Ā itself and the flow is the heat equation: LFD.
    K_heat = -np.kron(np.eye(2), _lap(g))
    e_heat, _ = _limit_energy(g, K_heat, 2, seed=n + 2)
    assert e_heat < 1e-6

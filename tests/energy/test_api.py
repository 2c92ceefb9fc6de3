"""API tests of graff.energy: shapes, sparse vs dense, precomputed Ā, errors, and
EnergyTrajectory as GRAFF's step callback."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch import Tensor

import graff.energy as energy
from graff.energy import (
    EnergyTrajectory,
    dirichlet_energy,
    is_bipartite,
    laplacian_spectrum,
    measured_regime,
    normalized_dirichlet_energy,
    normalized_laplacian,
    predicted_regime,
    spectral_radius,
    total_energy,
    w_spectrum,
)
from graff.nn import GRAFF
from graff.nn.adjacency import normalized_adjacency

DT = torch.float64


def _undirected(pairs: list[tuple[int, int]]) -> Tensor:
    e = torch.tensor(pairs, dtype=torch.long).t()
    return torch.cat([e, e.flip(0)], dim=1)


def _random_ei(n: int, m: int, seed: int) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    e = torch.randint(0, n, (2, m), generator=gen)
    e = e[:, e[0] != e[1]]
    e = torch.unique(torch.sort(e, dim=0).values, dim=1)
    return torch.cat([e, e.flip(0)], dim=1)


TRIANGLE_TAIL = _undirected([(0, 1), (1, 2), (0, 2), (2, 3)])


def test_all_exports_exist() -> None:
    for name in energy.__all__:
        assert hasattr(energy, name), name


@pytest.mark.parametrize("self_loops", [False, True])
def test_sparse_and_dense_laplacian_agree(self_loops: bool) -> None:
    ei = _random_ei(30, 80, 0)
    sparse = normalized_laplacian(ei, 30, self_loops)
    dense = normalized_laplacian(ei, 30, self_loops, dense=True)
    assert sparse.layout == torch.sparse_csr and dense.layout == torch.strided
    assert sparse.shape == dense.shape == (30, 30) and dense.dtype == DT
    torch.testing.assert_close(sparse.to_dense(), dense)
    ref = (
        torch.eye(30, dtype=DT)
        - normalized_adjacency(ei, 30, self_loops=self_loops, dtype=DT).to_dense()
    )
    torch.testing.assert_close(dense, ref)


@pytest.mark.parametrize("self_loops", [False, True])
def test_edge_index_and_precomputed_adj_agree_with_isolated_node_and_loop(
    self_loops: bool,
) -> None:
    """Edge form (edge_index) and trace form (adj, dense or CSR) give the same ½ tr(FᵀΔF),
    also with an isolated node (Δ_ii = 1) and a self-loop already in edge_index."""
    ei = torch.cat([TRIANGLE_TAIL, torch.tensor([[3], [3]])], dim=1)  # node 4 isolated
    n = 5
    f = torch.randn(n, 3, dtype=DT, generator=torch.Generator().manual_seed(1))
    lap = normalized_laplacian(ei, n, self_loops, dense=True)
    expected = 0.5 * torch.trace(f.t() @ lap @ f)
    adj = normalized_adjacency(ei, n, self_loops=self_loops, dtype=DT)
    for got in (
        dirichlet_energy(f, ei, n, self_loops),
        dirichlet_energy(f, adj=adj),
        dirichlet_energy(f, adj=adj.to_dense()),
    ):
        torch.testing.assert_close(got, expected)
    assert dirichlet_energy(f, ei).shape == ()


def test_float32_and_one_dimensional_signal() -> None:
    f = torch.randn(4, generator=torch.Generator().manual_seed(2))
    e32 = dirichlet_energy(f, TRIANGLE_TAIL, 4)
    assert e32.dtype == torch.float32
    e64 = dirichlet_energy(f.double().unsqueeze(1), TRIANGLE_TAIL, 4)
    assert float(e32) == pytest.approx(float(e64), rel=1e-5)
    assert 0 <= float(normalized_dirichlet_energy(f, TRIANGLE_TAIL)) <= 1


def test_total_energy_fields_and_source_requirements() -> None:
    f = torch.randn(4, 2, dtype=DT)
    w, om = torch.eye(2, dtype=DT), torch.zeros(2, 2, dtype=DT)
    out = total_energy(f, w, om, edge_index=TRIANGLE_TAIL, num_nodes=4)
    assert out._fields == ("external", "pairwise", "source", "total")
    assert float(out.external) == 0.0 and float(out.source) == 0.0
    # W = I, Ω = I: E^tot = E^Dir exactly.
    torch.testing.assert_close(
        total_energy(f, w, w, edge_index=TRIANGLE_TAIL).total, dirichlet_energy(f, TRIANGLE_TAIL)
    )
    with pytest.raises(ValueError, match="needs the source F0"):
        total_energy(f, w, om, 0.5, edge_index=TRIANGLE_TAIL)
    with pytest.raises(ValueError, match="F0 must have F's shape"):
        total_energy(f, w, om, 0.5, f[:2], edge_index=TRIANGLE_TAIL)


def test_bad_inputs_raise_clear_errors() -> None:
    f = torch.randn(4, 2, dtype=DT)
    with pytest.raises(ValueError, match=r"shape \[2, E\]"):
        dirichlet_energy(f, TRIANGLE_TAIL.t(), 4)
    with pytest.raises(ValueError, match="ids must lie in"):
        dirichlet_energy(f[:3], TRIANGLE_TAIL)
    with pytest.raises(ValueError, match=r"node-feature matrix \[n, d\]"):
        dirichlet_energy(f.unsqueeze(0), TRIANGLE_TAIL)
    with pytest.raises(ValueError, match="F has 4 rows but num_nodes=5"):
        dirichlet_energy(f, TRIANGLE_TAIL, 5)
    with pytest.raises(ValueError, match="graph is missing"):
        dirichlet_energy(f)
    with pytest.raises(ValueError, match="not both"):
        dirichlet_energy(f, TRIANGLE_TAIL, adj=torch.eye(4, dtype=DT))
    with pytest.raises(ValueError, match="integer node ids"):
        dirichlet_energy(f, TRIANGLE_TAIL.double())
    with pytest.raises(ValueError, match="features have d=2 channels"):
        total_energy(f, torch.eye(3, dtype=DT), torch.eye(2, dtype=DT), edge_index=TRIANGLE_TAIL)
    with pytest.raises(ValueError, match="time-dependent"):
        w_spectrum(torch.eye(2).expand(3, 2, 2))
    with pytest.raises(ValueError, match="symmetric"):
        w_spectrum(torch.tensor([[0.0, 1.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="‖F‖ = 0"):
        normalized_dirichlet_energy(torch.zeros(4, 2), TRIANGLE_TAIL)
    with pytest.raises(ValueError, match="spectral_radius"):
        laplacian_spectrum(torch.zeros(2, 0, dtype=torch.long), 2001)
    with pytest.raises(ValueError, match="ρ_Δ must lie in"):
        predicted_regime(torch.eye(2), 2.5)
    with pytest.raises(ValueError, match="pass τ"):
        predicted_regime(torch.eye(2), 1.5, residual=False)
    with pytest.raises(ValueError, match="at least one"):
        measured_regime([], 1.5)
    with pytest.raises(ValueError, match="diverged"):
        measured_regime([0.5, float("inf")], 1.5)
    with pytest.raises(ValueError, match="needs the graph"):
        EnergyTrajectory()
    with pytest.raises(ValueError, match="integer class ids"):
        energy.edge_homophily(torch.rand(4), TRIANGLE_TAIL)


def test_spectral_radius_lanczos_matches_dense() -> None:
    """The eigsh (Lanczos) path agrees with dense eigvalsh on a 400-node graph."""
    ei = _random_ei(400, 1200, 3)
    dense = spectral_radius(ei, 400)
    lanczos = spectral_radius(ei, 400, dense_max_nodes=0)
    assert lanczos == pytest.approx(dense, abs=1e-8)
    assert float(laplacian_spectrum(ei, 400)[-1]) == pytest.approx(dense, abs=1e-12)


def test_is_bipartite_small_cases() -> None:
    assert is_bipartite(_undirected([(0, 1), (1, 2), (2, 3), (3, 0)]), 4)
    assert not is_bipartite(TRIANGLE_TAIL, 4)
    # Two components, one of them an odd cycle: not bipartite; isolated nodes are fine.
    assert not is_bipartite(_undirected([(0, 1), (2, 3), (3, 4), (4, 2)]), 6)
    assert is_bipartite(_undirected([(0, 1), (2, 3)]), 6)
    assert not is_bipartite(torch.tensor([[0], [0]]), 2)  # a self-loop is an odd cycle


def test_w_spectrum_convention() -> None:
    spec = w_spectrum(torch.diag(torch.tensor([-3.0, 0.5, 2.0])))
    assert spec.lambda_plus == pytest.approx(2.0) and spec.lambda_minus == pytest.approx(3.0)
    assert spec.eigenvalues.dtype == DT
    spec = w_spectrum(torch.diag(torch.tensor([1.0, 0.5])))
    assert spec.lambda_minus == 0.0  # no negative eigenvalue: |λ₋| = 0


def test_measured_regime_evidence() -> None:
    lfd = measured_regime([0.5, 0.1, 0.01, 1e-5], rho=1.8, tol=1e-3)
    assert lfd.regime == "LFD" and lfd.trend < 0 and lfd.last == 1e-5
    hfd = measured_regime(torch.tensor([0.3, 0.8, 0.9]), rho=1.8, tol=1e-3)
    assert hfd.regime == "HFD" and hfd.hfd_limit == pytest.approx(0.9) and hfd.trend > 0
    assert measured_regime([0.4, 0.4], rho=1.8).regime == "undetermined"


def test_a_step_where_f_vanished_is_named_and_left_out_of_the_trend() -> None:
    """A layer whose output is zero records NaN (0/0): the trend reads the tail's finite
    values (it was NaN), and a zero last step is named as such, not as an overflow."""
    m = measured_regime([0.9, math.nan, 0.5], rho=1.8)
    assert m.trend == pytest.approx(-0.2) and m.last == 0.5
    rec = EnergyTrajectory(TRIANGLE_TAIL, 4)
    rec(0, 0.0, torch.randn(4, 2, dtype=DT))
    rec(1, 1.0, torch.zeros(4, 2, dtype=DT))  # a collapsed output
    with pytest.raises(ValueError, match="F is zero at the last step"):
        measured_regime(rec, 1.5)


def test_energy_trajectory_as_graff_callback() -> None:
    """EnergyTrajectory records one entry per Euler step of GRAFF (k = 0 is F(0)); its
    stored features satisfy F(t+τ) − F(t) = τ(−FΩ + ĀFW + βF(0)) = −τ∇E^tot(F)."""
    torch.manual_seed(0)
    n = 6
    ei = _undirected([(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 5), (5, 3)])
    model = GRAFF(5, 4, 3, T=2.0, step_size=0.5, beta=0.3).double().eval()
    x = torch.randn(n, 5, dtype=DT)
    rec = EnergyTrajectory(ei, n, store_features=True)
    out = model(x, ei, callback=rec)
    assert out.shape == (n, 3)
    assert len(rec) == 5 and rec.steps == [0, 1, 2, 3, 4]
    assert rec.times == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])
    assert rec.normalized_tensor().shape == (5,) and rec.energy_tensor().dtype == DT
    for e, f in zip(rec.normalized, rec.features, strict=True):
        assert e == pytest.approx(float(normalized_dirichlet_energy(f, ei, n)), rel=1e-12)
    adj = model.conv.adjacency(ei, n)
    f0 = rec.features[0]
    w, om, beta = model.W, model.Omega, float(model.beta)
    for f, f_next in zip(rec.features, rec.features[1:], strict=False):
        fr = f.clone().requires_grad_(True)
        e_tot = total_energy(fr, w, om, beta, f0, adj=adj).total
        (grad,) = torch.autograd.grad(e_tot, fr)
        torch.testing.assert_close(f_next - f, -0.5 * grad)
    # Energy of the operator the model uses (self-loops), via a precomputed Ā.
    rec_model = EnergyTrajectory(adj=adj)
    model(x, ei, callback=rec_model)
    assert len(rec_model) == 5
    assert measured_regime(rec, spectral_radius(ei, n)).regime in {"LFD", "HFD", "undetermined"}


def test_a_model_or_a_diverged_w_is_named_not_crashed_on() -> None:
    """A model passed where its matrix belongs, a W with NaN/inf (a diverged run), and a
    non-GRAFF model given to model_frequency_response: one ValueError each, naming the fix
    (were: a bare type error, a LinAlgError from eigh, an AttributeError)."""
    model = GRAFF(3, 4, 2)
    with pytest.raises(
        ValueError, match=r"got GRAFF; for a model pass its matrix, e\.g\. model\.W"
    ):
        energy.w_spectrum(model)  # type: ignore[arg-type]
    for bad in (float("nan"), float("inf")):
        W = torch.eye(4)
        W[1, 1] = bad
        with pytest.raises(ValueError, match="W has NaN or infinite entries"):
            energy.w_spectrum(W)
        with pytest.raises(ValueError, match="NaN or infinite"):
            energy.attraction_repulsion(W)
    with pytest.raises(
        ValueError, match=r"needs a GRAFF model .* got Linear; .*frequency_response"
    ):
        energy.model_frequency_response(torch.nn.Linear(3, 3))  # type: ignore[arg-type]
    assert energy.model_frequency_response(model).response.shape[0] > 0


def test_features_with_nan_or_inf_are_named_and_a_diverged_step_is_recorded_as_nan() -> None:
    """F with NaN/inf: a ValueError counting the entries and rows (was a silent NaN energy).
    Inside a trajectory a diverged step is kept as NaN, and measured_regime says the
    trajectory over/underflowed."""
    ei = TRIANGLE_TAIL
    F = torch.randn(4, 3, dtype=DT)
    F[2, 1] = float("nan")
    F[3, 0] = float("inf")
    for fn in (dirichlet_energy, normalized_dirichlet_energy):
        with pytest.raises(ValueError, match=r"F has 2 NaN or infinite entries in 2 of its 4 rows"):
            fn(F, ei, 4)
    with pytest.raises(ValueError, match=r"F0 has 2 NaN"):
        total_energy(torch.zeros(4, 3, dtype=DT), torch.eye(3, dtype=DT), torch.eye(3, dtype=DT),
                     0.5, F, edge_index=ei)  # fmt: skip
    rec = EnergyTrajectory(ei, 4)
    rec(0, 0.0, torch.randn(4, 3, dtype=DT))
    rec(1, 1.0, F)
    assert len(rec) == 2 and rec.energies[1] != rec.energies[1]  # NaN
    with pytest.raises(ValueError, match="over/underflowed"):
        measured_regime(rec, spectral_radius(ei, 4))


@pytest.mark.parametrize("rho", [TRIANGLE_TAIL, "1.5", None])
def test_rho_that_is_not_a_number_says_how_to_compute_it(rho: object) -> None:
    """ρ_Δ given as the edge index (or a string): one error naming spectral_radius (was
    "only one element tensors can be converted to Python scalars")."""
    for call in (
        lambda: predicted_regime(torch.eye(3), rho),  # type: ignore[arg-type]
        lambda: measured_regime([0.5, 0.1], rho),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValueError, match=r"ρ_Δ \(rho\) must be a number.*spectral_radius"):
            call()
    # a number held in a 0-d tensor or NumPy scalar is a number
    W = torch.eye(3)
    for number in (torch.tensor(1.5), np.float32(1.5)):
        assert predicted_regime(W, number) == predicted_regime(W, 1.5)  # type: ignore[arg-type]


def test_homophily_arguments_swapped_or_nan_logits_are_named() -> None:
    """(edge_index, y) in PyG's order: one error saying the two look swapped. Logits with
    NaN (a diverged model): an error, not the homophily of argmax(NaN)."""
    y = torch.tensor([0, 1, 1, 0])
    for fn in (energy.edge_homophily, energy.node_homophily, energy.adjusted_homophily):
        with pytest.raises(ValueError, match=r"look swapped.*\(y, edge_index\), labels first"):
            fn(TRIANGLE_TAIL, y)
    assert energy.edge_homophily(y, TRIANGLE_TAIL) == pytest.approx(2 / 8)
    logits = torch.randn(4, 2)
    logits[1] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or infinite entries in 1 of their 4 rows"):
        energy.prediction_homophily(logits, TRIANGLE_TAIL)


def test_a_node_id_out_of_range_names_what_counted_the_nodes() -> None:
    """The energy tools take the number of nodes from F's rows, the labels or num_nodes; the
    error said "rows of the features" for all of them (homophily has no features)."""
    y = torch.tensor([0, 1, 0])  # one label short of TRIANGLE_TAIL's 4 nodes
    for fn in (energy.edge_homophily, energy.node_homophily, energy.adjusted_homophily):
        said = r"has 3 nodes \(from the labels y\).*that the labels y"
        with pytest.raises(ValueError, match=said):
            fn(y, TRIANGLE_TAIL)
    F = torch.randn(3, 2, dtype=DT)
    for kwargs in ({}, {"self_loops": True}):
        with pytest.raises(ValueError, match=r"has 3 nodes \(from the rows of F\)"):
            energy.dirichlet_energy(F, TRIANGLE_TAIL, **kwargs)
    with pytest.raises(ValueError, match=r"has 3 nodes \(from num_nodes\)"):
        energy.laplacian_spectrum(TRIANGLE_TAIL, 3)
    with pytest.raises(ValueError, match=r"has 3 nodes \(from num_nodes\)"):
        energy.is_bipartite(TRIANGLE_TAIL, 3)


def test_a_trajectory_recorder_checks_its_graph_where_it_is_made() -> None:
    """EnergyTrajectory kept a wrong graph and failed at the model's first step, far from the
    line that made it; a graph of the right form is still accepted without num_nodes."""
    with pytest.raises(ValueError, match=r"edge_index must be a torch\.Tensor, got str"):
        EnergyTrajectory("edges")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"must have shape \[2, E\]"):
        EnergyTrajectory(TRIANGLE_TAIL.t())
    with pytest.raises(ValueError, match="refers to node 3, but the graph has 3 nodes"):
        EnergyTrajectory(TRIANGLE_TAIL, 3)
    with pytest.raises(TypeError, match="store_features must be True or False"):
        EnergyTrajectory(TRIANGLE_TAIL, 4, store_features="yes")  # type: ignore[arg-type]
    rec = EnergyTrajectory(TRIANGLE_TAIL)
    rec(0, 0.0, torch.randn(4, 2, dtype=DT))
    assert len(rec) == 1 and math.isfinite(rec.normalized[0])


@pytest.mark.parametrize("n", [torch.tensor([4, 4]), torch.tensor([]), 4.0, True, "4"])
def test_num_nodes_that_is_not_a_positive_integer_is_named(n: object) -> None:
    """A tensor of several values as num_nodes crashed with "Boolean value of Tensor with
    more than one value is ambiguous"; a float or a bool was taken as a count."""
    f = torch.randn(4, 2, dtype=DT)
    for call in (
        lambda: dirichlet_energy(f, TRIANGLE_TAIL, n),  # type: ignore[arg-type]
        lambda: total_energy(f, torch.eye(2), torch.eye(2), edge_index=TRIANGLE_TAIL, num_nodes=n),  # type: ignore[arg-type]
        lambda: laplacian_spectrum(TRIANGLE_TAIL, n),  # type: ignore[arg-type]
        lambda: spectral_radius(TRIANGLE_TAIL, n),  # type: ignore[arg-type]
        lambda: energy.is_bipartite(TRIANGLE_TAIL, n),  # type: ignore[arg-type]
        lambda: EnergyTrajectory(TRIANGLE_TAIL, n),  # type: ignore[arg-type]
    ):
        with pytest.raises(TypeError, match="num_nodes must be a positive integer"):
            call()
    # an integer held in a 0-d tensor or a NumPy scalar is a count
    assert spectral_radius(TRIANGLE_TAIL, torch.tensor(4)) == spectral_radius(TRIANGLE_TAIL, 4)  # type: ignore[arg-type]
    assert float(dirichlet_energy(f, TRIANGLE_TAIL, np.int64(4))) == float(  # type: ignore[arg-type]
        dirichlet_energy(f, TRIANGLE_TAIL)
    )


def test_adj_that_is_not_a_normalised_adjacency_tensor_is_named() -> None:
    """adj given as a NumPy / SciPy matrix crashed on ``.dim``; an integer 0/1 matrix (the
    raw A) or the edge index gave a wrong energy silently; NaN entries a NaN energy."""
    f = torch.randn(4, 2, dtype=DT)
    a = normalized_adjacency(TRIANGLE_TAIL, 4, self_loops=False, dtype=DT)
    dense = a.to_dense()
    with pytest.raises(TypeError, match="adj must be the normalised adjacency Ā as a torch"):
        dirichlet_energy(f, adj=dense.numpy())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="from_scipy_sparse_matrix"):
        total_energy(f, torch.eye(2), torch.eye(2), adj=sp.csr_matrix(dense.numpy()))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="looks like the raw adjacency A"):
        dirichlet_energy(f, adj=(dense > 0).long())
    with pytest.raises(ValueError, match="looks like an edge_index: pass it as edge_index"):
        EnergyTrajectory(adj=TRIANGLE_TAIL)(0, 0.0, f)
    nan = dense.clone()
    nan[0, 1] = float("nan")
    for bad in (nan, nan.to_sparse_coo(), nan.to_sparse_csr()):
        with pytest.raises(ValueError, match="adj has NaN or infinite entries"):
            dirichlet_energy(f, adj=bad)
    # Ā in each layout still gives the edge-index energy
    expected = float(dirichlet_energy(f, TRIANGLE_TAIL))
    for good in (a, dense, dense.to_sparse_coo()):
        assert float(dirichlet_energy(f, adj=good)) == pytest.approx(expected)


def test_beta_w_and_trajectories_of_the_wrong_kind_are_named() -> None:
    """beta as a vector was broadcast into a vector "energy"; a complex W in
    dirichlet_energy_W lost its imaginary part silently; measured_regime given a model (or a
    matrix of energies) failed inside float() (or flattened it)."""
    f = torch.randn(4, 2, dtype=DT)
    eye = torch.eye(2, dtype=DT)
    for beta in (torch.ones(4), "0.5", None):
        with pytest.raises(TypeError, match="beta must be a number"):
            total_energy(f, eye, eye, beta, f, edge_index=TRIANGLE_TAIL, num_nodes=4)  # type: ignore[arg-type]
    held = total_energy(f, eye, eye, torch.tensor([0.5]), f, edge_index=TRIANGLE_TAIL)
    plain = total_energy(f, eye, eye, 0.5, f, edge_index=TRIANGLE_TAIL)
    assert held.total.shape == () and float(held.total) == pytest.approx(float(plain.total))
    with pytest.raises(ValueError, match="real floating tensor"):
        energy.dirichlet_energy_W(f, eye.to(torch.complex128), TRIANGLE_TAIL)
    with pytest.raises(ValueError, match=r"\[k, d\] matrix, d=2"):
        energy.dirichlet_energy_W(f, torch.eye(3, dtype=DT), TRIANGLE_TAIL)
    model = GRAFF(3, 2, 2)
    with pytest.raises(TypeError, match=r"normalised energies of a trajectory.*got GRAFF"):
        measured_regime(model, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"got shape \(2, 2\)"):
        measured_regime(torch.rand(2, 2), 1.5)
    with pytest.raises(TypeError, match="of dtype complex"):
        measured_regime(torch.ones(3, dtype=torch.complex64), 1.5)
    assert measured_regime(np.array([0.5, 1e-5]), 1.5).regime == "LFD"


def test_theory_tools_name_arguments_of_the_wrong_kind() -> None:
    """Each was a raw Python error or a silent answer: steps as a number ("'int' object is not
    iterable") or text, graph frequencies outside Δ's spectrum [0, 2] (answered), text for
    lambdas, num_points, tau or window, a negative atol or tol (answered)."""
    W, omega = torch.eye(3, dtype=DT), torch.zeros(3, 3, dtype=DT)
    for steps in (3, "abc"):
        with pytest.raises(TypeError, match=r"steps must be a list of Euler step sizes"):
            energy.frequency_response(W, omega, steps)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"lie in \[0, 2\]; got values from 0 to 3"):
        energy.frequency_response(W, omega, [1.0], lambdas=[0.0, 3.0])
    with pytest.raises(TypeError, match="lambdas must be graph frequencies"):
        energy.frequency_response(W, omega, [1.0], lambdas="a")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="num_points must be a positive integer"):
        energy.frequency_response(W, omega, [1.0], num_points="5")  # type: ignore[arg-type]
    spectrum = laplacian_spectrum(TRIANGLE_TAIL, 4).float()  # float32: its top may pass 2
    assert energy.frequency_response(W, omega, [1.0], lambdas=spectrum).lambdas.numel() == 4
    with pytest.raises(ValueError, match="atol must be a number ≥ 0"):
        energy.attraction_repulsion(W, atol=-1.0)
    with pytest.raises(ValueError, match="the step τ must be a positive number, got 1"):
        predicted_regime(W, 1.5, tau="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tol must be a number ≥ 0"):
        measured_regime([0.1, 0.0], 1.5, tol=-1.0)
    with pytest.raises(TypeError, match="window must be a positive integer"):
        measured_regime([0.1, 0.0], 1.5, window="3")  # type: ignore[arg-type]


def test_switches_given_as_text_are_refused_not_read_as_true() -> None:
    """self_loops="no" counted as true: the energy of the graph with self-loops, silently."""
    f = torch.randn(4, 2, dtype=DT)
    for call in (
        lambda: dirichlet_energy(f, TRIANGLE_TAIL, self_loops="no"),  # type: ignore[arg-type]
        lambda: dirichlet_energy(f, adj=torch.eye(4, dtype=DT), self_loops="no"),  # type: ignore[arg-type]
        lambda: spectral_radius(TRIANGLE_TAIL, 4, self_loops="no"),  # type: ignore[arg-type]
        lambda: predicted_regime(torch.eye(2), 1.5, residual="no"),  # type: ignore[arg-type]
    ):
        with pytest.raises(TypeError, match=r"must be True or False, got 'no'"):
            call()

"""`graff analyze`: the report of a trained GRAFF run is faithful to the run it reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import graff
from graff.analyze import analyze_run, text_report
from graff.cli import main
from graff.data import load_dataset
from graff.energy import adjusted_homophily
from graff.train import RunConfig, RunDirError, prepare_data, run

PARAMS = {"num_nodes": 150, "num_features": 8, "num_classes": 3, "num_splits": 2, "seed": 1}


def _train(tmp_path: Path, name: str = "graff") -> Path:
    cfg = RunConfig()
    cfg.data.dataset = "csbm"
    cfg.data.params = dict(PARAMS)
    cfg.model.name = name
    cfg.model.hidden = 6
    cfg.model.T = 2.5
    cfg.model.step_size = 0.5
    cfg.optim.epochs = 15
    out = tmp_path / f"run-{name}"
    run(cfg, prepare_data(load_dataset("csbm", **PARAMS)), out)
    return out


def test_report_matches_the_run(tmp_path: Path) -> None:
    """The rebuilt model reproduces the run's split-0 test score, its W spectrum is that of
    model.W, and the energy is recorded at F(0) and after each of the ⌈T/τ⌉ = 5 steps."""
    out = _train(tmp_path)
    report, model, response = analyze_run(out, split=0)
    summary = json.loads((out / "summary.json").read_text())
    assert 100 * report["test_accuracy"] == pytest.approx(summary["test"][0], abs=1e-4)
    assert report["metric"] == "accuracy" and report["test_score"] == report["test_accuracy"]
    assert not report["nonlinear"] and not report["step_norm"]
    d = prepare_data(load_dataset("csbm", **PARAMS))
    assert report["homophily"]["graph_adjusted"] == pytest.approx(
        adjusted_homophily(d.y, d.edge_index)  # csbm: every node labelled
    )
    eig = torch.linalg.eigvalsh(model.W.double())
    assert report["w_eigenvalues"][0] == pytest.approx(eig.tolist(), abs=1e-9)
    assert report["lambda_plus"] == pytest.approx(max(float(eig.max()), 0.0), abs=1e-9)
    assert report["energy"]["steps"] == [0, 1, 2, 3, 4, 5]
    assert report["energy"]["times"][-1] == pytest.approx(2.5)
    assert 0.0 <= report["rho_delta"] <= 2.0
    assert report["predicted_regime"] in {"LFD", "HFD", "undetermined"}
    assert response is not None
    assert report["frequency_response"]["low_pass"] == list(response.kind).count("low-pass")
    for v in report["energy"]["normalized_dirichlet"]:
        assert 0.0 <= v <= report["rho_delta"] / 2 + 1e-9


def test_text_says_whether_the_condition_holds(tmp_path: Path) -> None:
    """The predicted regime is printed with the theorem's HFD condition, whether it holds and
    its terms (an "LFD" beside the bare HFD condition read as if the condition justified it);
    a time-dependent W says which W's spectrum is shown."""
    report, _, _ = analyze_run(_train(tmp_path), split=0)
    report.update(lambda_plus=1.1877, lambda_minus=1.0914, rho_delta=1.3866, step_size=0.5)
    report.update(predicted_regime="LFD", predicted_condition_holds=False, T=1.5695027742681342)
    text = text_report(report)
    assert "T = 1.5695, τ = 0.5, β" in text  # a searched T, not its 16 digits
    assert "predicted regime: LFD (residual F ← F + τĀFW, eq. 1:" in text
    assert "— does not hold: 3.0722 < 1.0914 < 6.5210)" in text  # 1.1877/0.3866, 2/(0.5·0.6134)
    report.update(lambda_minus=4.0, predicted_regime="HFD", predicted_condition_holds=True)
    assert "— holds: 3.0722 < 4.0000 < 6.5210)" in text_report(report)
    report.update(rho_delta=0.9, predicted_regime="LFD", predicted_condition_holds=False)
    assert "— does not hold: ρ_Δ = 0.9000 ≤ 1)" in text_report(report)
    assert "spectrum of W:" in text_report(report)
    report["time_dependent_w"] = True
    assert "spectrum of W at the first step (W varies with t):" in text_report(report)
    report["homophily"]["graph_adjusted"] = -0.0002  # just below chance: not "-0.000"
    assert ", adjusted 0.000; predictions edge" in text_report(report)
    report["homophily"]["graph_adjusted"] = None  # undefined (one class on every edge end)
    assert "node " in text_report(report) and "adjusted" not in text_report(report)
    del report["predicted_condition_holds"]  # an analysis.json of an older graff
    assert text_report(report).count("eq. 1: λ₊(ρ_Δ−1)^{-1} < |λ₋| < 2(τ(2−ρ_Δ))^{-1})") == 1


def test_cli_writes_report_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`graff analyze RUN --out DIR` writes analysis.json, report.txt and PNG plots."""
    out = _train(tmp_path)
    dest = tmp_path / "analysis"
    assert main(["analyze", str(out), "--out", str(dest), "--split", "1"]) == 0
    report = json.loads((dest / "analysis.json").read_text())
    assert report["split"] == 1
    assert (dest / "report.txt").read_text().startswith("GRAFF run")
    for png in ("energy.png", "w_spectrum.png"):
        assert (dest / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "predicted regime" in capsys.readouterr().out


def test_cli_takes_threads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--threads N` as every other command takes it ("unrecognized arguments" before)."""
    out = _train(tmp_path)
    before = torch.get_num_threads()
    try:
        assert main(["analyze", str(out), "--threads", "1", "--no-plots"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert main(["analyze", str(out), "--threads", "0"]) == 2
    assert "--threads" in capsys.readouterr().err


class _OneLayer(torch.nn.Module):
    """A model a user registered: one linear map, no list of layers, no callback."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(in_channels, out_channels)

    def forward(
        self, x: torch.Tensor, edge_index: object, edge_weight: object = None
    ) -> torch.Tensor:
        return self.lin(x)


class _Steps(_OneLayer):
    """The same map, and a forward that hands its input and output to a callback."""

    def forward(
        self, x: torch.Tensor, edge_index: object, edge_weight: object = None, *, callback=None
    ) -> torch.Tensor:
        out = self.lin(x)
        if callback is not None:
            callback(0, 0.0, x)
            callback(1, 1.0, out)
        return out


def test_refuses_a_model_without_layers_and_a_missing_split(tmp_path: Path) -> None:
    """A model whose layers cannot be found (no list of layers, no callback: every shipped
    model has one or the other now) or a split without a model is a clear RunDirError
    (exit 2 in the CLI)."""
    from graff.train import MODELS, register_model

    register_model("one_layer", _OneLayer, (), "test entry", unbatched="a test model")
    try:
        one = _train(tmp_path, "one_layer")
        with pytest.raises(RunDirError, match=r"'one_layer' run, whose layers .*layer_energies"):
            analyze_run(one)
        assert main(["analyze", str(one), "--no-plots", "--out", str(tmp_path / "a")]) == 2
    finally:
        MODELS._entries.pop("one_layer")
    graff_run = _train(tmp_path)
    with pytest.raises(RunDirError, match="available splits: 0, 1"):
        analyze_run(graff_run, split=7)
    assert main(["analyze", str(tmp_path / "nowhere")]) == 2
    # split "1" read split_1.json and then called the intact record damaged
    with pytest.raises(TypeError, match=r"split must be an integer .*got '1'"):
        analyze_run(graff_run, split="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"run_dir .*must be a path \(str or pathlib.Path\), got"):
        analyze_run(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"run_dir .*must be a path \(str or pathlib.Path\), got"):
        graff.load_run(3)  # type: ignore[arg-type]
    # the available splits in numeric order ("10" sorted before "2" as text)
    for k in (10, 2):
        (graff_run / f"split_{k}.pt").write_bytes(b"")
    with pytest.raises(RunDirError, match=r"available splits: 0, 1, 2, 10$"):
        analyze_run(graff_run, split=7)


def test_h2gcn_and_any_callback_model_are_measured_at_their_steps(tmp_path: Path) -> None:
    """H2GCN (its rounds in one module) reports the energy of its ego embedding and of each
    round, named; a user's model whose forward takes a callback, what it handed over."""
    report, model, _ = analyze_run(_train(tmp_path, "h2gcn"), split=0)
    assert report["recorded"].startswith("the ego embedding R⁽⁰⁾")
    assert report["energy"]["steps"] == list(range(model.rounds + 1))
    text = text_report(report)
    assert "the energy of the ego embedding R⁽⁰⁾ (k = 0) and each round's" in text
    from graff.analyze import write_analysis

    _, files = write_analysis(tmp_path / "run-h2gcn", out=tmp_path / "h2")
    assert sorted(f.name for f in files) == ["analysis.json", "energy.png", "report.txt"]
    from graff.train import MODELS, register_model

    register_model("steps", _Steps, (), "test entry", unbatched="a test model")
    try:
        steps, _, _ = analyze_run(_train(tmp_path, "steps"), split=0)
    finally:
        MODELS._entries.pop("steps")
    assert steps["energy"]["steps"] == [0, 1] and steps["predicted_regime"] == "not predicted"
    assert "the features its forward hands to callback(k, t, F) at each step" in text_report(steps)


def test_refuses_a_checkpoint_that_is_not_the_splits_own(tmp_path: Path) -> None:
    """Split 1's checkpoint copied over split 0's fits the config, and was analysed as split
    0's; the split's record and checksum are now checked, as load_run checks them."""
    run_dir = _train(tmp_path)
    analyze_run(run_dir, split=0)  # intact: reported
    (run_dir / "split_0.pt").write_bytes((run_dir / "split_1.pt").read_bytes())
    with pytest.raises(RunDirError, match=r"split_0\.pt is damaged \(its sha256 differs"):
        analyze_run(run_dir, split=0)
    assert analyze_run(run_dir, split=1)[0]["split"] == 1  # the other split is intact
    (run_dir / "split_1.json").unlink()
    with pytest.raises(RunDirError, match=r"split_1\.json is missing or damaged; train the run"):
        analyze_run(run_dir, split=1)


@pytest.mark.parametrize("name", ["grand", "cgnn", "pde_gcn"])
def test_a_continuous_model_is_measured_along_its_ode(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """GRAND, CGNN and PDE-GCN_D runs were refused (no list of layers): their energy is now
    recorded at t = 0, τ, …, T along the solve, with the paper's "never HFD" proposition and,
    for CGNN and PDE-GCN_D, what their explicit Euler step does at graph frequency ρ_Δ."""
    from graff.energy import normalized_dirichlet_energy, spectral_radius

    out = _train(tmp_path, name)
    report, model, response = analyze_run(out, split=0)
    assert response is None and "layers" not in report and "w_eigenvalues" not in report
    assert report["ode"] == {"method": "euler", "T": 2.5, "step_size": 0.5}
    assert report["energy"]["times"] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    assert report["predicted_regime"] == "never HFD"
    d = prepare_data(load_dataset("csbm", **PARAMS))
    with torch.no_grad():
        f0 = model.encoder(d.x)
        direct = normalized_dirichlet_energy(f0.double(), d.edge_index, self_loops=True)
    assert report["energy"]["normalized_dirichlet"][0] == pytest.approx(float(direct))
    summary = json.loads((out / "summary.json").read_text())
    assert 100 * report["test_accuracy"] == pytest.approx(summary["test"][0])
    rho = spectral_radius(d.edge_index, d.x.size(0), self_loops=True)
    assert report["rho_delta"] == pytest.approx(rho)
    step = report.get("euler_step")
    if name == "grand":
        assert step is None
    else:
        with torch.no_grad():
            if name == "pde_gcn":
                eig = torch.linalg.eigvalsh((model.k.t() @ model.k).double())
                at_rho = (1 - 0.5 * rho * eig).abs().max()
            else:
                eig = torch.linalg.eigvalsh(model.omega().double())
                at_rho = (1 + 0.5 * (eig - rho)).abs().max()
        assert step["largest_at_rho"] == pytest.approx(float(at_rho))
        hfd = step["largest_at_rho"] > step["largest_at_zero"]
        assert step["regime"] == ("HFD" if hfd else "LFD")
    assert main(["analyze", str(out), "--no-plots", "--out", str(tmp_path / "a")]) == 0
    text = capsys.readouterr().out
    assert "along its ODE at t = 0, τ, …, T (T = 2.5, τ = 0.5, solver euler)" in text
    assert "predicted regime: never HFD (the paper's proposition" in text
    assert ("explicit Euler step" in text) == (name != "grand")


@pytest.mark.parametrize("name", ["appnp", "gprgnn"])
def test_a_polynomial_filter_is_measured_along_its_propagation(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """APPNP and GPR-GNN runs were refused (their propagation is one module): the energy is
    recorded after each of their K steps/hops, and their filter Σ c_j Āʲ is evaluated over
    the graph frequencies, its gain at 0 and ρ_Δ checked against a dense Ā here."""
    from graff.nn import gcn_adjacency

    out = _train(tmp_path, name)
    report, model, _ = analyze_run(out, split=0)
    p = report["propagation"]
    assert report["energy"]["steps"] == list(range(11)) and p["K"] == 10
    d = prepare_data(load_dataset("csbm", **PARAMS))
    a = gcn_adjacency(d.edge_index, d.x.size(0)).to_dense().double()
    lam = torch.linalg.eigvalsh(torch.eye(a.size(0), dtype=torch.float64) - a)
    filt = sum(c * torch.linalg.matrix_power(a, j) for j, c in enumerate(p["coefficients"]))
    # Ā's eigenvectors diagonalise the filter: its gains at the extreme frequencies
    vecs = torch.linalg.eigh(torch.eye(a.size(0), dtype=torch.float64) - a).eigenvectors
    gains = torch.diagonal(vecs.t() @ filt @ vecs)
    assert report["rho_delta"] == pytest.approx(float(lam[-1]), abs=1e-6)
    assert p["gain_at_zero"] == pytest.approx(float(gains[0]), abs=1e-6)
    assert p["gain_at_rho"] == pytest.approx(float(gains[-1]), abs=1e-6)
    if name == "appnp":  # personalised PageRank: gain 1 at frequency 0, low-pass
        assert p["gain_at_zero"] == pytest.approx(1.0) and report["predicted_regime"] == "low-pass"
    else:
        assert p["coefficients"] == pytest.approx(model.gamma.detach().double().tolist())
    summary = json.loads((out / "summary.json").read_text())
    assert 100 * report["test_accuracy"] == pytest.approx(summary["test"][0])
    assert main(["analyze", str(out), "--out", str(tmp_path / "a")]) == 0
    assert {f.name for f in (tmp_path / "a").glob("*.png")} == {"energy.png", "filter.png"}
    text = capsys.readouterr().out
    assert "after each of its K = 10 " in text and f": {report['predicted_regime']}\n" in text


def test_an_euler_step_past_its_stability_limit_is_hfd_directed() -> None:
    """The proposition is about the ODE: an explicit Euler step of PDE-GCN_D with
    τρ_Δμ_max > 2 multiplies the top graph frequency by |1 − τρ_Δμ| > 1 and the energy
    climbs towards the HFD limit; within the limit the step smooths, as the ODE does."""
    from graff.analyze import _euler_step
    from graff.energy import EnergyTrajectory, measured_regime, spectral_radius
    from graff.nn import PDEGCND

    data = prepare_data(load_dataset("csbm", **PARAMS))
    n, ei = data.x.size(0), data.edge_index
    rho = spectral_radius(ei, n, self_loops=True)
    for mu, regime in ((1 / rho, "LFD"), (3 / rho, "HFD")):  # KᵀK = μI: τρ_Δμ = 1, then 3
        torch.manual_seed(0)
        model = PDEGCND(8, 6, 3, T=30.0, step_size=1.0).eval()
        with torch.no_grad():
            model.k.copy_(mu**0.5 * torch.eye(6))
        step = _euler_step(model, rho)
        assert step is not None and step["regime"] == regime
        assert step["largest_at_rho"] == pytest.approx(abs(1 - rho * mu), abs=1e-6)
        record = EnergyTrajectory(ei, n, self_loops=True)
        with torch.no_grad():
            model(data.x, ei, callback=record)
        # the HFD limit is approached slowly (the top graph frequencies lie close together)
        assert measured_regime(record, rho, tol=0.01).regime == regime
    # T < τ: the one step taken is of T (τρμ = 3 with τ = 1, but 0.3 with the step of 0.1)
    short = PDEGCND(8, 6, 3, T=0.1, step_size=1.0)
    with torch.no_grad():
        short.k.copy_((3 / rho) ** 0.5 * torch.eye(6))
    step = _euler_step(short, rho)
    assert step is not None and step["step"] == 0.1 and step["regime"] == "LFD"


def test_a_filter_that_keeps_every_frequency_is_called_flat() -> None:
    """K = 0 (no propagation): the gain is the same at every frequency, not "low-pass"."""
    from graff.analyze import _filter_terms
    from graff.nn import GPRGNN, APPNPNet

    for model in (APPNPNet(4, 8, 2, K=0), GPRGNN(4, 8, 2, K=0)):
        assert _filter_terms(model, 1.5)["predicted_regime"] == "flat (all-pass)"
    assert _filter_terms(APPNPNet(4, 8, 2, K=3), 1.5)["predicted_regime"] == "low-pass"
    gpr = GPRGNN(4, 8, 2, K=1, gamma=[0.0, 1.0])  # g(λ) = 1 − λ: largest in size at 0
    assert _filter_terms(gpr, 1.5)["predicted_regime"] == "low-pass"
    gpr = GPRGNN(4, 8, 2, K=1, gamma=[0.0, -1.0])  # |g| the same; g(λ) = λ − 1 at 1.9: 0.9
    assert _filter_terms(gpr, 1.9)["predicted_regime"] == "low-pass"
    gpr = GPRGNN(4, 8, 2, K=1, gamma=[1.0, -1.0])  # g(λ) = λ: high-pass
    assert _filter_terms(gpr, 1.5)["predicted_regime"] == "high-pass"
    gpr = GPRGNN(4, 8, 2, K=2, gamma=[0.0, 0.0, -1.0])  # g = −(1 − λ)²: peak 1 at 0, 0.25 at 1.5
    assert _filter_terms(gpr, 1.5)["predicted_regime"] == "low-pass"
    gpr = GPRGNN(4, 8, 2, K=2, gamma=[0.0, 1.0, -1.0])  # g = (1−λ)λ: zero at both ends
    assert _filter_terms(gpr, 1.0)["predicted_regime"] == "band-pass"


def test_any_other_model_is_measured_layer_by_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A GCN run (graff analyze refused every model but GRAFF): the energy of X and after each
    of its two layers, the last being the logits the run scored, on the graph with the
    self-loops the GCN applies; its score is the run's; an energy plot and no W plots."""
    from graff.energy import normalized_dirichlet_energy

    out = _train(tmp_path, "gcn")
    report, model, response = analyze_run(out, split=1)
    assert response is None and "w_eigenvalues" not in report
    assert report["model"] == "gcn" and report["layers"] == ["convs.0", "convs.1"]
    assert report["energy"]["steps"] == [0, 1, 2]
    d = prepare_data(load_dataset("csbm", **PARAMS))
    with torch.no_grad():
        logits = model(d.x, d.edge_index)
    for step, features in ((0, d.x), (2, logits)):
        direct = normalized_dirichlet_energy(features.double(), d.edge_index, self_loops=True)
        assert report["energy"]["normalized_dirichlet"][step] == pytest.approx(float(direct))
    assert (
        report["measured"]["last_normalized_energy"] == report["energy"]["normalized_dirichlet"][-1]
    )
    summary = json.loads((out / "summary.json").read_text())
    assert 100 * report["test_score"] == pytest.approx(summary["test"][1], abs=1e-4)
    dest = tmp_path / "analysis"
    assert main(["analyze", str(out), "--out", str(dest), "--split", "1"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"gcn run {out} (split 1), dataset csbm\n  not a GRAFF")
    assert "after each of its 2 layers (convs.0, convs.1)" in text
    assert "measured regime after the last layer:" in text and "per layer)" in text
    assert sorted(p.name for p in dest.iterdir()) == ["analysis.json", "energy.png", "report.txt"]


def test_what_analyze_does_is_decided_by_the_model_not_its_name(tmp_path: Path) -> None:
    """A GRAFF registered under another name gets GRAFF's report; the no-residual ablation
    gets the prediction of the non-residual map (and no frequency response, which describes
    the residual step)."""
    from graff.nn import GRAFF
    from graff.nn.stacked import GRAFFStack
    from graff.train import MODELS, register_model

    register_model("flow_net", GRAFF, MODELS["graff"].fields, "test entry", stack=GRAFFStack)
    try:
        flow, _, response = analyze_run(_train(tmp_path, "flow_net"))
    finally:
        MODELS._entries.pop("flow_net")
    assert flow["residual"] and "w_eigenvalues" in flow and response is not None
    nores, _, response = analyze_run(_train(tmp_path, "graff_nores"))
    assert not nores["residual"] and response is None and "frequency_response" not in nores
    assert nores["predicted_condition"] == "non-residual F ← τĀFW: LFD iff ρ_Δ < 2"
    assert "predicted regime: LFD (non-residual F ← τĀFW: LFD iff ρ_Δ < 2 — holds)" in (
        text_report(nores)
    )


def test_an_npz_run_is_analysed_from_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run of npz:relative/path finds its graph from any working folder (the run records
    it absolute); once the file has moved, the error's fix (--data-dir NEW_PLACE) works."""
    import numpy as np

    d = prepare_data(load_dataset("csbm", **PARAMS))
    work = tmp_path / "work"
    work.mkdir()
    arrays = {k: getattr(d, k).numpy() for k in ("x", "y", "edge_index")}
    masks = {k: getattr(d, k).numpy() for k in ("train_mask", "val_mask", "test_mask")}
    np.savez(work / "g.npz", **arrays, **masks)
    monkeypatch.chdir(work)
    cfg = RunConfig()
    cfg.data.dataset = "npz:g.npz"
    cfg.model.hidden, cfg.model.T, cfg.model.step_size, cfg.optim.epochs = 6, 2.0, 0.5, 10
    run(cfg, None, "out")
    summary = json.loads((work / "out" / "summary.json").read_text())

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    report, _, _ = analyze_run(work / "out", split=1)
    assert 100 * report["test_accuracy"] == pytest.approx(summary["test"][1], abs=1e-4)

    (work / "g.npz").rename(elsewhere / "g.npz")
    with pytest.raises(RunDirError, match=r"g\.npz.*moved or deleted.*--data-dir PATH"):
        analyze_run(work / "out")
    report, _, _ = analyze_run(work / "out", split=1, data_dir=str(elsewhere))
    assert 100 * report["test_accuracy"] == pytest.approx(summary["test"][1], abs=1e-4)
    assert main(["analyze", str(work / "out"), "--data-dir", str(elsewhere / "g.npz"),
                 "--no-plots", "--out", str(tmp_path / "a")]) == 0  # fmt: skip


def test_a_roc_auc_run_of_a_nonlinear_graff_is_reported_in_its_terms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A binary graph scored by ROC-AUC: the report's test score is the run's metric (it printed
    the accuracy, a number the run's summary does not hold), and the prediction of a step with
    a ReLU and per-channel standardisation says it is the linear flow's."""
    import numpy as np

    d = prepare_data(load_dataset("csbm", **{**PARAMS, "num_classes": 2}))
    arrays = {k: getattr(d, k).numpy() for k in ("x", "y", "edge_index")}
    masks = {k: getattr(d, k).numpy() for k in ("train_mask", "val_mask", "test_mask")}
    np.savez(tmp_path / "g.npz", **arrays, **masks)
    monkeypatch.chdir(tmp_path)
    cfg = RunConfig()
    cfg.data.dataset, cfg.data.params = "npz:g.npz", {"metric": "roc_auc"}
    cfg.model.hidden, cfg.model.T, cfg.model.step_size, cfg.optim.epochs = 6, 2.0, 0.5, 10
    cfg.model.nonlinear = cfg.model.step_norm = True
    run(cfg, None, "out")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["metric"] == "roc_auc"
    report, _, _ = analyze_run(tmp_path / "out", split=0)
    assert report["metric"] == "roc_auc"
    assert 100 * report["test_score"] == pytest.approx(summary["test"][0], abs=1e-4)
    text = text_report(report)
    assert f"test ROC-AUC of this split: {100 * report['test_score']:.2f} % (accuracy " in text
    assert (
        "predicted regime (of the linear flow; this run's step adds a ReLU on each increment "
        "(GRAFF-NL) and each increment standardised per channel (step_norm)): "
    ) in text

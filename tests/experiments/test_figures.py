"""Tests of ``graff figure`` (graff.experiments): the registry, every figure in --quick mode."""

from __future__ import annotations

import csv
import importlib
import math
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from graff import experiments
from graff.cli import _render, main
from graff.registry import UnknownNameError


@pytest.fixture(autouse=True)
def _wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_render.out, "_width", 250)
    monkeypatch.setattr(_render.err, "_width", 250)


def _figure(name: str, out: Path, *extra: str, data_dir: Path | None = None) -> None:
    args = ["figure", name, "--quick", "--out", str(out), "--no-progress", *extra]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]
    assert main(args) == 0


def _read(out: Path, name: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    png = out / f"{name}.png"
    assert png.stat().st_size > 1000
    with Image.open(png) as im:
        assert im.size[0] > 100 and im.size[1] > 100
    with (out / f"{name}.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == columns
        rows = list(reader)
    assert rows
    return rows


def _in_unit(value: str) -> bool:
    v = float(value)
    return 0.0 <= v <= 1.0


def test_unknown_figure_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["figure", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown figure 'nope'" in err
    for name in experiments.FIGURES:
        assert name in err
    assert not any(tmp_path.iterdir())


def test_each_figure_module_registers_its_make() -> None:
    assert len(experiments.FIGURES) == len(experiments.MODULES)
    by_module = {spec.module: spec for spec in experiments.FIGURES.values()}
    for name in experiments.MODULES:
        module = importlib.import_module(f"graff.experiments.{name}")
        spec = by_module[module.__name__]
        assert spec.make is module.make
        assert experiments.FIGURES[spec.name] is spec and spec.summary


def test_make_figure_unknown_name_lists_the_figures(tmp_path: Path) -> None:
    opts = experiments.FigureOptions(out=tmp_path, quick=True, progress=False)
    with pytest.raises(UnknownNameError, match="unknown figure 'spectra'") as info:
        experiments.make_figure("spectra", opts)
    assert "Did you mean spectrum" in str(info.value)
    assert all(name in str(info.value) for name in experiments.FIGURES)


def test_duplicate_figure_name_is_refused() -> None:
    spec = experiments.FIGURES["depth"]
    with pytest.raises(ValueError, match="figure 'depth' is already registered"):
        experiments.register_figure("depth", "again")(spec.make)


def test_fit_is_fit_split_with_the_best_model_rebuilt() -> None:
    """A figure's fit is split k of ``graff train`` (same scores as fit_split), and the rebuilt
    model in eval mode gives the scores of the best-validation epoch again."""
    import torch

    from graff.data import csbm
    from graff.experiments._common import fit, run_config
    from graff.train import ModelConfig, OptimConfig, evaluate, fit_split, prepare_data

    data = prepare_data(csbm(num_nodes=80, num_classes=3, num_features=8, num_splits=2, seed=1))
    cfg = run_config(ModelConfig(hidden=8, T=2.0), OptimConfig(lr=0.02, epochs=15), seed=3)
    state = torch.get_rng_state()
    f = fit(cfg, data, 1)
    assert torch.equal(torch.get_rng_state(), state)  # rebuilding leaves the global RNG alone
    ref = fit_split(cfg, data, 1)
    assert (f.result.test, f.result.val, f.result.best_epoch) == (
        ref.test,
        ref.val,
        ref.best_epoch,
    )
    assert not f.model.training
    masks = {"val": data.val_mask[:, 1], "test": data.test_mask[:, 1]}
    with torch.no_grad():
        scores, _ = evaluate(f.model, f.x, data.edge_index, data.y, masks, data.metric)
    assert scores == {"val": ref.val, "test": ref.test}


def test_importing_graff_and_the_figures_leaves_matplotlib_unloaded() -> None:
    """The library core never imports the figures, and the figures import matplotlib only
    when they draw."""
    code = (
        "import sys, graff.cli, graff.train, graff.nn, graff.analyze\n"
        "assert 'graff.experiments' not in sys.modules, 'core imported graff.experiments'\n"
        "import graff.experiments\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib')\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_particles_quick(tmp_path: Path) -> None:
    from graff.experiments import particles

    _figure("particles", tmp_path)
    rows = _read(tmp_path, "particles", particles.COLUMNS)
    with Image.open(tmp_path / "particles.gif") as gif:
        assert gif.n_frames > 1
    assert {r["run"] for r in rows} == {"attractive", "repulsive"}
    energies: dict[str, dict[int, float]] = {}
    for r in rows:
        e = float(r["normalized_energy"])
        assert 0.0 <= e <= 1.0
        assert math.isfinite(float(r["x"])) and math.isfinite(float(r["y"]))
        energies.setdefault(r["run"], {})[int(r["step"])] = e
    last = {run: e[max(e)] for run, e in energies.items()}
    # Attraction (W ⪰ 0) smooths, repulsion (W ⪯ 0) sharpens: the paper's Figure 2.
    assert last["attractive"] < last["repulsive"]
    assert energies["attractive"][max(energies["attractive"])] < energies["attractive"][0]


@pytest.fixture(scope="module")
def syn_cora_out(tmp_path_factory: pytest.TempPathFactory, shared_data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("figures")
    _figure("syn-cora", out, data_dir=shared_data_dir)
    return out


@pytest.mark.shared_data
def test_syn_cora_quick(syn_cora_out: Path) -> None:
    from graff.experiments import syn_cora

    rows = _read(syn_cora_out, "syn-cora", syn_cora.COLUMNS)
    s = syn_cora.settings(quick=True)
    assert {r["model"] for r in rows} == {"sum", "prod", "neg_prod", "dd", "gcn"}
    assert len(rows) == 5 * len(s.levels) * len(s.replicas)
    for r in rows:
        assert _in_unit(r["test_acc"]) and _in_unit(r["val_acc"]) and _in_unit(r["pred_homophily"])
        assert abs(float(r["graph_homophily"]) - float(r["homophily"])) < 0.05
        if r["model"] == "gcn":
            assert r["encoder_pred_homophily"] == "nan"
        else:
            assert _in_unit(r["encoder_pred_homophily"])
    # On the perfectly homophilous graph every model is nearly right.
    assert all(float(r["test_acc"]) > 0.8 for r in rows if float(r["homophily"]) == 1.0)


@pytest.mark.shared_data
def test_prediction_homophily_reuses_syn_cora_fits(
    syn_cora_out: Path, shared_data_dir: Path
) -> None:
    from graff.experiments import prediction_homophily, syn_cora

    _figure("prediction-homophily", syn_cora_out, data_dir=shared_data_dir)
    rows = _read(syn_cora_out, "prediction-homophily", prediction_homophily.COLUMNS)
    assert {r["fits_from"] for r in rows} == {"syn-cora.csv"}
    with (syn_cora_out / "syn-cora.csv").open(newline="") as fh:
        fits = {(r["model"], r["homophily"]): r for r in csv.DictReader(fh)}
    for r in rows:
        assert _in_unit(r["true_homophily"]) and _in_unit(r["pred_homophily"])
        assert _in_unit(r["encoder_pred_homophily"])
        assert r["pred_homophily"] == fits[(r["w_type"], r["homophily"])]["pred_homophily"]
    assert {r["w_type"] for r in rows} == set(syn_cora.GRAFF_VARIANTS)


@pytest.mark.shared_data
def test_spectrum_quick(tmp_path: Path, shared_data_dir: Path) -> None:
    from graff.experiments import spectrum

    _figure("spectrum", tmp_path, data_dir=shared_data_dir)
    rows = _read(tmp_path, "spectrum", spectrum.COLUMNS)
    assert sorted(r["dataset"] for r in rows) == sorted(spectrum.QUICK_DATASETS)
    homophily = [float(r["edge_homophily"]) for r in rows]
    assert homophily == sorted(homophily)
    for r in rows:
        eig = [float(v) for v in r["eigenvalues"].split()]
        assert eig == sorted(eig)
        assert math.isclose(eig[0], float(r["lambda_min"]), rel_tol=1e-4, abs_tol=1e-6)
        assert int(r["n_positive"]) + int(r["n_negative"]) <= len(eig)
        assert r["predicted_regime"] in ("LFD", "HFD", "undetermined")
        assert 0.0 < float(r["rho_delta"]) <= 2.0
        assert float(r["measured_energy_end"]) >= 0.0


@pytest.mark.shared_data
def test_depth_quick(tmp_path: Path, shared_data_dir: Path) -> None:
    from graff.experiments import depth

    _figure("depth", tmp_path, data_dir=shared_data_dir)
    rows = _read(tmp_path, "depth", depth.COLUMNS)
    s = depth.settings(quick=True)
    assert len(rows) == len(s.datasets) * len(s.depths) * len(depth.MODELS)
    assert {r["model"] for r in rows} == set(depth.MODELS)
    for r in rows:
        assert r["status"] in ("ok", "diverged")
        if r["status"] == "ok":
            assert _in_unit(r["test_acc"])
            assert 0.0 <= float(r["normalized_energy"]) <= float(r["hfd_limit"]) + 1e-6
        if r["model"] != "gcn":
            assert math.isclose(float(r["T"]), int(r["depth"]) * s.step_size)


@pytest.mark.shared_data
def test_runtime_quick(tmp_path: Path, shared_data_dir: Path) -> None:
    from graff.experiments import runtime

    _figure("runtime", tmp_path, data_dir=shared_data_dir)
    rows = _read(tmp_path, "runtime", runtime.COLUMNS)
    assert [int(r["depth"]) for r in rows] == list(runtime.settings(quick=True).depths)
    for r in rows:
        graff_ms, gcn_ms = float(r["graff_ms"]), float(r["gcn_ms"])
        assert graff_ms > 0 and gcn_ms > 0
        assert math.isclose(float(r["ratio"]), graff_ms / gcn_ms, rel_tol=1e-4)
        assert r["mode"] == "inference"

"""tools/ship_tuned.py: a finished search against the shipped config, decided on validation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from graff.configs import configs_dir
from graff.train import load_config
from graff.tune import tune
from tests.tools import load_script


def _tool():  # type: ignore[no-untyped-def]
    return load_script("tools/ship_tuned.py", "ship_tuned")


@pytest.mark.shared_data
@pytest.mark.slow
def test_compare_and_ship(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_data_dir: Path
) -> None:
    configs = tmp_path / "configs"
    shutil.copytree(configs_dir(), configs)
    monkeypatch.setenv("GRAFF_CONFIGS", str(configs))
    before = (configs / "mlp" / "texas.yaml").read_text()
    search = tmp_path / "runs" / "tune" / "texas-mlp"
    tune("texas", "mlp", trials=2, splits=2, out_dir=search, overrides=["optim.epochs=3"],
         plots=False)  # fmt: skip
    tool = _tool()
    cell = tool.compare(search, tmp_path / "shipped")
    assert (cell.model, cell.dataset, cell.trials) == ("mlp", "texas", 2)
    assert 0 < cell.shipped_val <= 100 and 0 < cell.tuned_val <= 100
    assert not cell.same  # 3 epochs: not the shipped config
    assert cell.row().startswith("| mlp | texas |")
    # the decision is validation's: force each outcome
    cell.tuned_val, cell.shipped_val = 10.0, 20.0
    assert not cell.tuned_wins and cell.row().endswith("| shipped wins |")
    cell.tuned_val, cell.shipped_val = 90.0, 20.0
    path = tool.ship(cell, search)
    assert path == configs / "mlp" / "texas.yaml" and path.read_text() != before
    cfg = load_config(path).validate()
    assert cfg.optim.epochs == 3 and cfg.data.dataset == "texas"
    assert str(tmp_path) not in cfg.provenance and "runs/tune/texas-mlp" in cfg.provenance
    assert "90.00" in cfg.provenance and "20.00" in cfg.provenance


@pytest.mark.shared_data
@pytest.mark.slow
def test_a_search_that_chose_the_shipped_config_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_data_dir: Path
) -> None:
    """Trial 0 is the shipped config; when it wins, run-to-run noise between the final run
    and the shipped run must not ship a 'new' config that is the old one."""
    monkeypatch.setenv("GRAFF_CONFIGS", str(shutil.copytree(configs_dir(), tmp_path / "c")))
    search = tmp_path / "runs" / "tune" / "texas-mlp"
    tune("texas", "mlp", trials=1, splits=1, out_dir=search, plots=False)  # the base trial
    tool = _tool()
    cell = tool.compare(search, tmp_path / "shipped")
    assert cell.same
    cell.tuned_val, cell.shipped_val = 90.0, 20.0  # as if noise favoured the final run
    assert not cell.tuned_wins and cell.row().endswith("| shipped wins (the search chose it) |")


def test_shipping_graff_keeps_the_ablation_in_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new GRAFF config carries GRAFF-without-residual's config along (same settings,
    patience 50), and names the config it replaced."""
    configs = tmp_path / "configs"
    shutil.copytree(configs_dir(), configs)
    monkeypatch.setenv("GRAFF_CONFIGS", str(configs))
    search = tmp_path / "runs" / "tune" / "texas-graff"
    search.mkdir(parents=True)
    best = load_config(configs / "graff" / "texas.yaml")
    old_prov = " ".join(best.provenance.split())
    best.model.hidden, best.optim.lr = 32, 0.0123
    best.provenance = f"Chosen by graff tune: study in journal file {search}/study.journal."
    from graff.train.config import config_to_dict

    (search / "best.yaml").write_text(yaml.safe_dump(config_to_dict(best)))
    tool = _tool()
    cell = tool.Cell("graff", "texas", 80.0, "70 ± 1", 90.0, "75 ± 1", 20, "60 s")
    tool.ship(cell, search)
    graff = load_config(configs / "graff" / "texas.yaml").validate()
    nores = load_config(configs / "graff_nores" / "texas.yaml").validate()
    assert (graff.model.hidden, graff.optim.lr) == (32, 0.0123)
    assert f"The config it replaced: {old_prov}" in graff.provenance
    assert nores.model.name == "graff_nores" and nores.optim.patience == tool.NORES_PATIENCE
    nores.model.name = "graff"
    assert nores.model == graff.model and nores.data == graff.data
    assert (nores.optim.lr, nores.optim.epochs) == (graff.optim.lr, graff.optim.epochs)
    assert "configs/graff/texas.yaml" in nores.provenance and "Ablation" in nores.provenance
    assert "command: graff tune --dataset texas --model graff --trials 20" in graff.provenance


def test_the_provenance_names_repository_files_relatively_and_the_search_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configs = tmp_path / "configs"
    shutil.copytree(configs_dir(), configs)
    monkeypatch.setenv("GRAFF_CONFIGS", str(configs))
    search = tmp_path / "runs" / "heterophily" / "texas-mlp"
    search.mkdir(parents=True)
    tool = _tool()
    best = load_config(configs / "mlp" / "texas.yaml")
    space = tool.REPO_ROOT / "benchmarks" / "heterophily" / "spaces" / "graff.yaml"
    best.provenance = f"Chosen by graff tune from the space {space}, on top of its config."
    from graff.train.config import config_to_dict

    (search / "best.yaml").write_text(yaml.safe_dump(config_to_dict(best)))
    cell = tool.Cell("mlp", "texas", 80.0, "70 ± 1", 90.0, "75 ± 1", 40, "60 s")
    tool.ship(cell, search, "benchmarks/heterophily/search.sh mlp texas")
    prov = load_config(configs / "mlp" / "texas.yaml").provenance
    assert "from the space benchmarks/heterophily/spaces/graff.yaml," in prov
    assert str(tool.REPO_ROOT) not in prov
    assert "command: benchmarks/heterophily/search.sh mlp texas." in prov


def test_an_unfinished_search_is_refused_before_anything_trains(tmp_path: Path) -> None:
    """A folder without best.yaml, or whose final run has not finished, is named with what it
    lacks (it was a FileNotFoundError or ConfigError traceback, after the shipped config of
    an earlier folder in the list had trained)."""
    empty, unfinished = tmp_path / "empty", tmp_path / "unfinished"
    empty.mkdir()
    unfinished.mkdir()
    (unfinished / "best.yaml").write_text("model: {name: gcn}\n")
    with pytest.raises(SystemExit, match=r"empty is not a finished .* best\.yaml or final/sum"):
        _tool().main([str(empty)])
    with pytest.raises(SystemExit, match=r"unfinished is not a finished .*\(no final/summary"):
        _tool().main([str(unfinished)])

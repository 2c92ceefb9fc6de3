"""benchmarks/heterophily/energy.py: graff analyze's reports tabulated beside each other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from graff.analyze import write_analysis
from graff.data import load_dataset
from graff.train import RunConfig, prepare_data, run
from graff.train.rundir import read_config_yaml
from tests.tools import load_script

PARAMS = {"num_nodes": 120, "num_features": 6, "num_classes": 3, "num_splits": 1, "seed": 2}


def _tool():  # type: ignore[no-untyped-def]
    return load_script("benchmarks/heterophily/energy.py", "heterophily_energy")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """energy.sh's layout, <runs>/<dataset>-<model>/analysis/, from two tiny csbm runs filed
    under the names of a benchmark graph."""
    root = tmp_path_factory.mktemp("energy")
    data = prepare_data(load_dataset("csbm", **PARAMS))
    for model in ("graff", "gcn"):
        cfg = RunConfig()
        cfg.data.dataset, cfg.data.params = "csbm", dict(PARAMS)
        cfg.model.name, cfg.model.hidden, cfg.optim.epochs = model, 6, 5
        out = root / f"tolokers-{model}"
        run(cfg, data, out)
        write_analysis(out, out=out / "analysis", plots=False)
    return root


def test_rows_are_the_reports_numbers(runs: Path) -> None:
    table = _tool()
    rows = table.read(runs)
    assert [(r["dataset"], r["model"]) for r in rows] == [
        ("tolokers", "graff"),
        ("tolokers", "gcn"),
    ]
    for r in rows:
        report = json.loads((runs / f"tolokers-{r['model']}/analysis/analysis.json").read_text())
        energy = report["energy"]["normalized_dirichlet"]
        assert r["energy"] == energy and (r["first"], r["last"]) == (energy[0], energy[-1])
        assert r["low"] == min(energy) and r["high"] == max(energy)
        assert r["test_split0"] == pytest.approx(100 * report["test_score"])
        assert r["adjusted_homophily"] == report["homophily"]["graph_adjusted"]
    graff, gcn = rows
    assert graff["predicted"] in {"LFD", "HFD", "undetermined"} and "predicted" not in gcn
    assert gcn["depth"] == "2 layers" and graff["depth"].endswith(" steps")
    md = table.markdown(rows).splitlines()
    assert len(md) == 4 and md[2].startswith("| tolokers (") and "| GRAFF |" in md[2]
    assert "| GCN |" in md[3] and md[3].endswith("| — | — | — |")


def test_main_writes_the_table_json_and_figure(runs: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "energy.md"
    monkeypatch.setattr("sys.argv", ["energy.py", "--runs", str(runs), "--out", str(out)])
    _tool().main()
    assert out.read_text().count("\n") == 4
    assert len(json.loads(out.with_suffix(".json").read_text())) == 2
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setattr("sys.argv", ["energy.py", "--runs", str(tmp_path / "none")])
    with pytest.raises(SystemExit, match=r"run energy\.sh"):
        _tool().main()


def test_rows_carry_their_config_and_previous_rows_of_shipped_configs_are_kept(
    runs: Path,
) -> None:
    """A pair without a run keeps its previous row only while that row is of the config
    shipped now; a row of a replaced config is refused, naming the PAIRS to retrain."""
    table = _tool()
    rows = table.read(runs)
    recorded = read_config_yaml(runs / "tolokers-gcn" / "config.yaml")["config"]
    assert rows[1]["config_sha256"] == table.identity_sha256(recorded)
    shipped = table.shipped_sha256("minesweeper", "sage")
    assert shipped != rows[1]["config_sha256"]  # the csbm run is not minesweeper's config
    earlier = {**rows[1], "dataset": "minesweeper", "model": "sage", "config_sha256": shipped}
    replaced = {**rows[0], "energy": [9.0]}  # a pair with a run now: its run's row wins
    kept = table.carry(rows, [replaced, earlier])
    assert [(r["dataset"], r["model"]) for r in kept] == [
        ("minesweeper", "sage"),
        ("tolokers", "graff"),
        ("tolokers", "gcn"),
    ]
    assert kept[1]["energy"] == rows[0]["energy"]
    stale = {**earlier, "config_sha256": "0" * 16}
    with pytest.raises(SystemExit, match=r'PAIRS="sage:minesweeper" benchmarks/heterophily'):
        table.carry(rows, [stale])
    with pytest.raises(SystemExit, match="sage:minesweeper"):  # a row from before the record
        table.carry(rows, [{k: v for k, v in earlier.items() if k != "config_sha256"}])


@pytest.mark.slow
@pytest.mark.shared_data
def test_energy_sh_trains_again_a_run_of_a_replaced_config(
    shared_data_dir: Path, tmp_path: Path
) -> None:
    """energy.sh kept any split_0.pt it found, so a run of a config since replaced by a
    shipped search was analysed as if it were the shipped one; it now trains that split again,
    and keeps (analyses only) a run of the config shipped now."""
    out = tmp_path / "texas-graff"
    env = {
        **os.environ,
        "GRAFF_DATA": str(shared_data_dir),
        "OMP_NUM_THREADS": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PAIRS": "graff:texas",
        "RUNS": str(tmp_path),
    }
    old = ["--set", "optim.epochs=2"]  # a config other than the shipped one
    graff = [sys.executable, "-m", "graff", "train", "--dataset", "texas", "--threads", "1"]
    subprocess.run(
        [*graff, "--set", "data.splits=[0]", *old, "--no-progress", "--out", str(out)],
        env=env,
        check=True,
        capture_output=True,
    )
    script = Path(__file__).parents[2] / "benchmarks" / "heterophily" / "energy.sh"

    def energy_sh() -> str:
        done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    first = energy_sh()
    assert "graff on texas: training split 0" in first and "the run there: other" in first
    assert read_config_yaml(out / "config.yaml")["config"]["optim"]["epochs"] != 2
    assert "training" not in energy_sh()  # the shipped config's run is kept
    assert (out / "analysis" / "analysis.json").is_file()

"""benchmarks/heterophily/epochs/compare.py: a shorter epoch cap read from a longer run's
curves is the run the shorter cap trains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graff import cli
from tests.tools import load_script


def _train(out: Path, epochs: int) -> None:
    args = ["train", "--dataset", "csbm", "--model", "graff", "--set", f"optim.epochs={epochs}",
            "--set", "optim.patience=1000", "--set", "data.splits=[0,1]", "--threads", "1",
            "--no-progress", "--out", str(out)]  # fmt: skip
    assert cli.main(args) == 0


def test_the_shorter_cap_from_the_longer_runs_curves_is_the_shorter_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tool = load_script("benchmarks/heterophily/epochs/compare.py", "heterophily_epochs")
    _train(tmp_path / "long", 24)
    _train(tmp_path / "short", 12)
    rows = tool.compare(tmp_path / "long", cap=12)
    assert [r["split"] for r in rows] == [0, 1]
    for r in rows:
        short = json.loads((tmp_path / "short" / f"split_{r['split']}.json").read_text())
        assert (r["cap_val"], r["cap_test"], r["cap_best_epoch"]) == (
            short["val"],
            short["test"],
            short["best_epoch"],
        )
        assert r["cap_best_epoch"] <= 12 and r["best_epoch"] <= 24
    capsys.readouterr()
    assert tool.main([str(tmp_path / "long"), "--cap", "12"]) == 0
    assert "2 split(s); cap 24: validation" in capsys.readouterr().out
    history = tmp_path / "long" / "history_1.csv"
    history.write_text(history.read_text().replace(",", ";", 1))  # edited curves: refused
    with pytest.raises(SystemExit, match=r"split_1\.json"):
        tool.compare(tmp_path / "long", cap=12)

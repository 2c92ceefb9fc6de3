"""Run directories: --overwrite never loses anything, damaged files are detected, umask is kept,
and every split is what an independent recomputation from its own masks and seed gives."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import torch

from graff.data import csbm
from graff.errors import DivergenceError, RunDirError
from graff.train import (
    PreparedData,
    RunConfig,
    build_model,
    prepare_data,
    read_summary,
    run,
    train_split,
)
from graff.train.runner import model_features


@pytest.fixture(scope="module")
def data3() -> PreparedData:
    return prepare_data(
        csbm(num_nodes=150, num_classes=3, num_features=8, num_splits=3, avg_degree=4.0, seed=4)
    )


def _cfg(**optim: Any) -> RunConfig:
    cfg = RunConfig()
    cfg.model.hidden, cfg.model.T, cfg.model.dropout = 8, 2.0, 0.2
    cfg.optim.epochs, cfg.optim.lr = 4, 0.02
    for k, v in optim.items():
        setattr(cfg.optim, k, v)
    return cfg.validate()


def _diverging() -> RunConfig:
    cfg = _cfg(lr=10.0)
    cfg.model.w_type, cfg.model.T, cfg.model.step_size = "sum", 100.0, 5.0
    return cfg.validate()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_overwrite_of_a_folder_that_is_not_a_run_deletes_nothing(
    data3: PreparedData, tmp_path: Path
) -> None:
    """A user's folder with files named like ours (config.yaml, summary.json) is refused, even
    with overwrite, and keeps every byte."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "config.yaml").write_text("my: own config\n")
    (out / "summary.json").write_text('{"my": "summary"}')
    before = _snapshot(out)
    with pytest.raises(RunDirError, match="not a graff run directory"):
        run(_cfg(), data3, out, overwrite=True)
    assert _snapshot(out) == before


def test_failed_overwrite_leaves_the_finished_run_intact(
    data3: PreparedData, tmp_path: Path
) -> None:
    """--overwrite trains beside the old run: a new run that fails at epoch 1 changes nothing."""
    out = tmp_path / "run"
    run(_cfg(), data3, out)
    before = _snapshot(out)
    with pytest.raises(DivergenceError):
        run(_diverging(), data3, out, overwrite=True)
    assert _snapshot(out) == before
    assert read_summary(out)["config"]["optim"]["lr"] == 0.02


def test_successful_overwrite_replaces_run_files_and_keeps_the_users(
    data3: PreparedData, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    run(_cfg(), data3, out)
    (out / "notes.txt").write_text("mine")
    (out / "analysis").mkdir()
    (out / "analysis" / "report.txt").write_text("from graff analyze")
    summary = run(_cfg(lr=0.05), data3, out, overwrite=True)
    assert read_summary(out)["config"]["optim"]["lr"] == 0.05
    assert json.loads((out / "summary.json").read_text())["mean"] == summary.mean
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "analysis" / "report.txt").exists()
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # sibling removed


def test_garbage_checkpoint_makes_the_split_run_again(data3: PreparedData, tmp_path: Path) -> None:
    """An unfinished run whose checkpoint is garbage is not complete: that split is retrained
    (to the same numbers), the others are kept."""
    out = tmp_path / "run"
    full = run(_cfg(), data3, out)
    (out / "summary.json").unlink()
    (out / "split_1.pt").write_bytes(b"garbage")
    kept = (out / "split_0.pt").stat().st_mtime_ns
    again = run(_cfg(), data3, out)
    assert again.test == full.test
    assert (out / "split_0.pt").stat().st_mtime_ns == kept
    torch.load(out / "split_1.pt", weights_only=True)  # a real checkpoint again


@pytest.mark.parametrize("victim", ["summary.json", "split_2.json", "split_0.pt"])
def test_damaged_finished_run_is_reported(data3: PreparedData, tmp_path: Path, victim: str) -> None:
    out = tmp_path / "run"
    run(_cfg(), data3, out)
    (out / victim).write_bytes(b"\x00\x01{not json")
    with pytest.raises(RunDirError, match=r"damaged.*--overwrite"):
        read_summary(out)


def test_run_files_follow_the_umask(data3: PreparedData, tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        run(_cfg(), data3, tmp_path / "run")
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "run").iterdir()}
    assert set(modes.values()) == {0o640}, modes


def test_out_under_a_file_is_a_clear_error(data3: PreparedData, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match="cannot write the run directory"):
        run(_cfg(), data3, tmp_path / "file" / "run")
    with pytest.raises(RunDirError, match="is a file"):
        run(_cfg(), data3, tmp_path / "file")


def test_each_split_equals_an_independent_recomputation(data3: PreparedData) -> None:
    """Split k of run() is train_split on split k's own masks from seed cfg.seed + k: catches
    a runner that reuses one seed for every split or swaps the train and validation masks."""
    cfg = _cfg()
    cfg.seed = 11
    summary = run(cfg, data3)
    for i, k in enumerate(range(data3.num_splits)):
        torch.manual_seed(cfg.seed + k)
        model = build_model(cfg.model, data3.x.size(1), data3.num_classes)
        res = train_split(
            model,
            model_features(model, data3.x),
            data3.edge_index,
            data3.y,
            data3.train_mask[:, k],
            data3.val_mask[:, k],
            data3.test_mask[:, k],
            cfg.optim,
        )
        assert summary.val[i] == 100.0 * res.val
        assert summary.test[i] == 100.0 * res.test
        assert summary.best_epochs[i] == res.best_epoch
    # the splits differ (not one seed for all), and the masks are the split's own
    assert len({tuple(data3.train_mask[:, k].tolist()) for k in range(3)}) == 3

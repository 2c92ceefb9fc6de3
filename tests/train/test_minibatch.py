"""Tests of ``optim.mode: precomputed``: linear GRAFF trained on node mini-batches of the rows
of S = Ā^k [X, 1] (graff.train.minibatch), through the same run() and run directories as
full-graph training.

With one batch of every training node and no dropout, an epoch of the precomputed mode is
the full mode's step (the same parameters, the same gradient up to summation order), so
both modes must give the same splits; smaller batches must still learn, write the same run
directory, and give models that load back into full-graph GRAFF with the recorded scores.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from graff.data import csbm
from graff.errors import ConfigError
from graff.train import ModelConfig, OptimConfig, PreparedData, RunConfig, prepare_data
from graff.train.config import DataConfig
from graff.train.load import load_run
from graff.train.runner import estimate_memory_bytes, fit_splits, run


@pytest.fixture(scope="module")
def data() -> PreparedData:
    return prepare_data(
        csbm(num_nodes=150, num_classes=3, num_features=12, num_splits=3, avg_degree=4.0, seed=5)
    ).to(torch.device("cpu"))


def _cfg(mode: str = "precomputed", batch_size: int | None = None, **model: object) -> RunConfig:
    fields = {"name": "graff", "w_type": "dd", "omega_type": "diag", "T": 2.5, "step_size": 1.0}
    return RunConfig(
        data=DataConfig(dataset="csbm"),
        model=ModelConfig(hidden=8, **{**fields, **model}),  # type: ignore[arg-type]
        optim=OptimConfig(
            lr=0.05, weight_decay=1e-3, epochs=25, patience=8, mode=mode, batch_size=batch_size
        ),
        seed=3,
    )


@pytest.mark.parametrize(
    "model",
    [
        {},
        {"w_type": "sum", "omega_type": "sym", "time_dependent": True, "learn_beta": False},
        {"name": "graff_nores", "w_type": "diag", "beta": 0.3},
    ],
    ids=["dd", "sum-sym-timedep", "no-residual"],
)
def test_one_batch_without_dropout_trains_as_the_full_graph(
    data: PreparedData, model: dict[str, object]
) -> None:
    full = _cfg("full", **model)
    pre = _cfg("precomputed", **model)
    a = fit_splits(full, data, [0, 1], batch=1)
    b = fit_splits(pre, data, [0, 1])
    for ra, rb in zip(a, b, strict=True):
        assert (ra.best_epoch, ra.epochs_run) == (rb.best_epoch, rb.epochs_run)
        assert (ra.val, ra.test, ra.train) == pytest.approx((rb.val, rb.test, rb.train))
        assert ra.state_dict.keys() == rb.state_dict.keys()
        for key, value in ra.state_dict.items():
            torch.testing.assert_close(value, rb.state_dict[key], rtol=1e-4, atol=1e-5)


def test_mini_batches_learn_and_the_run_directory_loads_into_full_graff(
    data: PreparedData, tmp_path: Path
) -> None:
    cfg = _cfg(batch_size=16, input_dropout=0.2, dropout=0.1)
    cfg.optim.epochs, cfg.optim.patience = 15, None
    losses: list[float] = []
    summary = run(
        cfg,
        data,
        tmp_path / "run",
        on_epoch=lambda k, e, sc: losses.append(sc["loss"]) if k == 0 else None,
    )
    assert len(losses) == 15 and losses[-1] < 0.8 * losses[0]
    # 3 balanced classes (chance 33 %); the full mode gets 49 % on these 30-node test sets
    assert summary.mean > 40.0
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"summary.json", "config.yaml", "history_0.csv", "split_2.json"} <= files
    record = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert record["config"]["optim"]["mode"] == "precomputed"
    loaded = load_run(tmp_path / "run")
    for k in range(3):
        scores = loaded.evaluate(k, data)  # full-graph GRAFF with the saved parameters
        assert scores["test"] == pytest.approx(summary.test[k], abs=1e-6)
    # a larger batch is a different run: fewer optimiser steps, other numbers
    other = run(dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, batch_size=64)), data)
    assert other.val != summary.val


def test_s_on_disk_gives_the_in_memory_run(data: PreparedData, tmp_path: Path) -> None:
    cfg = _cfg(batch_size=32)
    cfg.data.splits = [1]
    a = run(cfg, data)
    b = run(cfg, data, precomputed_dir=tmp_path / "S")
    assert (tmp_path / "S").is_dir() and any((tmp_path / "S").iterdir())
    assert a.test == b.test and a.val == b.val and a.best_epochs == b.best_epochs
    c = run(cfg, data, precomputed_dir=tmp_path / "S")  # reuses the stored S
    assert c.test == a.test


def test_s_precomputed_before_the_run_is_not_checked_again(
    data: PreparedData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """graff train fills the folder first (its own progress bar), then run(): the folder is
    checked once (Ā built and the graph hashed once), not again for every split."""
    from graff.scale import store
    from graff.train.minibatch import precompute_for

    calls = []
    fingerprint = store._fingerprint
    monkeypatch.setattr(store, "_fingerprint", lambda *a: calls.append(1) or fingerprint(*a))
    cfg = _cfg(batch_size=32)
    cfg.data.splits = [0, 2]
    precompute_for(cfg, data, tmp_path / "S", progress=False)
    summary = run(cfg, data, precomputed_dir=tmp_path / "S")
    assert len(calls) == 1 and len(summary.test) == 2
    other = _cfg(batch_size=32, T=1.5)  # other steps: other S, checked (and refused)
    other.data.splits = [0]
    with pytest.raises(Exception, match="steps"):
        run(other, data, precomputed_dir=tmp_path / "S")
    assert len(calls) == 2


def test_memory_estimate_counts_s_not_the_steps(data: PreparedData) -> None:
    pre, full = _cfg(), _cfg("full")
    n, p = data.x.shape
    steps = 3  # ⌈2.5 / 1.0⌉
    assert estimate_memory_bytes(pre, data) >= n * (steps + 1) * (p + 1) * 4
    big = _cfg(T=40.0)
    assert estimate_memory_bytes(big, data) > estimate_memory_bytes(pre, data)
    assert estimate_memory_bytes(full, data) != estimate_memory_bytes(pre, data)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"model": {"name": "gcn"}}, ["optim.mode", "'gcn'", "graff", "optim.mode=full"]),
        ({"model": {"nonlinear": True}}, ["nonlinear", "GRAFF-NL", "drop nonlinear"]),
        ({"model": {"encoder_layers": 2}}, ["encoder_layers", "MLP encoder"]),
        ({"model": {"step_norm": True}}, ["step_norm"]),
        ({"optim": {"mode": "full", "batch_size": 8}}, ["optim.batch_size", "precomputed"]),
        ({"optim": {"batch_size": 0}}, ["optim.batch_size", "positive"]),
        ({"optim": {"mode": "minibatch"}}, ["optim.mode", "full, precomputed"]),
    ],
)
def test_what_cannot_be_precomputed_is_refused_naming_the_option(
    change: dict[str, dict[str, object]], words: list[str]
) -> None:
    cfg = _cfg()
    for section, values in change.items():
        for key, value in values.items():
            setattr(getattr(cfg, section), key, value)
    with pytest.raises(ConfigError) as err:
        cfg.validate()
    for word in words:
        assert word in str(err.value)


def test_cli_refuses_precomputed_baseline_in_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "graff",
            "train",
            "--dataset",
            "csbm",
            "--model",
            "gcn",
            "--mode",
            "precomputed",
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "optim.mode = 'precomputed' is invalid for model 'gcn'" in proc.stderr
    assert not (tmp_path / "r").exists()

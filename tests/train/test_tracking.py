"""Tests of graff.train.tracking: the TensorBoard event files hold what the run computed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from graff.data import csbm
from graff.errors import ConfigError, MissingExtraError
from graff.registry import UnknownNameError
from graff.train import PreparedData, RunConfig, prepare_data, run
from graff.train.tracking import (
    TensorBoardLogger,
    combine_hooks,
    flatten_config,
    parse_trackers,
)

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

EPOCHS = 5


@pytest.fixture(scope="module")
def data3() -> PreparedData:
    """A small csbm with 3 splits."""
    return prepare_data(
        csbm(num_nodes=120, num_classes=3, num_features=8, num_splits=3, avg_degree=4.0, seed=2)
    )


def _cfg() -> RunConfig:
    cfg = RunConfig()
    cfg.data.params = {"homophily": 0.3}
    cfg.model.hidden = 8
    cfg.model.T = 2.0
    cfg.model.dropout = 0.2
    cfg.optim.epochs = EPOCHS
    cfg.optim.lr = 0.02
    return cfg.validate()


def _accumulator(folder: Path) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def _hparams(acc: EventAccumulator) -> dict[str, Any]:
    content = acc.PluginTagToContent("hparams")
    start = HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    out: dict[str, Any] = {}
    for name, value in start.session_start_info.hparams.items():
        out[name] = value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
    return out


@pytest.mark.parametrize("batch", [None, 1], ids=["side-by-side", "one-at-a-time"])
def test_event_files_hold_every_epoch_and_the_config(
    data3: PreparedData, tmp_path: Path, batch: int | None
) -> None:
    """Each split's curves in the event files equal the scores the run's hook saw at every
    epoch (metrics in percent), and the root run holds the config as hyperparameters with
    the summary's mean and std as their metrics."""
    cfg = _cfg()
    seen: dict[int, dict[int, dict[str, float]]] = {}

    def record(k: int, epoch: int, scores: dict[str, float]) -> None:
        seen.setdefault(k, {})[epoch] = dict(scores)

    log_dir = tmp_path / "tb"
    with TensorBoardLogger(log_dir, cfg, metric=data3.metric) as tb:
        summary = run(cfg, data3, batch=batch, on_epoch=combine_hooks(record, tb))
        tb.finish(summary)

    assert sorted(p.name for p in log_dir.iterdir() if p.is_dir()) == [
        "split_0",
        "split_1",
        "split_2",
    ]
    for k in range(3):
        acc = _accumulator(log_dir / f"split_{k}")
        tags = set(acc.Tags()["scalars"])
        assert tags == {"loss/train", "accuracy/train", "accuracy/val", "accuracy/test"}
        loss = acc.Scalars("loss/train")
        assert [e.step for e in loss] == list(range(1, EPOCHS + 1))
        for e in loss:
            assert e.value == pytest.approx(seen[k][e.step]["loss"], rel=1e-6)
        for mask in ("train", "val", "test"):
            events = acc.Scalars(f"accuracy/{mask}")
            assert [e.step for e in events] == list(range(1, EPOCHS + 1))
            for e in events:
                assert e.value == pytest.approx(100 * seen[k][e.step][mask], rel=1e-6)

    root = _accumulator(log_dir)
    hp = _hparams(root)
    assert hp["model.hidden"] == 8
    assert hp["model.w_type"] == "dd"
    assert hp["optim.lr"] == pytest.approx(0.02)
    assert hp["data.params.homophily"] == pytest.approx(0.3)
    assert hp["data.splits"] == "None"
    assert hp["n_splits"] == 3
    scalars = {t: root.Scalars(t)[0].value for t in root.Tags()["scalars"]}
    assert scalars["hparam/test_mean"] == pytest.approx(summary.mean, rel=1e-6)
    assert scalars["hparam/test_std"] == pytest.approx(summary.std, rel=1e-6)
    assert scalars["hparam/val_mean"] == pytest.approx(sum(summary.val) / 3, rel=1e-6)


def test_split_folders_appear_only_with_the_first_epoch(tmp_path: Path) -> None:
    """A logger inside a run directory writes nothing until an epoch is logged (run() opens
    the directory first and refuses a non-empty folder that is not a run); close is
    idempotent."""
    tb = TensorBoardLogger(tmp_path / "run" / "tb")
    assert not (tmp_path / "run").exists()
    tb(2, 1, {"loss": 1.5, "train": 0.5, "val": 0.25, "test": 0.75})
    tb.close()
    tb.close()
    acc = _accumulator(tmp_path / "run" / "tb" / "split_2")
    assert [(e.step, e.value) for e in acc.Scalars("metric/val")] == [(1, 25.0)]


def test_writers_beyond_the_limit_are_closed_and_reopened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With more splits than MAX_OPEN writers, the least recently used is closed and its
    split's later epochs still reach the same folder, and TensorBoard shows them: event files
    opened in the same second sort by an unpadded counter ("…10" before "…9"), and a reopened
    file read first had its steps purged as a restart (a CI flake; the counter is set here to
    cross 9 → 10 between a split's two files, and the logger waits for the next second)."""
    from tensorboard.summary.writer import event_file_writer

    monkeypatch.setattr(event_file_writer._global_uid, "_value", 7)
    monkeypatch.setattr(TensorBoardLogger, "MAX_OPEN", 2)
    with TensorBoardLogger(tmp_path) as tb:
        for epoch in (1, 2):
            for k in range(3):
                tb(k, epoch, {"loss": float(k), "train": 0.1, "val": 0.2, "test": 0.3})
            assert len(tb._writers) == 2
    for k in range(3):
        events = _accumulator(tmp_path / f"split_{k}").Scalars("loss/train")
        assert [(e.step, e.value) for e in events] == [(1, k), (2, k)]


def test_a_rerun_replaces_the_curves_of_the_splits_it_trains(tmp_path: Path) -> None:
    """A second logger on the same folder (a resumed or overwritten run) hides the earlier
    curve of each split it trains, from epoch 1 on, and leaves the other splits' curves."""

    def scores(v: float) -> dict[str, float]:
        return {"loss": v, "train": 0.5, "val": 0.5, "test": 0.5}

    with TensorBoardLogger(tmp_path) as first:
        for epoch in range(1, 6):
            first(0, epoch, scores(1.0))
            first(1, epoch, scores(1.0))
    with TensorBoardLogger(tmp_path) as second:
        for epoch in range(1, 4):
            second(1, epoch, scores(2.0))
    kept = _accumulator(tmp_path / "split_0").Scalars("loss/train")
    assert [(e.step, e.value) for e in kept] == [(e, 1.0) for e in range(1, 6)]
    redone = _accumulator(tmp_path / "split_1").Scalars("loss/train")
    assert [(e.step, e.value) for e in redone] == [(e, 2.0) for e in range(1, 4)]


def test_flatten_config() -> None:
    cfg = _cfg()
    flat = flatten_config(cfg)
    assert flat["model.T"] == 2.0
    assert flat["optim.patience"] == "None"
    assert flat["data.params.homophily"] == 0.3
    assert not any(isinstance(v, dict | list) for v in flat.values())
    assert flatten_config({"a": {"b": [1, 2]}, "c": True}) == {"a.b": "[1, 2]", "c": True}


def test_combine_hooks_calls_each_in_order() -> None:
    calls: list[tuple[str, int]] = []
    hook = combine_hooks(lambda x: calls.append(("a", x)), None, lambda x: calls.append(("b", x)))
    hook(7)
    assert calls == [("a", 7), ("b", 7)]


def test_parse_trackers() -> None:
    assert parse_trackers("tensorboard") == ["tensorboard"]
    assert parse_trackers(" tensorboard, tensorboard ") == ["tensorboard"]
    with pytest.raises(UnknownNameError, match=r"unknown tracker 'mlfow'.*tensorboard"):
        parse_trackers("tensorboard,mlfow")
    with pytest.raises(ConfigError, match="tensorboard"):
        parse_trackers(" , ")


def test_missing_tensorboard_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(MissingExtraError, match=r"graff-gnn\[track\]"):
        TensorBoardLogger("unused")


# -- graff train --log ----------------------------------------------------------------------------
def test_cli_train_log_tensorboard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`graff train --log tensorboard` writes RUN/tb with one run per split whose curves have
    an entry per epoch, and the config and results as hyperparameters."""
    from graff.cli import main

    out = tmp_path / "run"
    args = ["train", "--dataset", "csbm", "--set", "data.params.num_nodes=100"]
    args += ["--set", "data.params.num_splits=2", "--set", "model.hidden=8"]
    args += ["--set", f"optim.epochs={EPOCHS}", "--out", str(out), "--no-progress", "--json"]
    assert main([*args, "--log", "tensorboard"]) == 0
    summary = json.loads(capsys.readouterr().out)
    tb = out / "tb"
    for k in (0, 1):
        acc = _accumulator(tb / f"split_{k}")
        assert len(acc.Scalars("accuracy/val")) == EPOCHS
    root = _accumulator(tb)
    assert _hparams(root)["model.hidden"] == 8
    assert root.Scalars("hparam/test_mean")[0].value == pytest.approx(summary["mean"], rel=1e-6)


def test_cli_log_dir_and_bad_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--log-dir puts the event files elsewhere; an unknown tracker is one line naming the
    choices, before any training; --log-dir without --log is refused."""
    from graff.cli import main

    out, logs = tmp_path / "run", tmp_path / "logs"
    args = ["train", "--dataset", "csbm", "--set", "data.params.num_nodes=80"]
    args += ["--set", "data.params.num_splits=1", "--set", "model.hidden=4"]
    args += ["--set", "optim.epochs=2", "--out", str(out), "--no-progress"]
    assert main([*args, "--log", "mlflow"]) == 2
    err = capsys.readouterr().err
    assert "unknown tracker 'mlflow'" in err and "tensorboard" in err
    assert not out.exists()
    assert main([*args, "--log", ""]) == 2
    assert "--log is given an empty value" in capsys.readouterr().err
    assert main([*args, "--log", ","]) == 2
    assert "--log needs a tracker name: one of tensorboard" in capsys.readouterr().err
    assert main([*args, "--log-dir", str(logs)]) == 2
    assert "--log" in capsys.readouterr().err
    assert main([*args, "--log", "tensorboard", "--log-dir", str(logs)]) == 0
    assert (logs / "split_0").is_dir() and not (out / "tb").exists()

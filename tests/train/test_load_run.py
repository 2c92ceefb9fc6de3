"""graff.load_run: a finished run read back gives exactly what the run recorded: each split's
model scores its recorded test score, each history's best-validation epoch is the record's,
and the data is found from any working folder; incomplete or damaged runs are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

import graff
from graff.data import csbm, dataset_source
from graff.train import (
    History,
    LoadedRun,
    PreparedData,
    RunConfig,
    RunDirError,
    load_config,
    load_run,
    prepare_data,
    run,
)
from graff.train.load import run_data
from graff.train.rundir import MARKER

PARAMS = {"num_nodes": 120, "num_classes": 3, "num_features": 6, "num_splits": 3, "seed": 2}


def _cfg(dataset: str = "csbm", **params: object) -> RunConfig:
    cfg = RunConfig()
    cfg.data.dataset = dataset
    cfg.data.params = dict(params)
    cfg.model.hidden, cfg.model.T, cfg.model.dropout = 8, 2.0, 0.2
    cfg.optim.epochs, cfg.optim.lr = 8, 0.02
    return cfg.validate()


@pytest.fixture(scope="module")
def data() -> PreparedData:
    return prepare_data(csbm(**PARAMS))


@pytest.mark.parametrize("batch", [1, None], ids=["per-split", "side-by-side"])
def test_round_trip_gives_the_recorded_scores(
    data: PreparedData, tmp_path: Path, batch: int | None
) -> None:
    """load_run → each split's model, evaluated on its own split, scores exactly the
    recorded test (and validation) score; the histories agree with the records."""
    out = tmp_path / "run"
    summary = run(_cfg(**PARAMS), data, out, batch=batch)
    loaded = graff.load_run(out)
    assert isinstance(loaded, LoadedRun)
    assert graff.load_run is load_run
    assert loaded.config.model.hidden == 8
    assert loaded.splits == summary.splits == [0, 1, 2]
    assert loaded.summary["mean"] == summary.mean
    for i, k in enumerate(loaded.splits):
        model = loaded.model(k)
        assert not model.training
        scores = loaded.evaluate(k, data)
        assert scores["test"] == summary.test[i]
        assert scores["val"] == summary.val[i]
        h = loaded.history(k)
        assert isinstance(h, History)
        assert h.metric == "accuracy"
        assert h.epoch == list(range(1, 9))
        best = h.best_epoch()
        assert best == loaded.records[k]["best_epoch"] == summary.best_epochs[i]
        assert h.val[best - 1] == loaded.records[k]["val"] == summary.val[i]
        assert h.test[best - 1] == loaded.records[k]["test"] == summary.test[i]
    assert set(loaded.histories) == set(loaded.models) == {0, 1, 2}


def test_history_file_is_a_plain_csv(data: PreparedData, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(_cfg(**PARAMS), data, out)
    lines = (out / "history_1.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss,train_accuracy,val_accuracy,test_accuracy"
    assert len(lines) == 1 + 8
    assert lines[1].split(",")[0] == "1"


def test_histories_are_kept_on_resume(data: PreparedData, tmp_path: Path) -> None:
    """A resumed run keeps the finished splits' histories byte for byte."""
    out = tmp_path / "run"
    run(_cfg(**PARAMS), data, out)
    kept = (out / "history_0.csv").read_bytes()
    for f in ("summary.json", "split_2.json"):
        (out / f).unlink()
    run(_cfg(**PARAMS), data, out)
    assert (out / "history_0.csv").read_bytes() == kept
    load_run(out).history(2)


def test_loads_the_data_it_was_trained_on(data: PreparedData, tmp_path: Path) -> None:
    """Without data: the dataset is built from the recorded config (csbm: generated)."""
    out = tmp_path / "run"
    summary = run(_cfg(**PARAMS), data, out)
    loaded = load_run(out)
    assert loaded.data_source == {"kind": "generated", "path": None}
    assert loaded.evaluate(0)["test"] == summary.test[0]


def test_a_bf16_run_is_evaluated_in_bf16(
    data: PreparedData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run trained with optim.precision=bf16 recorded its scores under autocast; loading it
    back scores it the same way (the precision reaches the evaluation), and the recorded
    test scores come back."""
    import graff.train.load as load_module

    out = tmp_path / "run"
    cfg = _cfg(**PARAMS)
    cfg.optim.precision = "bf16"
    summary = run(cfg, data, out)
    loaded = load_run(out)
    assert loaded.config.optim.precision == "bf16"
    seen: list[str] = []
    real = load_module.evaluate

    def spy(*args: Any) -> Any:
        seen.append(args[6] if len(args) > 6 else "fp32")
        return real(*args)

    monkeypatch.setattr(load_module, "evaluate", spy)
    assert [loaded.evaluate(k)["test"] for k in summary.splits] == summary.test
    assert seen == ["bf16"] * len(summary.splits)


def _npz(path: Path, data: PreparedData) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        x=data.x.numpy(),
        y=data.y.numpy(),
        edge_index=data.edge_index.numpy(),
        train_mask=data.train_mask.numpy(),
        val_mask=data.val_mask.numpy(),
        test_mask=data.test_mask.numpy(),
    )


def test_relative_npz_path_is_recorded_absolute(
    data: PreparedData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run of npz:relative/path records the absolute path and sha256; it loads (and
    resumes as the same run) from another working folder; a moved file is a clear error
    whose fix (data_dir = its new place) works, and a different file is refused."""
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    elsewhere.mkdir()
    _npz(work / "graphs" / "g.npz", data)
    monkeypatch.chdir(work)
    cfg = _cfg("npz:graphs/g.npz")
    summary = run(cfg, None, "out")
    assert cfg.data.dataset == "npz:graphs/g.npz"  # the caller's config is not changed
    absolute = str(work / "graphs" / "g.npz")
    meta = yaml.safe_load((work / "out" / "config.yaml").read_text())
    assert meta["config"]["data"]["dataset"] == f"npz:{absolute}"
    assert meta["data_source"]["kind"] == "npz" and meta["data_source"]["path"] == absolute
    s = json.loads((work / "out" / "summary.json").read_text())
    assert s["data_source"] == meta["data_source"]
    assert s["graph"]["num_features"] == PARAMS["num_features"]
    assert load_config(work / "out" / "config.yaml").data.dataset == f"npz:{absolute}"

    monkeypatch.chdir(elsewhere)
    loaded = load_run(work / "out")
    assert loaded.evaluate(1)["test"] == summary.test[1]
    with pytest.raises(RunDirError, match="already holds a complete run"):  # same run
        run(_cfg(f"npz:{absolute}"), None, work / "out")

    moved = tmp_path / "moved"
    moved.mkdir()
    (work / "graphs" / "g.npz").rename(moved / "g.npz")
    with pytest.raises(RunDirError, match=r"g\.npz.*not there any more.*--data-dir"):
        load_run(work / "out").data()
    assert load_run(work / "out", data_dir=str(moved)).evaluate(2)["test"] == summary.test[2]
    other = moved / "other" / "g.npz"
    _npz(other, prepare_data(csbm(**{**PARAMS, "seed": 3})))
    with pytest.raises(RunDirError, match="is not the graph"):
        load_run(work / "out").data(str(other))


def test_refuses_incomplete_and_damaged_runs(data: PreparedData, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(RunDirError, match=r"not a run directory \(no such folder\)"):
        load_run(out)
    run(_cfg(**PARAMS), data, out)
    # a file of the run where its folder belongs: named as a file, with the folder to pass
    with pytest.raises(RunDirError, match=r"\(a file, not a folder\); pass the run directory"):
        load_run(out / "summary.json")
    (out / "history_1.csv").write_text("epoch,loss\n")
    with pytest.raises(RunDirError, match=r"history_1\.csv is damaged.*--overwrite"):
        load_run(out)
    (out / "summary.json").unlink()
    with pytest.raises(RunDirError, match=r"no complete run.*--out"):
        load_run(out)


def test_no_scratch_marker_is_left_behind(data: PreparedData, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(_cfg(**PARAMS), data, out)
    run(_cfg(**PARAMS), data, out, overwrite=True)
    assert not list(tmp_path.rglob(MARKER))
    assert load_run(out).history(0).best_epoch() == load_run(out).records[0]["best_epoch"]


def test_repr_is_one_line(data: PreparedData, tmp_path: Path) -> None:
    run(_cfg(**PARAMS), data, tmp_path / "run")
    text = repr(load_run(tmp_path / "run"))
    assert text.startswith("LoadedRun(") and "graff on csbm, 3 splits" in text
    assert "\n" not in text and len(text) < 200


def test_resume_refuses_a_user_graph_that_changed(
    data: PreparedData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unfinished run on npz:PATH whose file was replaced by another graph is not resumed
    (its finished splits were trained on the old one)."""
    monkeypatch.chdir(tmp_path)
    _npz(tmp_path / "g.npz", data)
    run(_cfg("npz:g.npz"), None, "out")
    (tmp_path / "out" / "summary.json").unlink()
    _npz(tmp_path / "g.npz", prepare_data(csbm(**{**PARAMS, "seed": 3})))
    with pytest.raises(RunDirError, match=r"g\.npz changed since the run.*--overwrite"):
        run(_cfg("npz:g.npz"), None, "out")
    run(_cfg("npz:g.npz"), None, "out", overwrite=True)
    assert load_run("out").evaluate(0)["test"] == load_run("out").summary["test"][0]


@pytest.mark.shared_data
def test_a_registered_dataset_is_found_where_the_run_recorded_it(
    shared_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder holding texas's raw files is recorded; with no --data-dir and no
    $GRAFF_DATA, the data is read from there."""
    source = dataset_source("texas", {}, shared_data_dir)
    assert source == {"kind": "files", "path": str(shared_data_dir.absolute())}
    monkeypatch.delenv("GRAFF_DATA", raising=False)
    assert dataset_source("texas", {}, None)["path"] is None  # not in the user cache
    cfg = _cfg("texas")
    assert run_data(cfg, source).num_splits == 10


def test_splits_are_integers_and_a_pyg_graph_is_prepared_as_the_run_prepared_its_own(
    tmp_path: Path,
) -> None:
    """``evaluate("0")`` said "has no split 0"; a raw PyG graph given to ``evaluate`` was
    scored without the run's feature normalisation (a silently different number); a graph
    with fewer splits than k failed on an index."""
    raw = csbm(**PARAMS)
    raw.x = raw.x.abs()  # row normalisation takes non-negative features
    _npz(tmp_path / "g.npz", prepare_data(raw))
    cfg = _cfg(f"npz:{tmp_path / 'g.npz'}")
    cfg.data.normalize_features = True
    cfg.optim.epochs = 60  # a model that has learnt something, for the scores to differ
    out = tmp_path / "run"
    summary = run(cfg, prepare_data(raw, normalize_features=True), out)
    loaded = load_run(out)
    for bad in ("0", 1.0, True, torch.tensor(1.0)):
        with pytest.raises(TypeError, match=r"a split is an integer, one of \[0, 1, 2\]"):
            loaded.evaluate(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="a split is an integer"):
            loaded.history(bad)  # type: ignore[arg-type]
    assert loaded.evaluate(np.int64(1)) == loaded.evaluate(1)  # type: ignore[arg-type]
    scores = loaded.evaluate(1, raw)
    assert scores == loaded.evaluate(1) and scores["test"] == pytest.approx(summary.test[1])
    assert loaded.evaluate(1, prepare_data(raw)) != scores  # normalisation changes the scores
    one = raw.clone()
    for m in ("train_mask", "val_mask", "test_mask"):
        one[m] = raw[m][:, 0]
    with pytest.raises(RunDirError, match="has 1 split"):
        loaded.evaluate(2, one)


def test_a_tune_study_folder_points_to_its_final_run(data: PreparedData, tmp_path: Path) -> None:
    """load_run / graff analyze on a graff tune folder said only "no config.yaml"."""
    study = tmp_path / "study"
    study.mkdir()
    (study / "study.json").write_text("{}")
    with pytest.raises(RunDirError, match="graff tune study without a final run yet"):
        load_run(study)
    run(_cfg(**PARAMS), data, study / "final")
    with pytest.raises(RunDirError, match=r"graff tune study, whose final run is .*final$"):
        load_run(study)
    assert load_run(study / "final").splits == [0, 1, 2]

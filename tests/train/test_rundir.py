"""Run directories: --overwrite never loses anything, damaged files are detected, umask is kept,
and every split is what an independent recomputation from its own masks and seed gives."""

from __future__ import annotations

import errno
import json
import os
import re
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
from graff.train.rundir import MARKER, RunDir
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


# -- graff deletes only what it made -----------------------------------------------------------
def test_a_users_folder_named_like_the_scratch_folder_is_never_deleted(
    data3: PreparedData, tmp_path: Path
) -> None:
    """--overwrite trains in .<name>.graff-new; a folder of that name that graff did not make
    (no graff mark, or a copy of graff's: another inode) is an error naming it, untouched."""
    out = tmp_path / "run"
    run(_cfg(), data3, out)
    mine = tmp_path / ".run.graff-new"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    (mine / "config.yaml").write_text("my: config\n")
    before, theirs = _snapshot(out), _snapshot(mine)
    with pytest.raises(RunDirError, match=r"\.run\.graff-new exists but graff did not make it"):
        run(_cfg(lr=0.05), data3, out, overwrite=True)
    assert _snapshot(mine) == theirs
    assert _snapshot(out) == before

    # a copy of a real graff mark does not make the folder graff's
    real = RunDir(tmp_path / "other")._scratch(_cfg(), {})
    (mine / MARKER).write_bytes((real / MARKER).read_bytes())
    with pytest.raises(RunDirError, match="graff did not make it"):
        run(_cfg(lr=0.05), data3, out, overwrite=True)
    assert (mine / "thesis.tex").exists()


def test_stale_scratch_folder_of_graff_is_reused_or_cleared(
    data3: PreparedData, tmp_path: Path
) -> None:
    """An interrupted overwrite leaves graff's marked folder: the same overwrite resumes in it,
    another config empties it (graff's files only) and starts again; either way it is gone
    after the run, and a file a user put there stops graff instead of being deleted."""
    out = tmp_path / "run"
    run(_cfg(), data3, out)
    sib = tmp_path / ".run.graff-new"
    with pytest.raises(DivergenceError):
        run(_diverging(), data3, out, overwrite=True)
    assert (sib / MARKER).is_file()
    run(_cfg(lr=0.05), data3, out, overwrite=True)  # another config: cleared, then trained
    assert not sib.exists()
    assert read_summary(out)["config"]["optim"]["lr"] == 0.05

    with pytest.raises(DivergenceError):
        run(_diverging(), data3, out, overwrite=True)
    (sib / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match=r"holds files graff did not write \(notes\.txt\)"):
        run(_cfg(), data3, out, overwrite=True)
    assert (sib / "notes.txt").read_text() == "mine"


# -- split records carry a checksum --------------------------------------------------------------
EDITED = r"split_1\.json does not match its checksum.*--overwrite"


def test_a_hand_edited_score_is_an_error_naming_the_file(
    data3: PreparedData, tmp_path: Path
) -> None:
    """A test score changed in split_1.json: read_summary and a resume both refuse, naming
    the file and --overwrite; the edit does not reach summary.json."""
    out = tmp_path / "run"
    run(_cfg(), data3, out)
    path = out / "split_1.json"
    rec = json.loads(path.read_text())
    rec["test"] = 99.0
    path.write_text(json.dumps(rec, indent=2))
    with pytest.raises(
        RunDirError, match=r"split_1\.json does not match its checksum.*--overwrite"
    ):
        read_summary(out)
    (out / "summary.json").unlink()  # an unfinished run: the resume refuses too
    with pytest.raises(
        RunDirError, match=r"split_1\.json does not match its checksum.*--overwrite"
    ):
        run(_cfg(), data3, out)
    assert not (out / "summary.json").exists()
    run(_cfg(), data3, out, overwrite=True)  # the fix it names works
    assert read_summary(out)["test"][1] != 99.0


def test_a_hand_edited_summary_is_an_error(data3: PreparedData, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(_cfg(), data3, out)
    s = json.loads((out / "summary.json").read_text())
    s["mean"] = 99.0
    (out / "summary.json").write_text(json.dumps(s))
    with pytest.raises(RunDirError, match=r"summary\.json does not match its checksum"):
        read_summary(out)


def test_records_without_a_checksum_are_retrained_on_resume_and_read_when_complete(
    data3: PreparedData, tmp_path: Path
) -> None:
    """A record of an older graff (no record_sha256): a complete run is still read; an
    unfinished one trains that split again, to the same numbers."""
    out = tmp_path / "run"
    full = run(_cfg(), data3, out)
    for k in range(3):
        path = out / f"split_{k}.json"
        rec = json.loads(path.read_text())
        del rec["record_sha256"]
        path.write_text(json.dumps(rec))
    assert read_summary(out)["test"] == full.test
    (out / "summary.json").unlink()
    assert run(_cfg(), data3, out).test == full.test
    assert "record_sha256" in json.loads((out / "split_0.json").read_text())


# -- output paths are checked before training ----------------------------------------------------
@pytest.mark.parametrize("name", ["summary.json", "config.yaml", "split_2.pt", "history_0.csv"])
def test_a_folder_where_a_run_file_goes_fails_before_training(
    data3: PreparedData, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "run"
    (out / name).mkdir(parents=True)
    started: list[int] = []
    with pytest.raises(RunDirError, match=rf"^{re.escape(str(out / name))} is a folder"):
        run(_cfg(), data3, out, on_split_start=lambda k, n: started.append(k))
    assert started == []
    assert sorted(p.name for p in out.iterdir()) == [name]


def test_summary_replaced_by_a_folder_in_a_finished_run_fails_before_training(
    data3: PreparedData, tmp_path: Path
) -> None:
    """The case of the issue: summary.json of a run replaced by a folder, then a resume or an
    overwrite: one line naming that path, nothing trained, no temporary file named."""
    out = tmp_path / "run"
    run(_cfg(), data3, out)
    (out / "summary.json").unlink()
    (out / "summary.json").mkdir()
    started: list[int] = []

    def hook(k: int, n: int) -> None:
        started.append(k)

    for overwrite in (False, True):
        with pytest.raises(RunDirError, match=r"summary\.json is a folder") as err:
            run(_cfg(lr=0.05), data3, out, overwrite=overwrite, on_split_start=hook)
        assert ".tmp" not in str(err.value) and "\n" not in str(err.value)
    assert started == []
    assert not (tmp_path / ".run.graff-new").exists()


def test_an_unwritable_run_folder_fails_before_training(
    data3: PreparedData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder graff may not write into: one line naming it, before training (as root,
    which writes anywhere, the refusal is simulated)."""
    out = tmp_path / "run"
    out.mkdir()
    out.chmod(0o555)
    if os.geteuid() == 0:

        def refuse(*args: Any, dir: str, **kwargs: Any) -> Any:
            raise PermissionError(errno.EACCES, "Permission denied", dir)

        monkeypatch.setattr("graff.train.rundir.tempfile.mkstemp", refuse)
    started: list[int] = []
    try:
        with pytest.raises(RunDirError, match=f"cannot write the run directory {out}"):
            run(_cfg(), data3, out, on_split_start=lambda k, n: started.append(k))
    finally:
        out.chmod(0o755)
    assert started == [] and list(out.iterdir()) == []


def test_finish_removes_only_graffs_files_from_the_scratch_folder(
    data3: PreparedData, tmp_path: Path
) -> None:
    """A file put into the scratch folder while the overwrite trains survives the swap: the
    run completes, the folder is left with a warning naming the file."""
    out = tmp_path / "run"
    run(_cfg(), data3, out)
    sib = tmp_path / ".run.graff-new"

    def drop(k: int, epoch: int, scores: dict[str, float]) -> None:
        (sib / "notes.txt").write_text("mine")

    with pytest.warns(RuntimeWarning, match=r"graff-new holds files graff did not write \(notes"):
        run(_cfg(lr=0.05), data3, out, overwrite=True, on_epoch=drop)
    assert read_summary(out)["config"]["optim"]["lr"] == 0.05
    assert sorted(p.name for p in sib.iterdir()) == [MARKER, "notes.txt"]


def test_one_writer_at_a_time_and_a_failed_run_lets_go(data3: PreparedData, tmp_path: Path) -> None:
    """A run folder another process is writing is refused, naming the holder (two `graff
    train --out X` at once both trained every split into it); the lock goes with the process
    or the run: a run that failed, a finished run, a folder left holding only the lock file."""
    import subprocess
    import sys
    import textwrap

    out = tmp_path / "run"
    holder = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from graff._io import FolderLock
        Path({str(out)!r}).mkdir()
        assert FolderLock(Path({str(out)!r})).acquire() is None
        print("held", flush=True)
        sys.stdin.read()
    """)
    other = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "held"
        with pytest.raises(
            RunDirError, match=rf"being written by another graff process \(pid {other.pid}:"
        ):
            run(_cfg(), data3, out)
    finally:
        other.communicate("")
    assert [p.name for p in out.iterdir()] == [".graff-lock"]  # not a foreign folder

    def fail(k: int, epoch: int, scores: dict[str, float]) -> None:
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        run(_cfg(), data3, out, on_epoch=fail)
    assert len(run(_cfg(), data3, out).splits) == 3  # the failed run let go of the folder
    with pytest.raises(RunDirError, match="already holds a complete run"):
        run(_cfg(), data3, out)  # and so did the finished one
    # a lock held in this process too: the same refusal (one writer per folder)
    rd = RunDir(out)
    rd.open(_cfg(), overwrite=True, splits=[0])
    with pytest.raises(RunDirError, match="being written by another graff process"):
        run(_cfg(), data3, out, overwrite=True)
    rd.release()


def _path_calls() -> list[tuple[str, Any]]:
    import graff
    from graff.data import load_dataset
    from graff.scale import open_precomputed, write_synthetic_graph
    from graff.tune import tune

    return [
        ("run_dir", lambda: graff.load_run(3)),
        ("data_dir", lambda: load_dataset("texas", 3)),
        ("folder", lambda: open_precomputed(3)),
        ("folder", lambda: write_synthetic_graph(3, 10, 10)),
        ("out_dir", lambda: tune("csbm", "graff", trials=1, out_dir=3)),
    ]


@pytest.mark.parametrize("index", range(5))
def test_a_path_argument_of_the_wrong_kind_is_named(index: int) -> None:
    """Path(3) inside these said only "expected str, bytes or os.PathLike object, not int"."""
    name, call = _path_calls()[index]
    with pytest.raises(
        TypeError, match=rf"{name}.* must be a path \(str or pathlib.Path\), got int 3"
    ):
        call()

"""graff.tune._journal: a damaged study journal is found before any work, a damaged tail is
moved aside keeping every complete record, and damage in the middle is refused.

The journal comes from a real tiny search (csbm, 120 nodes, 6 epochs, one split, 3 trials).
Every byte offset inside its last record is checked by detection and repair alone; a real
resume runs on a few representative cuts.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import optuna
import pytest

from graff import cli
from graff.errors import GraffError
from graff.tune import JournalError, _storage, tune
from graff.tune._journal import check_journal, find_damage

DATA = {"num_nodes": 120, "num_splits": 3, "num_features": 16, "seed": 3}
SPACE = {"model.hidden": [8, 16], "model.dropout": {"type": "float", "low": 0.0, "high": 0.6}}
ARGS = {
    "space": SPACE,
    "data_params": DATA,
    "overrides": ["optim.epochs=6"],
    "splits": 1,
    "pruner": "none",
    "plots": False,
    "final": False,
}
TRIALS = 3


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output directory of a finished 3-trial search (study.journal, study.json, ...)."""
    out = tmp_path_factory.mktemp("tiny") / "out"
    res = tune("csbm", "graff", trials=TRIALS, out_dir=out, **ARGS)
    assert res.n_trials == TRIALS
    return out


def _trials(path: Path) -> list[optuna.trial.FrozenTrial]:
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    studies = storage.get_all_studies()
    return storage.get_all_trials(studies[0]._study_id) if studies else []


def _counted(path: Path) -> list[int]:
    return [t.number for t in _trials(path) if _storage.counted(t)]


def _last_record(data: bytes) -> int:
    """The offset of the last record's first byte."""
    return data.rstrip(b"\n").rfind(b"\n") + 1


def test_a_sound_journal_is_left_alone(study_dir, tmp_path):
    path = tmp_path / "study.journal"
    shutil.copy(study_dir / "study.journal", path)
    assert find_damage(path.read_bytes()) is None
    assert check_journal(path) is None
    assert path.read_bytes() == (study_dir / "study.journal").read_bytes()
    empty = tmp_path / "empty.journal"
    empty.write_bytes(b"")
    assert check_journal(empty) is None and check_journal(tmp_path / "absent") is None


def test_a_cut_at_every_byte_of_the_last_record_is_repaired(study_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("os.fsync", lambda fd: None)  # ~190 cuts: durability is not tested here
    data = (study_dir / "study.journal").read_bytes()
    start = _last_record(data)
    prefix_counted = _counted_bytes(tmp_path, data[:start])
    full_counted = _counted_bytes(tmp_path, data)
    assert len(full_counted) == TRIALS and len(data) - start > 20
    for cut in range(start, len(data)):
        case = tmp_path / f"cut{cut}"
        case.mkdir()
        path = case / "study.journal"
        path.write_bytes(data[:cut])
        note = check_journal(path)  # a GraffError would be allowed; none is needed here
        aside = sorted(case.glob("study.journal.damaged-*"))
        if cut == start:  # cut between two records: nothing is damaged
            assert note is None and not aside
            assert path.read_bytes() == data[:start]
        elif cut == len(data) - 1:  # the whole record without its newline: kept
            assert note is not None and "added the newline" in note and not aside
            assert path.read_bytes() == data
            assert _counted(path) == full_counted
            shutil.rmtree(case)
            continue
        else:
            assert note is not None and f"byte {start}" in note and str(path) in note
            assert path.read_bytes() == data[:start]  # every complete record kept
            assert [p.read_bytes() for p in aside] == [data[start:cut]]  # the rest aside
        if cut == start + 1:  # the same bytes after every cut: the same trials (Optuna's view)
            assert _counted(path) == prefix_counted
        assert check_journal(path) is None  # repaired for good
        shutil.rmtree(case)


def _counted_bytes(tmp_path: Path, data: bytes) -> list[int]:
    path = tmp_path / "probe.journal"
    path.write_bytes(data)
    try:
        return _counted(path)
    finally:
        path.unlink()


@pytest.mark.parametrize("where", ["first byte", "middle", "no newline"])
def test_a_repaired_journal_resumes_and_keeps_every_complete_trial(
    study_dir, tmp_path, monkeypatch, where
):
    """A real resume after the cut: the complete trials stay as they were, the missing ones
    run, nothing is appended to a half-written line."""
    out = tmp_path / "out"
    shutil.copytree(study_dir, out)
    data = (out / "study.journal").read_bytes()
    start = _last_record(data)
    cut = {"first byte": start + 1, "middle": (start + len(data)) // 2, "no newline": -1}[where]
    (out / "study.journal").write_bytes(data[:cut])
    before = {t.number: t.value for t in _trials(study_dir / "study.journal")}
    # The search that wrote the journal ran in this process; its cut trial is one whose
    # worker died (as after a real crash), not a live one.
    monkeypatch.setattr(_storage, "_process_alive", lambda pid: False)
    res = tune("csbm", "graff", trials=TRIALS + 1, out_dir=out, **ARGS)
    assert res.n_trials == TRIALS + 1 and len(res.notes) == 1
    trials = _trials(out / "study.journal")
    kept = [t for t in trials if _storage.counted(t) and t.number in before]
    assert {t.number: t.value for t in kept} == {
        n: v for n, v in before.items() if n in {t.number for t in kept}
    }
    assert len(kept) == (TRIALS if where == "no newline" else TRIALS - 1)
    assert res.new_trials == TRIALS + 1 - len(kept)
    assert find_damage((out / "study.journal").read_bytes()) is None


GARBAGE = {
    "random bytes": bytes(random.Random(0).randrange(256) for _ in range(300)),
    "not UTF-8": b"\xff\xfe\xfa\x00 broken \xc3\x28\n",
    "partial JSON": b'{"op_code":8,"worker_id":"abc-1","trial_id":2,"user_attr":{"va',
    "partial JSON line": b'{"op_code":8,"worker_id":"abc-1","trial_id":2,"user_attr"\n',
    "JSON, no record": b'[1, 2, 3]\n{"hello": "world"}\n',
    "unknown op_code": b'{"op_code":99,"worker_id":"abc-1"}\n',
    "blank lines": b"\n\n\n",
}


@pytest.mark.parametrize("garbage", GARBAGE.values(), ids=list(GARBAGE))
def test_garbage_after_the_last_record_is_moved_aside(study_dir, tmp_path, garbage):
    data = (study_dir / "study.journal").read_bytes()
    path = tmp_path / "study.journal"
    path.write_bytes(data + garbage)
    note = check_journal(path)
    assert note is not None and f"byte {len(data)}" in note
    assert path.read_bytes() == data
    (aside,) = tmp_path.glob("study.journal.damaged-*")
    assert aside.read_bytes() == garbage
    assert len(_counted(path)) == TRIALS


def test_damage_in_the_middle_is_refused_and_nothing_changes(study_dir, tmp_path):
    data = (study_dir / "study.journal").read_bytes()
    lines = data.splitlines(keepends=True)
    k = len(lines) // 2
    # as an older graff left it: a record cut short, then the next search's records appended
    broken = b"".join(lines[:k]) + lines[k][:10] + b"".join(lines[k + 1 :])
    path = tmp_path / "study.journal"
    path.write_bytes(broken)
    offset = len(b"".join(lines[:k]))
    with pytest.raises(JournalError, match=rf"line {k + 1} \(byte {offset}\).*another --out"):
        check_journal(path)
    assert path.read_bytes() == broken and not list(tmp_path.glob("*.damaged-*"))


def test_the_command_line_names_the_damage_in_one_line_before_loading_data(
    study_dir, tmp_path, capsys
):
    out = tmp_path / "out"
    out.mkdir()
    data = (study_dir / "study.journal").read_bytes()
    (out / "study.journal").write_bytes(b"\x00garbage\n" + data)
    argv = ["tune", "--dataset", "npz:/nonexistent/graph.npz", "--trials", "1", "--out",
            str(out), "--no-progress"]  # fmt: skip
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "study.journal is damaged at line 1 (byte 0)" in err and "Traceback" not in err
    assert "nonexistent" not in err  # refused before the data was looked for


def test_records_optuna_cannot_replay_are_a_clear_error(tmp_path):
    path = tmp_path / "study.journal"
    path.write_bytes(b'{"op_code":0,"worker_id":"w"}\n')  # a study without its name
    with pytest.raises(GraffError, match="cannot be read"):
        _storage.open_storage(str(path))
    _storage.close_storage(str(path))


def test_the_command_repairs_a_damaged_tail_and_says_so(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    cut = b'{"op_code":0,"worker_id":"w","study_name":"graff-csbm","directions":[2'
    (out / "study.journal").write_bytes(cut)  # a crash while the study was being created
    argv = ["tune", "--dataset", "csbm", "--trials", "1", "--splits", "1", "--no-final",
            "--no-progress", "--set", "optim.epochs=4", "--set", "data.params.num_nodes=120",
            "--set", "data.params.num_splits=3", "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert f"note: the study journal {out / 'study.journal'} ended in a damaged record" in err
    (aside,) = out.glob("study.journal.damaged-*")
    assert aside.read_bytes() == cut and len(_counted(out / "study.journal")) == 1


@pytest.mark.parametrize("where", ["inside", "no newline"])
def test_a_live_writer_never_appends_to_a_half_written_record(study_dir, tmp_path, where):
    """A worker that died during its write while others go on: the next append moves the
    partial record aside first (or ends a complete one), under the journal's lock."""
    data = (study_dir / "study.journal").read_bytes()
    start = _last_record(data)
    cut = start + 7 if where == "inside" else len(data) - 1
    path = tmp_path / "study.journal"
    path.write_bytes(data[:cut])
    study = optuna.load_study(study_name="graff-csbm", storage=_storage.open_storage(str(path)))
    try:
        study.set_user_attr("after", 1)  # another worker's next record
    finally:
        _storage.close_storage(str(path))
    text = path.read_bytes()
    assert find_damage(text) is None
    assert text.startswith(data[:start] if where == "inside" else data)
    aside = [p.read_bytes() for p in tmp_path.glob("study.journal.damaged-*")]
    assert aside == ([data[start:cut]] if where == "inside" else [])
    reread = optuna.load_study(study_name="graff-csbm", storage=_storage.open_storage(str(path)))
    assert reread.user_attrs["after"] == 1
    assert len([t for t in reread.trials if _storage.counted(t)]) == TRIALS - (where == "inside")
    _storage.close_storage(str(path))

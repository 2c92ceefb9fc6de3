"""graff.tune across processes: resume after kill -9, two workers on the journal file, and
two "machines" filling one study on a real PostgreSQL server started here (pgserver).

Every study must end with exactly the requested number of counted trials: none lost (a
killed trial's configuration is run again), none run twice, none left RUNNING.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import graff
from graff.tune import _storage, tune

DATA = {"num_nodes": 120, "num_splits": 3, "num_features": 16, "seed": 3}
FAST = ["optim.epochs=10"]
SPACE = {
    "model.hidden": [8, 16],
    "optim.lr": {"type": "float", "low": 1.0e-3, "high": 5.0e-2, "log": True},
    "model.dropout": {"type": "float", "low": 0.0, "high": 0.6},
}
ARGS = {"space": SPACE, "data_params": DATA, "overrides": FAST, "pruner": "none", "plots": False}

SCRIPT = """
import json, sys
from graff.tune import tune
out, trials, storage = sys.argv[1], int(sys.argv[2]), sys.argv[3] or None
res = tune("csbm", "graff", trials=trials, out_dir=out, storage=storage, final=False,
           **json.loads(sys.argv[4]))
print(res.new_trials)
"""


def _spawn(out: Path, trials: int, storage: str = "") -> subprocess.Popen[bytes]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    src = str(Path(graff.__file__).resolve().parents[1])  # this checkout's graff
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-c", SCRIPT, str(out), str(trials), storage, json.dumps(ARGS)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _journal(out: Path) -> optuna.storages.BaseStorage:
    backend = optuna.storages.journal.JournalFileBackend(str(out / "study.journal"))
    return optuna.storages.JournalStorage(backend)


def _check_study(trials: list[optuna.trial.FrozenTrial], total: int) -> list[int]:
    """No trial lost, none run twice, none left running; return the workers' pids."""
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    counted = [
        t
        for t in trials
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
        or (t.state == TrialState.FAIL and "error" in t.user_attrs)
    ]
    assert len(counted) == total
    for t in counted:  # each ran once, to its end, on every search split
        assert t.state == TrialState.COMPLETE and len(t.user_attrs["val"]) == 3
    for t in trials:
        if t not in counted:  # killed or surplus: marked as such, never counted
            assert t.state == TrialState.FAIL
            assert "killed" in t.user_attrs or "surplus" in t.user_attrs
    return sorted({t.user_attrs["worker"]["pid"] for t in counted})


@pytest.mark.slow
def test_resume_after_kill_runs_each_missing_trial_once(tmp_path):
    out, total = tmp_path / "out", 6
    proc = _spawn(out, total)
    deadline = time.monotonic() + 120
    killed_number = None
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            if not (out / "study.journal").exists():
                continue
            try:
                study = optuna.load_study(study_name="graff-csbm", storage=_journal(out))
            except KeyError:  # the study is being created
                continue
            trials = study.get_trials(deepcopy=False)
            done = [t for t in trials if t.state == TrialState.COMPLETE]
            running = [t for t in trials if t.state == TrialState.RUNNING]
            # killed once its configuration is sampled in full (a trial killed before that
            # has none to run again; seen under pytest-xdist's timing)
            if len(done) >= 2 and running and len(running[0].params) == len(SPACE):
                proc.send_signal(signal.SIGKILL)
                killed_number = running[0].number
                break
    finally:
        if proc.poll() is None and killed_number is None:
            proc.kill()
        _, err = proc.communicate()
    assert killed_number is not None, "the search ended before it was killed: " + err.decode()
    before = sum(t.state == TrialState.COMPLETE for t in trials)
    res = tune("csbm", "graff", trials=total, out_dir=out, final=False, **ARGS)
    assert res.n_trials == total and res.new_trials == total - before
    assert res.n_stopped == 1  # the killed trial: reported apart, not counted
    study = optuna.load_study(study_name="graff-csbm", storage=_journal(out))
    _check_study(study.trials, total)
    killed = study.trials[killed_number]
    assert killed.state == TrialState.FAIL and "killed" in killed.user_attrs
    # its configuration ran again, to its end, before any new one
    (again,) = [t for t in study.trials if t.user_attrs.get("retry_of") == killed_number]
    assert again.state == TrialState.COMPLETE and again.params == killed.params
    assert again.number == max(t.number for t in trials) + 1


@pytest.mark.slow
def test_two_workers_share_the_journal_file(tmp_path):
    out, total = tmp_path / "out", 6
    res = tune("csbm", "graff", trials=total, jobs=2, out_dir=out, final=True, **ARGS)
    assert res.n_trials == total == res.new_trials
    study = optuna.load_study(study_name="graff-csbm", storage=_journal(out))
    pids = _check_study(study.trials, total)
    assert len(pids) == 2 and os.getpid() not in pids  # two spawned workers did the trials
    assert res.final is not None and res.final["splits"] == [0, 1, 2]


@pytest.fixture
def postgres(tmp_path):
    """A PostgreSQL server of its own in tmp_path (the pgserver package ships the binaries)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR not set
            import pgserver

            server = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
            uri = server.get_uri()
    except Exception as e:  # no binaries for this platform, no shared memory, ...
        pytest.skip(f"cannot start a PostgreSQL server with pgserver here: {e!r}")
    yield uri
    server.cleanup()


@pytest.mark.slow
def test_two_machines_fill_one_postgresql_study(tmp_path, postgres):
    total = 6
    storage = optuna.storages.RDBStorage(postgres.replace("postgresql://", "postgresql+psycopg://"))
    other = _spawn(tmp_path / "machine1", total, postgres)  # a second machine's command
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and other.poll() is None:  # until it runs a trial
        time.sleep(0.1)
        with contextlib.suppress(KeyError):
            study = optuna.load_study(study_name="graff-csbm", storage=storage)
            if study.get_trials(deepcopy=False):
                break
    res = tune("csbm", "graff", trials=total, out_dir=tmp_path / "machine0", storage=postgres,
               final=False, **ARGS)  # fmt: skip
    out, err = other.communicate(timeout=240)
    assert other.returncode == 0, err.decode()
    assert res.new_trials + int(out) == total  # each machine counts its own trials
    study = optuna.load_study(study_name="graff-csbm", storage=storage)
    pids = _check_study(study.trials, total)
    assert len(pids) == 2  # both machines ran trials
    for i in range(2):  # each machine wrote the same outcome
        best = (tmp_path / f"machine{i}" / "best.yaml").read_text()
        assert "postgres:***@" in best and f"{total} trials" in best
    storage.remove_session()
    storage.engine.dispose()


@pytest.mark.slow
def test_two_calls_on_one_journal_file_count_their_own_trials(tmp_path):
    """Two processes on one shared journal (``storage=<path>``), each with its own --out."""
    total, shared = 8, str(tmp_path / "shared.journal")
    procs = [_spawn(tmp_path / f"call{i}", total, shared) for i in range(2)]
    counts = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err.decode()
        counts.append(int(out))
    assert sum(counts) == total  # not each the study's total
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(shared))
    study = optuna.load_study(study_name="graff-csbm", storage=storage)
    _check_study(study.trials, total)
    ran = [t.user_attrs["call"] for t in study.trials if _storage.counted(t)]
    assert sorted(ran.count(c) for c in set(ran)) == sorted(c for c in counts if c)

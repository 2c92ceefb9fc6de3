"""benchmarks/heterophily/table.py: a search folder read into a row beside its published row."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from graff.configs import shipped_config
from graff.train import config_to_dict, load_config
from graff.train.rundir import RunDir
from graff.tune import tune
from tests.tools import load_script


def _tool():  # type: ignore[no-untyped-def]
    return load_script("benchmarks/heterophily/table.py", "heterophily_table")


@pytest.fixture(scope="module")
def search(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "csbm-mlp"
    tune("csbm", "mlp", trials=3, splits=1, out_dir=out, final=False, plots=False,
         overrides=["optim.epochs=3"])  # fmt: skip
    return out


def test_a_running_search_is_a_row_without_a_result(search: Path) -> None:
    table = _tool()
    row = table.study_row(search, "minesweeper", "mlp")
    assert row["counted"] == 3 and row["complete"] + row["pruned"] == 3
    assert row["search_seconds"] > 0
    assert "mean" not in row and "within_2std" not in row
    assert row["published"]["model"] == "ResNet"  # the residual MLP's row
    assert row["importances"] == []  # too few trials to say
    md = table.markdown([row])
    assert "searching (best validation" in md and "ResNet 50.89 ± 1.39" in md
    # the trials' CPU time beside the wall time (graff tune records it per trial)
    assert row["cpu_trials"] == row["ended"] == 3 and row["cpu_seconds"] > 0
    assert f"{row['search_seconds']:.0f} s (CPU {row['cpu_seconds']:.0f} s) |" in md
    older = {**row, "cpu_trials": 2, "ended": 5}  # three trials from before CPU time was kept
    assert f"(CPU {row['cpu_seconds']:.0f} s in 2 of 5 trials)" in table.markdown([older])
    assert "CPU" not in table.markdown([{**row, "cpu_trials": 0}])


def _finished(search: Path, tmp_path: Path, final: dict[str, object]) -> Path:
    """A minesweeper-mlp search folder (the fixture's journal) with a final run ``final``."""
    folder = tmp_path / "minesweeper-mlp"
    folder.mkdir()
    # the journal alone, as a checkout of studies/ holds it (study.json is not kept in git)
    (folder / "study.journal").write_bytes((search / "study.journal").read_bytes())
    (folder / "final").mkdir()
    summary = {"metric": "roc_auc", **final}
    (folder / "final" / "summary.json").write_text(json.dumps(summary))
    return folder


@pytest.mark.parametrize(("mean", "verdict"), [(48.2, "yes"), (48.0, "**no**")])
def test_the_final_run_is_compared_with_two_published_std(
    search: Path, tmp_path: Path, mean: float, verdict: str
) -> None:
    table = _tool()
    folder = _finished(search, tmp_path, {"mean": mean, "std": 1.0, "seconds": 12.0})
    row = table.study_row(folder, "minesweeper", "mlp")
    # ResNet on minesweeper: 50.89 ± 1.39, so the bar is 48.11
    assert row["within_2std"] is (verdict == "yes")
    assert f"| {verdict} |" in table.markdown([row])
    # no best.yaml: the search has not ended, final/ holds a run of its best config so far
    assert row["unfinished"] and "search unfinished" in table.markdown([row])


def test_the_shipped_column_says_whether_the_winner_is_what_reproduce_reruns(
    search: Path, tmp_path: Path
) -> None:
    """The shipped config is the search's winner, or graff kept its own (ship_tuned's run of
    it beside: its test and both validation means)."""
    table = _tool()
    final = {"mean": 50.0, "std": 1.0, "seconds": 1.0, "val": [51.0, 53.0]}
    folder = _finished(search, tmp_path, final)
    shipped = shipped_config("mlp", "minesweeper")
    (folder / "best.yaml").write_text(shipped.read_text())  # the search chose it
    row = table.study_row(folder, "minesweeper", "mlp", tmp_path / "shipped")
    assert row["shipped"] == "the search's"
    cfg = load_config(shipped)
    cfg.optim.lr *= 2
    (folder / "best.yaml").write_text(yaml.safe_dump(config_to_dict(cfg)))
    assert (
        "ship_tuned"
        in table.study_row(folder, "minesweeper", "mlp", tmp_path / "shipped")["shipped"]
    )
    kept = tmp_path / "shipped" / "minesweeper-mlp"
    kept.mkdir(parents=True)
    ran = {"mean": 50.8, "std": 1.3, "val": [52.0, 52.5]}
    (kept / "summary.json").write_text(json.dumps(ran))
    row = table.study_row(folder, "minesweeper", "mlp", tmp_path / "shipped")
    assert row["shipped"] == "kept its own: 50.80 ± 1.30 (validation 52.25 vs 52.00)"
    assert "kept its own" in table.markdown([row])


def test_graff_is_compared_with_the_best_published_row(search: Path) -> None:
    row = _tool().study_row(search, "tolokers", "graff")
    assert row["published"]["model"] == "GAT-sep"  # 83.78, their best on tolokers


def test_a_trial_stopped_by_a_sittings_end_counts_until_its_last_report(
    search: Path, tmp_path: Path
) -> None:
    """The worker time counted a killed trial until the next sitting marked it failed (the
    hours between sittings included); it ends at the trial's last report."""
    import socket
    import subprocess
    import time

    from graff.tune import _storage

    table = _tool()
    folder = tmp_path / "minesweeper-mlp"
    folder.mkdir()
    (folder / "study.journal").write_bytes((search / "study.journal").read_bytes())
    before = table._trials(table._study(folder))["search_seconds"]
    study = table._study(folder)
    gone = subprocess.Popen(["true"])
    gone.wait()
    killed = study.ask()
    killed.set_user_attr("worker", {"host": socket.gethostname(), "pid": gone.pid})
    killed.set_user_attr("reported_at", study.trials[-1].datetime_start.timestamp() + 0.01)
    time.sleep(0.3)  # the next sitting finds it later
    assert _storage.reap_dead_trials(study) == [killed.number]
    after = table._trials(table._study(folder))
    assert after["failed"] == 1 and after["search_seconds"] - before < 0.1


def test_the_searches_still_to_run_are_projected_from_their_trials_so_far(
    search: Path, tmp_path: Path
) -> None:
    """A search under way: its counted trials and the rest of its budget at its mean time per
    trial; one not started: no estimate; one finished (best.yaml and a final run): not listed."""
    table = _tool()
    runs = tmp_path / "runs"
    under_way = runs / "minesweeper-mlp"
    under_way.mkdir(parents=True)
    (under_way / "study.journal").write_bytes((search / "study.journal").read_bytes())
    done = runs / "minesweeper-gcn"
    (done / "final").mkdir(parents=True)
    (done / "final" / "summary.json").write_text("{}")
    (done / "best.yaml").write_text("{}")
    rest = {(r["dataset"], r["model"]): r for r in table.remaining(runs, trials=10)}
    assert ("minesweeper", "gcn") not in rest
    r = rest[("minesweeper", "mlp")]
    assert r["counted"] == 3 and r["seconds_per_trial"] > 0
    assert r["basis"] == "CPU"  # its three trials recorded their CPU time
    counts = table._trials(table._study(under_way))
    assert r["seconds_per_trial"] == pytest.approx(counts["cpu_seconds"] / 3)
    assert r["hours_left"] == pytest.approx(7 * r["seconds_per_trial"] / 3600)
    assert rest[("tolokers", "graff")]["hours_left"] is None
    assert rest[("tolokers", "graff")]["final_hours"] is None
    best = _best_seconds(under_way)
    assert r["final_hours"] == pytest.approx(table.FINAL_SPLITS * best / 3600)
    assert len(rest) == len(table.DATASETS) * len(table.PLAN) - 1
    md = table.markdown_remaining(list(rest.values()))
    assert "| minesweeper | mlp | 3 / 10 |" in md and "not started" in md
    assert f"| {r['seconds_per_trial']:.0f} s (CPU) |" in md
    assert f"| {table._at_most(r['final_hours'])} |" in md
    assert table._duration(0.01) == "1 min" and table._duration(2.04) == "2.0 h"
    assert table._duration(0.005) == "< 1 min" == table._at_most(0.005)  # not "≤ 0 min"
    assert table._at_most(0.1) == "≤ 6 min"
    # its final run under way (resumed from the records git keeps): projected from its own
    # finished splits, damaged ones left out (as the resumed run trains them again)
    final = under_way / "final"
    final.mkdir()
    writer = RunDir(final)
    scores = {"metric": "roc_auc", "train": 90.0, "val": 80.0, "test": 80.0, "best_epoch": 1}
    for k, sec in enumerate((600.0, 1200.0, 900.0)):
        writer.save_split(k, {"split": k, **scores, "seconds": sec}, {})
    (final / "split_2.pt").write_bytes(b"damaged")  # its checkpoint no longer its sha256
    (final / "split_3.json").write_text("{not json")
    r = {(x["dataset"], x["model"]): x for x in table.remaining(runs, trials=10)}[
        ("minesweeper", "mlp")
    ]
    assert r["final_done"] == 2 and r["final_hours"] == pytest.approx(8 * 900 / 3600)
    assert "| 2 of 10 splits done, ≈ 2.0 h left |" in table.markdown_remaining([r])
    assert r["running_seconds"] == []  # the fixture's trials all ended
    r["running_seconds"] = [3720.0]
    assert "| 62 min |" in table.markdown_remaining([r])
    assert f"{len(rest) - 1} searches not started" in md


def _best_seconds(folder: Path) -> float:
    """The best trial's CPU time per objective split, read from the journal apart from the
    tool."""
    storage = JournalStorage(JournalFileBackend(str(folder / "study.journal")))
    name = "mlp-csbm"  # graff tune's default study name: <model>-<dataset>
    study = optuna.load_study(study_name=name, storage=storage)
    assert study.user_attrs["graff"]["splits"] == [0]  # the fixture's one split
    return float(study.best_trial.user_attrs["cpu_seconds"])


def test_the_final_run_is_projected_per_split_from_the_best_trials_cpu_time() -> None:
    """A trial of three objective splits costs a third of its time per split, on its CPU time
    where it recorded it: a best trial whose search was paused for an hour (its wall time)
    once projected a final run of hours where it took minutes."""
    import datetime

    table = _tool()

    def study_with(attrs: dict[str, object], graff: dict[str, object] | None) -> optuna.Study:
        study = optuna.create_study(direction="maximize")
        if graff is not None:
            study.set_user_attr("graff", graff)
        start = datetime.datetime(2026, 12, 7, 12, 0)
        study.add_trial(optuna.trial.FrozenTrial(
            number=0, trial_id=0, state=optuna.trial.TrialState.COMPLETE, value=50.0,
            datetime_start=start, datetime_complete=start + datetime.timedelta(hours=1),
            params={}, distributions={}, user_attrs=attrs, system_attrs={},
            intermediate_values={},
        ))  # fmt: skip
        return study

    three = study_with({"cpu_seconds": 300.0, "val": [1.0, 2.0, 3.0]}, {"splits": [0, 1, 2]})
    assert table._best_trial_seconds(three) == pytest.approx(100.0)
    no_cpu = study_with({"val": [1.0, 2.0]}, None)  # nor a record of the objective's splits
    assert table._best_trial_seconds(no_cpu) == pytest.approx(3600.0 / 2)


def test_the_figure_draws_finished_rows_only(search: Path, tmp_path: Path) -> None:
    table = _tool()
    running = table.study_row(search, "minesweeper", "mlp")
    assert table.plot([running], tmp_path / "none.png") is None  # no test score yet
    folder = _finished(search, tmp_path, {"mean": 50.0, "std": 1.0, "seconds": 1.0})
    row = table.study_row(folder, "minesweeper", "mlp")
    out = table.plot([row, running], tmp_path / "r.png")
    assert out is not None and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_finished_row_whose_folder_is_gone_is_carried_and_marked(
    search: Path, tmp_path: Path
) -> None:
    """A finished row of the previous results.json without a folder now is kept (marked †,
    in the table's order, and not listed as still to run); an unfinished one is not carried,
    and a row with a folder is tabulated afresh, never carried."""
    table = _tool()
    fresh = table.study_row(search, "minesweeper", "mlp")
    old = {"counted": 40, "complete": 30, "pruned": 10, "failed": 0, "search_seconds": 9.0,
           "choice": {}, "importances": [], "shipped": "yes", "best_val": 90.0}  # fmt: skip
    previous = tmp_path / "results.json"
    previous.write_text(json.dumps({"rows": [
        {**old, "dataset": "tolokers", "model": "gcn", "mean": 85.3, "std": 0.6},
        {**old, "dataset": "minesweeper", "model": "gcn", "mean": 91.8, "std": 0.5},
        {**old, "dataset": "tolokers", "model": "sage", "mean": 80.0, "std": 1.0,
         "unfinished": True},
        {**old, "dataset": "minesweeper", "model": "mlp", "mean": 1.0, "std": 0.1},
    ]}))  # fmt: skip
    rows = table.carry([fresh], previous)
    assert [(r["dataset"], r["model"], bool(r.get("carried"))) for r in rows] == [
        ("minesweeper", "mlp", False),  # the table's order: graff's group heterophily's
        ("minesweeper", "gcn", True),
        ("tolokers", "gcn", True),
    ]
    assert rows[0] is fresh
    md = table.markdown(rows)
    assert "| minesweeper | gcn † |" in md and table.CARRIED in md
    assert table.CARRIED not in table.markdown([fresh])
    done = frozenset((r["dataset"], r["model"]) for r in rows if r.get("carried"))
    rest = {(r["dataset"], r["model"]) for r in table.remaining(tmp_path / "none", finished=done)}
    assert ("tolokers", "gcn") not in rest and ("tolokers", "sage") in rest
    assert table.carry([fresh], tmp_path / "absent.json") == [fresh]


def _git_kept(
    names: list[str], folder: str = "benchmarks/heterophily/studies/tolokers-gat"
) -> list[str]:
    """Which of ``names`` (paths inside ``folder``) git keeps (studies/.gitignore)."""
    import shutil
    import subprocess

    root = Path(__file__).resolve().parents[2]
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(
        ["git", "check-ignore", "--no-index", *(f"{folder}/{n}" for n in names)],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    ignored = {line.removeprefix(folder + "/") for line in out.stdout.splitlines()}
    return [n for n in names if n not in ignored]


def test_git_keeps_what_a_search_resumes_and_the_table_reads_from() -> None:
    """studies/.gitignore keeps the files a new checkout needs (the journal a search resumes
    from; what table.py reads; the final run's records, curves and checkpoints, so a final
    run longer than a sitting resumes) and leaves plots, locks and study.json out."""
    kept = ["study.journal", "best.yaml", "trials.csv", "final/summary.json",
            "final/config.yaml", "final/split_0.json", "final/split_12.pt",
            "final/history_0.csv"]  # fmt: skip
    left = ["study.json", "history.png", "split_0.pt", "history_0.csv", "final/.graff-lock",
            "final/history.png", "study.journal.damaged-x"]  # fmt: skip
    assert _git_kept(kept + left) == kept


def test_git_keeps_a_longer_rerun_so_it_resumes() -> None:
    """epochs/.gitignore keeps a rerun's records and checkpoints (epochs.sh's folders),
    as the searches' final runs."""
    kept = ["summary.json", "config.yaml", "split_0.json", "split_9.pt", "history_3.csv"]
    left = ["history.png", ".graff-lock", "notes.txt"]
    folder = "benchmarks/heterophily/epochs/minesweeper-graff-1000"
    assert _git_kept(kept + left, folder) == kept


def test_a_final_run_resumes_from_the_files_git_keeps(tmp_path: Path) -> None:
    """A final run stopped after its first split, reduced to what git keeps of it (a new
    checkout), trains only its missing split: the finished split's record and checkpoint
    are reused as they are."""
    from graff.data import load_dataset
    from graff.train import resolve_config, run

    cfg, _ = resolve_config("csbm", "mlp", overrides=["optim.epochs=3", "data.splits=[0,1]"])
    data = load_dataset("csbm")

    class Stop(Exception):
        pass

    def stop_at_the_second(k: int, n_splits: int) -> None:
        if k == 1:
            raise Stop

    first = tmp_path / "first" / "final"
    with pytest.raises(Stop):
        run(cfg, data, first, batch=1, on_split_start=stop_at_the_second)
    assert not (first / "summary.json").exists()
    files = [f"final/{p.name}" for p in sorted(first.iterdir())]
    checkout = tmp_path / "checkout"
    (checkout / "final").mkdir(parents=True)
    for name in _git_kept(files):
        (checkout / name).write_bytes((tmp_path / "first" / name).read_bytes())
    assert {"final/split_0.json", "final/split_0.pt", "final/config.yaml"} <= set(_git_kept(files))
    before = [(checkout / "final" / n).read_bytes() for n in ("split_0.json", "split_0.pt")]
    started: list[int] = []
    run(cfg, data, checkout / "final", batch=1, on_split_start=lambda k, n: started.append(k))
    assert started == [1]  # split 0 came from the kept files
    after = [(checkout / "final" / n).read_bytes() for n in ("split_0.json", "split_0.pt")]
    assert after == before and (checkout / "final" / "summary.json").is_file()


def test_the_time_per_trial_rests_on_cpu_time_where_enough_trials_recorded_it() -> None:
    """CPU time (not inflated by a paused or shared core) once enough ended trials have it,
    a failed trial's share included; wall time over the counted trials before that."""
    table = _tool()
    base = {"counted": 4, "ended": 5, "search_seconds": 1000.0}
    per, basis = table._per_trial({**base, "cpu_seconds": 300.0, "cpu_trials": 3})
    assert basis == "CPU" and per == pytest.approx(100.0 * 5 / 4)
    per, basis = table._per_trial({**base, "cpu_seconds": 80.0, "cpu_trials": 2})
    assert basis == "wall" and per == pytest.approx(250.0)
    assert table._per_trial({**base, "counted": 0}) == (None, "wall")

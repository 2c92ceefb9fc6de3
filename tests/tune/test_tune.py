"""graff.tune in this process: outputs, validation-only selection, failures, pruning, resume.

A tiny csbm graph (120 nodes, 3 splits) and a few epochs keep each search to seconds; where
a test needs scores it controls, ``graff.tune._backend.fit_splits`` is replaced by a fake.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import time

import numpy as np
import optuna
import pytest

from graff.data import csbm
from graff.errors import RunDirError
from graff.train import DivergenceError, SplitResult, load_config, read_summary, run
from graff.train.config import ConfigError, config_to_dict
from graff.tune import TRIALS_COLUMNS, SpaceError, TrialEvent, TuneError, default_splits, tune
from graff.tune import _backend as backend

DATA = {"num_nodes": 120, "num_splits": 3, "num_features": 16, "seed": 3}
FAST = ["optim.epochs=12"]
SMALL_SPACE = {
    "model.hidden": [8, 16],
    "optim.lr": {"type": "float", "low": 1.0e-3, "high": 5.0e-2, "log": True},
    "model.dropout": {"type": "float", "low": 0.0, "high": 0.6},
    "model.w_type": ["diag", "sum", "dd"],
}


def _tune(tmp_path, **kw):
    args = {
        "trials": 4,
        "space": SMALL_SPACE,
        "data_params": DATA,
        "overrides": FAST,
        "out_dir": tmp_path / "out",
        "plots": False,
    }
    args.update(kw)
    return tune("csbm", "graff", **args)


def _study(res):
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(res.out_dir / "study.journal"))
    )
    return optuna.load_study(study_name=res.study_name, storage=storage)


@pytest.fixture
def fake_fit(monkeypatch):
    """fit_splits replaced: val = 0.9 − dropout, test = dropout (they disagree on purpose);
    the splits train one after another (as for a model without a stack) and on_epoch sees
    the same scores every epoch. ``calls`` records (dropout, split) as each split starts."""
    calls: list[tuple[float, int]] = []

    def fit(cfg, data, splits, *, on_epoch=None, batch=None):
        val, test = 0.9 - cfg.model.dropout, cfg.model.dropout
        results = []
        for split in splits:
            calls.append((cfg.model.dropout, split))
            for epoch in range(1, cfg.optim.epochs + 1):
                if on_epoch is not None:
                    scores = {"loss": 1.0, "train": 0.5, "val": val, "test": test}
                    on_epoch(epoch, {split: scores})
            results.append(SplitResult(split, "accuracy", 0.5, val, test, 1, cfg.optim.epochs, 0.0))
        return results

    monkeypatch.setattr(backend, "fit_splits", fit)
    return calls


def test_outputs_best_yaml_final_and_trials_csv(tmp_path):
    events: list[TrialEvent] = []
    res = _tune(tmp_path, trials=3, on_trial=events.append, plots=True)
    out = res.out_dir
    # best.yaml: a complete config graff train --config accepts, with the provenance
    cfg = load_config(out / "best.yaml").validate()
    assert config_to_dict(cfg) == config_to_dict(res.best_config)
    assert cfg.data.dataset == "csbm" and cfg.data.splits is None and cfg.optim.epochs == 12
    for key, value in res.best_params.items():
        section, _, name = key.partition(".")
        assert getattr(getattr(cfg, section), name) == value
    for word in (res.study_name, "study.journal", "3 trials", "3 complete", "splits 0, 1, 2"):
        assert word in cfg.provenance, word
    # final/summary.json: graff.train.run's summary of the chosen config on every split
    final = read_summary(out / "final")
    assert final == res.final and final["splits"] == [0, 1, 2]
    assert final["config"] == json.loads(json.dumps(config_to_dict(cfg)))
    again = run(cfg, backend.load_prepared(cfg, None), tmp_path / "again")
    assert again.test == pytest.approx(final["test"])  # same command, same numbers
    # trials.csv
    with open(out / "trials.csv") as fh:
        rows = list(csv.DictReader(fh))
    header = list(rows[0])
    assert header[: len(TRIALS_COLUMNS)] == list(TRIALS_COLUMNS)
    assert header[len(TRIALS_COLUMNS) :] == ["val_0", "val_1", "val_2", *SMALL_SPACE]
    assert [int(r["number"]) for r in rows] == [0, 1, 2]
    assert all(float(r["cpu_seconds"]) > 0 for r in rows)  # the trial's process CPU time
    best = rows[res.best_number]
    assert float(best["value"]) == pytest.approx(res.best_value)
    vals = [float(best[f"val_{k}"]) for k in range(3)]
    assert sum(vals) / 3 == pytest.approx(res.best_value)
    assert float(best["test_mean"]) == pytest.approx(res.best_test_mean)
    # progress events: one per trial, best so far never decreasing
    assert [e.number for e in events] == [0, 1, 2] and events[-1].finished == 3
    bests = [e.best_value for e in events]
    assert bests == sorted(bests) and bests[-1] == pytest.approx(res.best_value)
    assert res.n_trials == res.new_trials == 3 and res.search_seconds > 0
    assert res.trial_seconds > 0 and res.trial_seconds <= res.study_seconds + 1e-3
    assert res.trials_per_hour > 0
    text = "\n".join(res.report())
    assert f"best trial #{res.best_number}" in text and str(out / "best.yaml") in text
    assert f"{final['mean']:.2f} ± {final['std']:.2f}" in text
    if (out / "history.png").exists():  # matplotlib installed (the dev extra has it)
        assert res.files["history"] == out / "history.png"


def test_selection_uses_validation_only(tmp_path, fake_fit):
    only_dropout = {"model.dropout": SMALL_SPACE["model.dropout"]}
    res = _tune(tmp_path, trials=8, final=False, space=only_dropout, pruner="none")
    trials = [t for t in _study(res).trials if t.state.name == "COMPLETE"]
    assert len(trials) == 8
    by_val = max(trials, key=lambda t: t.value)
    by_test = max(trials, key=lambda t: t.user_attrs["test_mean"])
    assert by_val.number != by_test.number  # the fake makes them disagree
    assert res.best_number == by_val.number
    assert res.best_params["model.dropout"] == min(t.params["model.dropout"] for t in trials)
    for t in trials:  # value and pruner reports come from validation scores only
        val = 100 * (0.9 - t.params["model.dropout"])
        assert t.value == pytest.approx(val)
        assert t.user_attrs["test"] == pytest.approx([100 * t.params["model.dropout"]] * 3)
        assert all(v == pytest.approx(val) for v in t.intermediate_values.values())


def test_failed_trials_are_recorded_and_the_search_goes_on(tmp_path, monkeypatch, fake_fit):
    real = backend.fit_splits

    def fit(cfg, data, splits, *, on_epoch=None, batch=None):
        if cfg.model.dropout > 0.4:
            raise DivergenceError("the model output became non-finite")
        if cfg.model.dropout < 0.1:
            raise ConfigError("model.T = 0.5 is invalid")  # a combination validate refused
        return real(cfg, data, splits, on_epoch=on_epoch, batch=batch)

    monkeypatch.setattr(backend, "fit_splits", fit)
    only_dropout = {"model.dropout": SMALL_SPACE["model.dropout"]}
    res = _tune(tmp_path, trials=10, final=False, space=only_dropout)
    assert res.n_trials == 10 and res.n_failed > 0 and res.n_complete > 0
    assert res.n_complete + res.n_failed + res.n_pruned == 10
    with open(res.files["trials"]) as fh:
        rows = list(csv.DictReader(fh))
    failed = [r for r in rows if r["state"] == "FAIL"]
    assert len(failed) == res.n_failed and all(r["counted"] == "1" for r in failed)
    assert all(r["error"].startswith(("diverged", "invalid config")) for r in failed)
    # every trial's CPU time is kept, a failed one's too (it was spent)
    assert all(float(r["cpu_seconds"]) >= 0 for r in rows)
    assert all(float(r["cpu_seconds"]) > 0 for r in rows if r["state"] == "COMPLETE")
    assert 0.1 <= res.best_params["model.dropout"] <= 0.4


def test_no_complete_trial_is_a_clear_error(tmp_path, monkeypatch):
    def fit(cfg, data, splits, *, on_epoch=None, batch=None):
        raise DivergenceError("blew up")

    monkeypatch.setattr(backend, "fit_splits", fit)
    with pytest.raises(TuneError, match=r"no trial .* completed.*diverged: blew up"):
        _tune(tmp_path, trials=2)
    assert (tmp_path / "out" / "trials.csv").is_file()


class _PruneOdd(optuna.pruners.BasePruner):
    def prune(self, study, trial):
        return trial.number % 2 == 1


def test_pruning_stops_a_trial_within_its_first_split(tmp_path):
    res = _tune(tmp_path, trials=4, final=False, pruner=_PruneOdd())
    assert res.n_pruned == 2 and res.n_complete == 2
    study = _study(res)
    for t in study.trials:
        if t.number % 2:
            assert t.state.name == "PRUNED"
            assert "val" not in t.user_attrs  # stopped before its first split ended
            assert max(t.intermediate_values) < 12  # a step inside split 0 (12 epochs)
        else:
            assert t.state.name == "COMPLETE" and len(t.user_attrs["val"]) == 3


def test_threshold_pruner_prunes_the_bad_trials(tmp_path, fake_fit):
    pruner = optuna.pruners.ThresholdPruner(lower=60.0)  # percent: val < 60 is pruned
    res = _tune(tmp_path, trials=8, final=False, pruner=pruner)
    trials = _study(res).trials
    for t in trials:
        bad = 100 * (0.9 - t.params["model.dropout"]) < 60.0
        assert t.state.name == ("PRUNED" if bad else "COMPLETE")
    pruned_calls = [c for c in fake_fit if 100 * (0.9 - c[0]) < 60.0]
    assert all(split == 0 for _, split in pruned_calls)  # never reached a second split
    assert res.n_pruned == sum(t.state.name == "PRUNED" for t in trials)


def test_resume_runs_only_the_missing_trials(tmp_path, fake_fit):
    first = _tune(tmp_path, trials=3, final=False)
    assert first.n_trials == 3
    second = _tune(tmp_path, trials=5, final=False)
    assert second.n_trials == 5 and second.new_trials == 2
    assert sorted(t.number for t in _study(second).trials) == [0, 1, 2, 3, 4]
    third = _tune(tmp_path, trials=5, final=False)
    assert third.new_trials == 0 and third.best_number == second.best_number


def test_a_trial_stopped_mid_run_is_reported_apart_and_timed_to_its_last_report(tmp_path, fake_fit):
    """A trial killed with its search (a sitting's end) is failed by the next call, maybe
    hours later: it is named in the report and best.yaml's provenance as stopped and not
    counted, and its worker time ends at its last report, not when it was found dead."""
    first = _tune(tmp_path, trials=2, final=False)
    assert first.n_stopped == 0 and "stopped" not in first.best_config.provenance
    assert all("reported_at" in t.user_attrs for t in _study(first).trials)
    study = _study(first)
    proc = subprocess.Popen(["true"])
    proc.wait()  # a worker that ran on this host and is gone
    killed = study.ask()
    killed.set_user_attr("worker", {"host": socket.gethostname(), "pid": proc.pid})
    start = study.trials[-1].datetime_start
    killed.set_user_attr("reported_at", start.timestamp() + 0.01)
    time.sleep(0.3)  # found dead later than its last report
    again = _tune(tmp_path, trials=2, final=False)
    assert (again.n_trials, again.n_stopped, again.new_trials) == (2, 1, 0)
    assert "failed; 1 more stopped before their end, not counted), 0 in" in again.report()[0]
    assert "1 trial(s) stopped before their end" in again.best_config.provenance
    assert "this call searched for" in first.best_config.provenance
    assert first.cpu_trials == 2 and first.cpu_seconds > 0
    assert "s of CPU time in the 2 trials that recorded it" in again.best_config.provenance
    assert "this call searched" not in again.best_config.provenance  # it ran no trial
    with open(again.files["trials"]) as fh:
        row = next(r for r in csv.DictReader(fh) if r["number"] == str(killed.number))
    assert "killed" in row["error"] and float(row["seconds"]) < 0.1
    assert again.trial_seconds < first.trial_seconds + 0.1


def test_cpu_time_counts_only_the_trials_that_recorded_it():
    from graff.tune import cpu_time

    def trial(**attrs):
        return optuna.trial.create_trial(value=1.0, user_attrs=attrs)

    trials = [trial(cpu_seconds=2.5), trial(), trial(cpu_seconds=1.0), trial(cpu_seconds=0.0)]
    assert cpu_time(trials) == (3.5, 3)  # a recorded 0 s counts as a trial that recorded it
    assert cpu_time([]) == (0.0, 0)


@pytest.mark.parametrize(
    ("model", "blocks", "said"),
    [
        ("graff", None, None),  # stacked: nothing to say
        ("gat", None, "gat trains one split at a time (its layers are PyG modules"),
        ("gat", ["residual"], None),  # the residual GAT is stacked
        ("gat", ["plain", "residual"], "one split at a time in trials with model.block=plain"),
    ],
)
def test_batch_for_a_model_without_a_stack_is_said(tmp_path, fake_fit, caplog, model, blocks, said):
    """--batch K asks for K splits side by side; a build without a stacked version (as the
    base config or the space's model.block sets it) trains them one at a time: said once."""
    space = {"model.dropout": {"type": "float", "low": 0.0, "high": 0.6}}
    if blocks is not None:
        space["model.block"] = blocks
    with caplog.at_level("WARNING", logger="graff.tune"):
        res = tune(
            "csbm", model, trials=1, space=space, data_params=DATA, overrides=FAST,
            out_dir=tmp_path / "out", plots=False, final=False, batch=2,
        )  # fmt: skip
    notes = [n for n in res.notes if n.startswith("--batch 2")]
    if said is None:
        assert notes == []
    else:
        assert len(notes) == 1 and said in notes[0], notes
        assert said in caplog.text


def test_the_journal_alone_resumes_the_search_in_a_new_folder(tmp_path, fake_fit):
    """What a new checkout holds of a search kept in git: the journal, without study.json
    (which names the journal by its old absolute path) or any other file."""
    first = _tune(tmp_path, trials=3, final=False)
    moved = tmp_path / "elsewhere" / "out"
    moved.mkdir(parents=True)
    (moved / "study.journal").write_bytes((tmp_path / "out" / "study.journal").read_bytes())
    second = _tune(tmp_path, trials=5, final=False, out_dir=moved)
    assert second.n_trials == 5 and second.new_trials == 2
    assert [t.params for t in _study(second).trials][:3] == [t.params for t in _study(first).trials]


def test_a_study_of_another_search_is_refused(tmp_path, fake_fit):
    _tune(tmp_path, trials=1, final=False)
    with pytest.raises(ConfigError, match="another base"):
        _tune(tmp_path, trials=1, final=False, overrides=["optim.epochs=13"])
    with pytest.raises(ConfigError, match="another space"):
        _tune(tmp_path, trials=1, final=False, space={"model.hidden": [8]})


def test_a_study_recorded_before_a_config_key_existed_resumes(tmp_path, fake_fit):
    """A study written by an older graff records a base without keys added since (e.g.
    optim.mode): it is the same search, resumed, not refused as one with another base."""
    first = _tune(tmp_path, trials=2, final=False)
    study = _study(first)
    record = study.user_attrs["graff"]
    del record["base"]["optim"]["mode"], record["base"]["optim"]["batch_size"]
    study.set_user_attr("graff", record)
    second = _tune(tmp_path, trials=3, final=False)
    assert second.n_trials == 3 and second.new_trials == 1
    # a key at a value other than its default is still another search
    record["base"]["optim"]["epochs"] = 13
    _study(second).set_user_attr("graff", record)
    with pytest.raises(ConfigError, match="another base"):
        _tune(tmp_path, trials=4, final=False)


def test_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="not registered"):
        tune("csbm", "transformer", out_dir=tmp_path)
    with pytest.raises(ConfigError, match="trials"):
        tune("csbm", trials=0, out_dir=tmp_path)
    with pytest.raises(ConfigError, match="pruner"):
        tune("csbm", pruner="hyperband", out_dir=tmp_path)
    with pytest.raises(ConfigError, match="has 3 splits"):
        _tune(tmp_path, splits=4)
    with pytest.raises(ConfigError, match="distinct split indices"):
        _tune(tmp_path, splits=[0, 0])
    # the command line's text where Python values go: named (were a ValueError of int(',')
    # and the overrides iterated character by character)
    with pytest.raises(ConfigError, match=r"splits='0,1': give K .* such as \[0, 1\]"):
        _tune(tmp_path, splits="0,1")
    with pytest.raises(ConfigError, match=r"one string 'optim\.lr=0\.1': pass \['optim"):
        tune("csbm", overrides="optim.lr=0.1", out_dir=tmp_path)
    with pytest.raises(TypeError, match=r"final must be True or False, got 'no'"):
        tune("csbm", final="no", out_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"got Data; save a graph in memory with np\.savez"):
        tune(csbm(**DATA), out_dir=tmp_path)  # type: ignore[arg-type]
    # a space that can never run on the base config: refused before the data loads or a
    # study is made, not as 4 failed trials (the plain GAT's output_heads, the residual block)
    with pytest.raises(SpaceError, match="on top of the base config"):
        tune(
            "csbm", "gat", trials=4, space="residual/gat", data_params=DATA,
            overrides=[*FAST, "model.params={output_heads: 1}"], out_dir=tmp_path / "gat",
        )  # fmt: skip
    assert not (tmp_path / "gat").exists()


def test_search_splits_argument_and_default_rule(tmp_path, fake_fit):
    res = _tune(tmp_path, trials=1, final=False, splits=[2, 0])
    assert res.splits == [2, 0] and sorted({s for _, s in fake_fit}) == [0, 2]
    data = backend.load_prepared(load_config(res.files["best"]), None)
    n_val = float(data.val_mask.sum()) / data.num_splits  # 38 nodes: all splits
    assert n_val < 2000 / 3 and default_splits(data) == [0, 1, 2]
    big = type("D", (), {"val_mask": data.val_mask.repeat(100, 1)[:, :3], "num_splits": 3})()
    assert default_splits(big) == [0]  # 100× the validation nodes: one split is enough


def test_same_sampler_seed_same_trials_other_seed_other_trials(tmp_path, fake_fit):
    runs = [
        _tune(tmp_path / str(i), trials=4, final=False, sampler_seed=seed, pruner="none")
        for i, seed in enumerate((7, 7, 8))
    ]
    params = [[t.params for t in _study(r).trials] for r in runs]
    assert params[0] == params[1] and params[0] != params[2]
    assert _study(runs[0]).user_attrs["graff"]["sampler_seed"] == 7
    with pytest.raises(ConfigError, match="another sampler_seed"):  # part of the study
        _tune(tmp_path / "0", trials=5, final=False, sampler_seed=8, pruner="none")


def test_seed_is_the_runs_base_seed_as_in_graff_train(tmp_path, monkeypatch, fake_fit):
    """``seed`` sets the config's seed (split k trains with seed + k), not the sampler's."""
    seen: list[int] = []
    real = backend.fit_splits

    def fit(cfg, data, splits, *, on_epoch=None, batch=None):
        seen.append(cfg.seed)
        return real(cfg, data, splits, on_epoch=on_epoch, batch=batch)

    monkeypatch.setattr(backend, "fit_splits", fit)
    runs = [
        _tune(tmp_path / str(i), trials=3, final=False, seed=seed, pruner="none")
        for i, seed in enumerate((5, 6))
    ]
    assert seen[0] == 5 and set(seen) == {5, 6} and seen.index(6) == len(seen) // 2
    assert [load_config(r.files["best"]).seed for r in runs] == [5, 6]
    assert [_study(r).user_attrs["graff"]["base"]["seed"] for r in runs] == [5, 6]
    # the sampler's draws do not depend on the runs' seed (same sampler_seed 0)
    assert [t.params for t in _study(runs[0]).trials] == [t.params for t in _study(runs[1]).trials]
    default = _tune(tmp_path / "default", trials=1, final=False, pruner="none")
    assert default.best_config.seed == backend.RunConfig().seed  # None keeps the base's


def test_python_and_command_line_default_to_the_same_number_of_trials():
    import inspect

    from graff.cli._parser import build_parser
    from graff.tune import DEFAULT_TRIALS

    assert inspect.signature(tune).parameters["trials"].default == DEFAULT_TRIALS == 50
    args = build_parser().parse_args(["tune", "--dataset", "texas"])
    assert args.trials == DEFAULT_TRIALS and args.sampler_seed == 0 and args.seed is None


def _job(storage: str, trials: int):
    from graff.tune._worker import Job

    base = backend.RunConfig()
    return Job(
        storage=storage,
        study_name="s",
        model="graff",
        base=config_to_dict(base),
        space={"model.hidden": {"type": "categorical", "choices": [8, 16]}},
        space_source="<test>",
        splits=(0,),
        trials=trials,
        timeout=None,
        data_dir=None,
        sampler_seed=0,
        threads=1,
        pruner="none",
        stride=10,
    )


def test_a_trial_beyond_the_budget_is_not_run(tmp_path):
    from graff.tune._worker import Objective, _Surplus

    study = optuna.create_study(direction="maximize")
    objective = Objective(_job(str(tmp_path / "j"), trials=1))
    first = study.ask()  # running elsewhere: it holds the only slot
    second = study.ask()
    with pytest.raises(_Surplus):
        objective._check_slot(second)
    assert "surplus" in study.trials[1].user_attrs
    study.tell(second, state=optuna.trial.TrialState.FAIL)  # as the worker does
    study.tell(first, state=optuna.trial.TrialState.FAIL)  # killed: the slot is free again
    objective._check_slot(study.ask())


def test_dead_workers_trials_are_failed_live_ones_kept(tmp_path):
    from graff.tune import _storage

    storage = _storage.open_storage(str(tmp_path / "study.journal"))
    study = optuna.create_study(storage=storage, study_name="s")
    proc = subprocess.Popen(["true"])
    proc.wait()  # a pid that ran on this host and is gone
    for pid in (os.getpid(), proc.pid):
        t = study.ask()
        t.set_user_attr("worker", {"host": socket.gethostname(), "pid": pid})
    assert _storage.reap_dead_trials(study) == [1]
    live, dead = study.trials
    assert live.state.name == "RUNNING"
    assert dead.state.name == "FAIL" and "killed" in dead.user_attrs
    assert _storage.counts(study.trials).finished == 0  # a killed trial does not count


def test_a_killed_trials_configuration_runs_again_at_most_twice(tmp_path):
    """A killed trial's parameters are queued to run next (with retry_of and retries, keeping
    base_config), so a search stopped again and again still finishes its long trials; a
    third kill of the same configuration, or a kill before sampling, queues nothing."""
    from graff.tune import _storage

    storage = _storage.open_storage(str(tmp_path / "study.journal"))
    study = optuna.create_study(storage=storage, study_name="s")
    proc = subprocess.Popen(["true"])
    proc.wait()
    gone = {"host": socket.gethostname(), "pid": proc.pid}
    dist = {"model.dropout": optuna.distributions.FloatDistribution(0.0, 1.0)}
    first = study.ask(dist)
    first.set_user_attr("base_config", True)
    first.set_user_attr("worker", gone)
    study.tell(study.ask(dist), 0.5)  # another trial, alive, ends
    assert _storage.reap_dead_trials(study) == [0]
    for expected in (1, 2):
        retry = study.ask(dist)  # the queued copy comes first
        assert retry.params == study.trials[0].params
        assert retry.user_attrs["retries"] == expected
        assert retry.user_attrs["retry_of"] == (0 if expected == 1 else retry.number - 1)
        assert retry.user_attrs["base_config"] is True
        retry.set_user_attr("worker", gone)
        _storage.reap_dead_trials(study)
    fresh = study.ask(dist)  # killed twice after the first time: no third copy
    assert "retry_of" not in fresh.user_attrs
    unsampled = study.ask()  # killed before it drew anything: nothing to rerun
    unsampled.set_user_attr("worker", gone)
    before = len(study.trials)
    assert _storage.reap_dead_trials(study) == [unsampled.number]
    assert len(study.trials) == before


def test_plots_are_skipped_with_a_note_without_matplotlib(tmp_path, monkeypatch, caplog):
    import sys

    from graff.tune import _outputs

    study = optuna.create_study()
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # import fails
    with caplog.at_level("INFO", logger="graff.tune"):
        assert _outputs.write_plots(study, tmp_path) == []
    assert "matplotlib is not installed" in caplog.text and not list(tmp_path.iterdir())


def test_parse_splits_of_the_command_line():
    from graff.tune import parse_splits

    assert parse_splits(None) is None and parse_splits(" ") is None
    assert parse_splits("3") == 3 and parse_splits("0, 2,5") == [0, 2, 5]
    with pytest.raises(ConfigError, match="indices like 0,1,2"):
        parse_splits("all")


def test_trial_zero_is_the_base_config(tmp_path, fake_fit):
    """A new study starts from the config it searches around; a resumed one does not again."""
    base_values = ["model.hidden=16", "optim.lr=0.02", "model.dropout=0.1", "model.w_type=sum"]
    res = _tune(tmp_path, trials=3, final=False, pruner="none", overrides=[*FAST, *base_values])
    trials = _study(res).trials
    first = trials[0]
    assert first.user_attrs.get("base_config") is True
    assert first.params == {
        "model.hidden": 16,
        "optim.lr": 0.02,
        "model.dropout": 0.1,
        "model.w_type": "sum",
    }
    assert not any(t.user_attrs.get("base_config") for t in trials[1:])
    # the fake scores 0.9 - dropout: a base dropout of 0 cannot be beaten, and it is chosen
    res = _tune(
        tmp_path / "zero", trials=4, final=False, pruner="none", overrides=[*FAST, "dropout=0"]
    )
    assert res.best_number == 0 and res.best_is_base
    assert "(the base config itself)" in res.best_config.provenance
    assert "the first the base config itself" in res.best_config.provenance
    # resumed: the study already has trials, no second base trial
    again = _tune(
        tmp_path / "zero", trials=6, final=False, pruner="none", overrides=[*FAST, "dropout=0"]
    )
    assert sum(bool(t.user_attrs.get("base_config")) for t in _study(again).trials) == 1


def test_a_base_trial_enqueued_twice_runs_once(tmp_path, monkeypatch, fake_fit):
    """Machines that start one new shared study together may each enqueue the base config
    (a race no storage lock prevents); the second copy is not run and not counted."""
    enqueue = optuna.Study.enqueue_trial

    def racing(self, params, user_attrs=None, skip_if_exists=False):
        for _ in range(2):  # as two machines would, each before seeing the other's
            enqueue(self, params, user_attrs=user_attrs, skip_if_exists=False)

    monkeypatch.setattr(optuna.Study, "enqueue_trial", racing)
    res = _tune(tmp_path, trials=3, final=False, pruner="none")
    trials = _study(res).trials
    copies = [t for t in trials if t.user_attrs.get("base_config")]
    assert [t.number for t in copies] == [0, 1]
    assert copies[0].state == optuna.trial.TrialState.COMPLETE
    assert copies[1].state == optuna.trial.TrialState.FAIL and "surplus" in copies[1].user_attrs
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials) == 3
    assert len(fake_fit) == 3 * len(res.splits)  # three trials trained, the copy never


def test_base_trial_off_and_base_values_outside_the_space(tmp_path, fake_fit):
    off = _tune(tmp_path / "off", trials=2, final=False, pruner="none", base_trial=False)
    assert not any(t.user_attrs.get("base_config") for t in _study(off).trials)
    # lr 0.5 lies outside the space's [1e-3, 5e-2]: the sampler draws it, the rest is the base
    res = _tune(
        tmp_path / "out", trials=1, final=False, pruner="none",
        overrides=[*FAST, "optim.lr=0.5", "model.hidden=8"],
    )  # fmt: skip
    (first,) = _study(res).trials
    assert first.user_attrs.get("base_config") is True
    assert first.params["model.hidden"] == 8 and 1e-3 <= first.params["optim.lr"] <= 5e-2


@pytest.fixture
def npz_graph(tmp_path):
    """A small user graph (.npz without masks, 3 classes): no config is shipped for it."""
    import numpy as np

    rng = np.random.default_rng(0)
    n, f = 90, 8
    y = np.arange(n) % 3
    x = rng.standard_normal((n, f)) + 2.0 * np.eye(3, f)[y]
    src, dst = rng.integers(0, n, size=(2, 240))
    path = tmp_path / "graph.npz"
    np.savez(path, x=x.astype(np.float32), y=y, edge_index=np.stack([src, dst])[:, src != dst])
    return path


@pytest.mark.parametrize("model", ["graff", "gcn"])
def test_the_base_config_is_the_one_graff_train_runs(tmp_path, fake_fit, npz_graph, model):
    """On a graph without a shipped config the search starts where ``graff train`` does:
    graff/defaults/<model>.yaml where there is one (graff), the schema's defaults otherwise."""
    from graff.configs import default_config
    from graff.train.resolve import resolve_config
    from graff.tune import default_space

    assert (default_config(model) is not None) == (model == "graff")
    dataset = f"npz:{npz_graph}"
    res = tune(
        dataset, model, trials=1, splits=1, final=False, plots=False, pruner="none",
        out_dir=tmp_path / "out",
    )  # fmt: skip
    want, _ = resolve_config(dataset, model)
    want.data.splits = None
    expected = json.loads(json.dumps(config_to_dict(want)))
    del expected["provenance"]
    if model == "graff":  # the defaults file, not the schema's (sum W, lr 0.01)
        assert expected["model"]["w_type"] == "diag" and expected["optim"]["lr"] == 0.006
    study = _study(res)
    assert study.user_attrs["graff"]["base"] == expected  # job.base, as the study records it
    (first,) = study.trials  # trial 0: the base config at the space's keys
    assert first.user_attrs.get("base_config") is True
    point = default_space(model).point_of(want)
    # the graph's features are signed: row normalisation is not searched (for_features)
    assert point.pop("data.normalize_features") is False
    assert "data.normalize_features" not in first.params
    assert any("normalize_features is not searched" in n for n in res.notes)
    assert point and {k: first.params[k] for k in point} == point
    chosen = json.loads(json.dumps(config_to_dict(res.best_config)))  # the base itself
    assert {k: v for k, v in chosen.items() if k != "provenance"} == expected


def test_a_study_that_searched_row_normalisation_on_signed_features_resumes(
    tmp_path, fake_fit, npz_graph
):
    """A study made before signed features took data.normalize_features out of the space
    recorded it in its space: resuming said "a search with another space". The same space
    without that key resumes; a space that differs otherwise is still refused."""
    from graff.tune._space import space_differs

    kw = {"splits": 1, "final": False, "plots": False, "pruner": "none"}
    out = tmp_path / "out"
    first = tune(f"npz:{npz_graph}", "graff", trials=1, out_dir=out, **kw)
    study = _study(first)
    record = study.user_attrs["graff"]
    assert "data.normalize_features" not in record["space"]
    record["space"]["data.normalize_features"] = {"type": "categorical", "choices": [False, True]}
    study.set_user_attr("graff", record)  # as the older graff recorded it
    again = tune(f"npz:{npz_graph}", "graff", trials=2, out_dir=out, **kw)
    assert len(_study(again).trials) == 2
    assert "data.normalize_features" not in _study(again).user_attrs["graff"]["space"]
    space = record["space"]
    assert space_differs(space, {k: v for k, v in space.items() if k != "model.hidden"})
    assert space_differs({"model.hidden": [8]}, {"model.hidden": [16]})
    assert not space_differs(space, dict(space))


def test_a_study_owns_its_output_directory(tmp_path, fake_fit, npz_graph):
    first = _tune(tmp_path, trials=2, final=False, pruner="none")
    out = first.out_dir
    owner = json.loads((out / "study.json").read_text())
    assert owner == {
        "study": "graff-csbm", "storage": "study.journal", "dataset": "csbm", "model": "graff",
    }  # fmt: skip
    files = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    for other in (
        {"study_name": "another"},
        {"dataset": f"npz:{npz_graph}"},
        {"model": "gcn", "space": None},
        {"storage": str(tmp_path / "elsewhere.journal")},
    ):
        kw = {"trials": 2, "final": False, "pruner": "none", **other}
        dataset, model = kw.pop("dataset", "csbm"), kw.pop("model", "graff")
        args = {"space": SMALL_SPACE, "data_params": DATA, "overrides": FAST, "plots": False}
        with pytest.raises(RunDirError, match=r"holds the files of study 'graff-csbm' \(graff "
                           r"on csbm, study.journal\); choose another --out"):  # fmt: skip
            tune(dataset, model, out_dir=out, **{**args, **kw})
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == files
    # the same study resumes there, also after the folder moved (nothing names its old path)
    moved = tmp_path / "moved"
    out.rename(moved)
    again = _tune(tmp_path, out_dir=moved, trials=3, final=False, pruner="none")
    assert again.n_trials == 3 and again.new_trials == 1
    assert str(out) not in again.best_config.provenance
    assert "in journal file study.journal;" in again.best_config.provenance


def test_an_output_directory_of_an_older_graff_or_a_damaged_record(tmp_path, fake_fit):
    out = _tune(tmp_path, trials=1, final=False, pruner="none").out_dir
    (out / "study.json").unlink()  # as an older graff left it: best.yaml names the study
    _tune(tmp_path, trials=1, final=False, pruner="none")
    (out / "study.json").unlink()
    with pytest.raises(RunDirError, match=r"holds the best\.yaml of another search"):
        _tune(tmp_path, trials=1, final=False, study_name="another")
    (out / "study.json").write_text("{not json")
    with pytest.raises(RunDirError, match=r"study\.json is not a graff tune record"):
        _tune(tmp_path, trials=1, final=False, pruner="none")


def test_the_command_refuses_another_study_in_one_line(tmp_path, fake_fit, capsys):
    from graff import cli

    out = _tune(tmp_path, trials=1, final=False, pruner="none").out_dir
    argv = ["tune", "--dataset", "texas", "--trials", "1", "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "holds the files of study 'graff-csbm'" in err and "choose another --out" in err


def test_each_call_counts_the_trials_its_own_workers_ran(tmp_path, fake_fit):
    """Two calls on one shared journal, interleaved: the second starts after the first's
    second trial and fills the study to 5; the first then fills it to 8."""
    shared = str(tmp_path / "shared.journal")
    second: list = []

    def on_trial(ev: TrialEvent) -> None:
        if ev.number == 1 and not second:
            second.append(
                _tune(tmp_path, out_dir=tmp_path / "b", storage=shared, trials=5, final=False,
                      pruner="none")
            )  # fmt: skip

    first = _tune(
        tmp_path, out_dir=tmp_path / "a", storage=shared, trials=8, final=False, pruner="none",
        on_trial=on_trial,
    )  # fmt: skip
    (other,) = second
    assert other.n_trials == 5 and other.new_trials == 3
    assert first.n_trials == 8 and first.new_trials == 5  # was 8: the study's difference
    assert "3 in this call" in other.report()[0] and "5 in this call" in first.report()[0]
    calls = [t.user_attrs["call"] for t in optuna.load_study(
        study_name="graff-csbm", storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(shared))).trials]  # fmt: skip
    assert calls[:2] == [calls[0]] * 2 and len(set(calls[2:5])) == 1 and calls[2] != calls[0]
    assert calls[5:] == [calls[0]] * 3


def test_the_command_line_seed_is_the_runs_and_sampler_seed_the_searchs(tmp_path, fake_fit, capsys):
    from graff import cli

    out = tmp_path / "out"
    argv = ["tune", "--dataset", "csbm", "--trials", "2", "--splits", "1", "--no-final",
            "--no-progress", "--json", "--seed", "7", "--sampler-seed", "3", "--out", str(out),
            *(f"--set=data.params.{k}={v}" for k, v in DATA.items()), "--set", FAST[0]]  # fmt: skip
    assert cli.main(argv) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["best_config"]["seed"] == 7 and payload["new_trials"] == 2
    assert load_config(out / "best.yaml").seed == 7
    record = optuna.load_study(
        study_name="graff-csbm",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(out / "study.journal"))
        ),
    ).user_attrs["graff"]
    assert record["sampler_seed"] == 3 and record["base"]["seed"] == 7


def test_the_command_line_shows_what_the_loader_repaired(tmp_path, fake_fit, npz_graph, capsys):
    """graff tune prints the data notes graff train prints (self-loops dropped, reverse
    edges added), one line each, before the search."""
    import numpy as np

    from graff import cli

    with np.load(npz_graph) as z:
        arrays = dict(z)
    arrays["edge_index"] = np.concatenate([arrays["edge_index"], [[0, 1], [0, 1]]], axis=1)
    looped = tmp_path / "looped.npz"
    np.savez(looped, **arrays)
    argv = ["tune", "--dataset", f"npz:{looped}", "--trials", "1", "--splits", "1",
            "--no-final", "--no-progress", "--out", str(tmp_path / "out")]  # fmt: skip
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "note: data: removed 2 self-loop edges" in err
    assert "note: data: symmetrised directed edges" in err


def test_a_final_run_another_process_holds_is_waited_for(tmp_path, caplog):
    """Two processes of one study that both finish: the second waits for the first to let go
    of the final run's folder (one writer per run folder), then reuses or trains it, instead
    of failing on the lock."""
    import threading
    import time

    from graff._io import FolderLock
    from graff.train import resolve_config
    from graff.tune import _outputs

    params = [f"data.params.{k}={v}" for k, v in DATA.items()]
    cfg = resolve_config("csbm", "graff", overrides=[*FAST, *params])[0]
    out = tmp_path / "final"
    out.mkdir()
    other = FolderLock(out)  # the other process's hold on the folder
    assert other.acquire() is None
    timer = threading.Timer(1.0, other.release)
    timer.start()
    caplog.set_level("WARNING", logger="graff.tune")
    start = time.perf_counter()
    summary, _ = _outputs.final_run(cfg, out, None)
    timer.join()
    assert "being trained by another process: waiting" in caplog.text
    assert time.perf_counter() - start >= 1.0
    assert summary["n_splits"] == 3 and read_summary(out)["mean"] == summary["mean"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": "10"}, r"timeout='10': expected a positive number of seconds"),
        ({"timeout": True}, r"timeout=True: expected a positive number"),
        ({"timeout": float("nan")}, r"timeout=nan: expected a positive number"),
        ({"jobs": 1.5}, r"jobs=1\.5: expected a positive integer"),
        ({"threads": "2"}, r"threads='2': expected a positive integer"),
        ({"sampler_seed": -1}, r"sampler_seed=-1: expected an integer >= 0"),
        ({"sampler_seed": True}, r"sampler_seed=True: expected an integer >= 0"),
        ({"model": ["gcn"]}, r"model \['gcn'\] is not registered"),
        # (a TypeError, "'int' object is not callable", after the first trial had run)
        ({"on_trial": 5}, r"on_trial=5: expected a function called with each counted trial"),
    ],
)
def test_bad_arguments_named_before_any_file(tmp_path, kwargs, message):
    # (a timeout given as text ended in a comparison's TypeError trace; NumPy integers,
    # as a loop over np.arange gives them, were refused as "not a positive integer")
    out = tmp_path / "out"
    args = {"model": "gcn", **kwargs}
    with pytest.raises(ConfigError, match=message):
        tune("csbm", out_dir=out, **args)
    assert not out.exists()


def test_numpy_integers_are_counts(tmp_path):
    # a NumPy integer (a loop over np.arange) is a count like any other, through to the
    # study's record and best.yaml (refused as "not a positive integer" before)
    res = _tune(tmp_path, trials=np.int64(2), sampler_seed=np.int64(3), final=np.bool_(False))
    assert res.n_trials == 2
    assert "trials" in (tmp_path / "out" / "best.yaml").read_text()

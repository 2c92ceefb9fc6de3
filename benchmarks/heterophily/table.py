"""The heterophily table from the searches' folders: our rows beside Platonov et al.'s.

    python benchmarks/heterophily/table.py [--runs studies] [--out results.md]

Reads every search folder ``<runs>/<dataset>-<model>/`` that ``search.sh`` wrote (default
``studies/`` beside this script, whose small files git keeps; the
study's journal, ``best.yaml`` and, once the search is done, the chosen config's 10-split
run ``final/summary.json``) and writes a Markdown table
(and its JSON beside it): per (graph, model) the counted trials (complete / pruned /
failed), the search's worker time (wall, and CPU where its trials recorded it), the final
run's test mean ± sample std and wall time,
the chosen options, the three most important searched options (Optuna's fANOVA importances
over the complete trials), and the published row it is compared with: the same model's row
of Platonov et al. (2023) for a baseline (:func:`graff.paper.paper_cell`: the residual MLP's
is their ResNet, gat_sep's their GAT-sep), their best row on that graph for GRAFF.
"within 2 std" is the issue's bar: ours ≥ published − 2 × published std.
A figure beside the table (``results.png``) draws each finished row's gap to its published
row against the band of ± 2 published std. A second table lists the searches of the plan
(every model on every graph) not yet done: their counted trials of the budget and the
worker hours the rest would take at the search's mean time per counted trial so far (an
estimate: later trials of a TPE search are not like its first ones, and a long trial
still running, shown beside, is not in it; a search not started has no estimate).

A finished row of the previous ``results.json`` whose folder is gone (lost with a checkout
before ``studies/`` was kept in git) is carried over, marked †, rather than dropped.

Nothing here chooses anything: the configs were chosen on validation by the searches.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import statistics
import warnings
from pathlib import Path
from typing import Any

import optuna
import yaml

from graff.configs import shipped_config
from graff.errors import RunDirError
from graff.paper import paper_cell, published_results
from graff.reproduce import HETEROPHILY_MODELS
from graff.train import config_identity, load_config
from graff.train.rundir import read_split
from graff.tune import cpu_time, trial_seconds

SOURCE = "Platonov et al. 2023"
DATASETS = ("minesweeper", "tolokers", "chameleon-filtered", "squirrel-filtered")
#: the searched models, in the table's order: graff's model group ``heterophily`` (what
#: ``graff reproduce`` reruns on these graphs), then GT and GT-sep, searched as hours allow
MODELS = (*HETEROPHILY_MODELS, "gt", "gt_sep")
#: the chosen options the table shows (those a model has)
CHOICE = ("num_layers", "hidden", "norm", "w_type", "T", "nonlinear", "time_dependent")
#: fewer complete trials than this: no importances (fANOVA on a handful says nothing)
MIN_FOR_IMPORTANCES = 10
#: the searches of the plan (benchmarks/heterophily/all.sh): the table's models (graff's
#: model group ``heterophily``, what ``graff reproduce`` reruns on these graphs) on every
#: graph (GT / GT-sep, queued last in all.sh on Platonov et al.'s two graphs as the hours
#: allow, are not projected)
PLAN = HETEROPHILY_MODELS


def _search_done(folder: Path) -> bool:
    """The search ended (graff tune writes best.yaml then) and its best config ran on every
    split (final/summary.json)."""
    return (folder / "best.yaml").is_file() and (folder / "final" / "summary.json").is_file()


def _has_study(folder: Path) -> bool:
    return (folder / "study.journal").is_file()


def _study(folder: Path) -> optuna.Study:
    """The study in the folder's journal (search.sh writes one study per journal; the
    folder's study.json is not needed, so a journal kept in git is read on any checkout)."""
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / "study.journal"))
    )
    names = optuna.get_all_study_names(storage)
    if len(names) != 1:
        raise SystemExit(f"{folder}/study.journal holds {len(names)} studies, not one")
    return optuna.load_study(study_name=names[0], storage=storage)


def _trials(study: optuna.Study) -> dict[str, Any]:
    """Counted trials (complete or pruned, as graff tune counts them), failed ones, and the
    worker time of every finished trial."""
    states = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    n = {st: sum(t.state == st for t in trials) for st in states}
    ended = [t for t in trials if t.datetime_complete is not None]
    cpu_seconds, cpu_trials = cpu_time(ended)
    return {
        # the CPU time of the ended trials that recorded it (graff tune keeps it since
        # 2026-12-06): wall time counts a paused search and other work sharing the cores
        "cpu_seconds": cpu_seconds,
        "cpu_trials": cpu_trials,
        "ended": len(ended),
        "counted": n[states.COMPLETE] + n[states.PRUNED],
        "complete": n[states.COMPLETE],
        "pruned": n[states.PRUNED],
        "failed": n[states.FAIL],
        # a trial stopped by a sitting's end until its last report (graff tune records it
        # since 2026-12-07), not until the next sitting found it
        "search_seconds": sum(trial_seconds(t) for t in ended),
    }


def _importances(study: optuna.Study, complete: int) -> list[tuple[str, float]]:
    if complete < MIN_FOR_IMPORTANCES:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            imp = optuna.importance.get_param_importances(study, normalize=True)
        except (ValueError, RuntimeError):  # fewer than two complete trials that differ
            return []
    return sorted(imp.items(), key=lambda kv: -kv[1])[:3]


def _published(dataset: str) -> dict[str, dict[str, Any]]:
    return {
        r["model"]: r
        for r in published_results()
        if r["dataset"] == dataset and r["source"].startswith(SOURCE)
    }


def _shipped(folder: Path, dataset: str, model: str, shipped_runs: Path) -> str:
    """Whether graff ships the search's winner for (model, dataset) — the config that
    ``graff reproduce`` reruns — or kept its config (``tools/ship_tuned.py`` decides on
    validation over 10 splits; its run of the kept config is in ``shipped_runs``)."""
    path = shipped_config(model, dataset)
    if path is None or not _search_done(folder):
        return "—"
    if config_identity(load_config(path)) == config_identity(load_config(folder / "best.yaml")):
        return "the search's"
    kept = shipped_runs / f"{dataset}-{model}" / "summary.json"
    if not kept.is_file():
        return "not yet (tools/ship_tuned.py)"
    k = json.loads(kept.read_text())
    t = json.loads((folder / "final" / "summary.json").read_text())
    return (
        f"kept its own: {_pm(k['mean'], k['std'])} (validation {statistics.fmean(k['val']):.2f}"
        f" vs {statistics.fmean(t['val']):.2f})"
    )


def study_row(
    folder: Path, dataset: str, model: str, shipped_runs: Path = Path("runs/shipped")
) -> dict[str, Any] | None:
    """One table row from the search folder of ``model`` on ``dataset`` (None if it holds
    no finished trial yet). A search still running shows its trials and best trial so far,
    without a final run."""
    if not _has_study(folder):
        return None
    study = _study(folder)
    counts = _trials(study)
    if counts["complete"] == 0:
        return None
    if (folder / "best.yaml").is_file():
        m = yaml.safe_load((folder / "best.yaml").read_text())["model"]
        m = {k.removeprefix("model."): v for k, v in m.items()}
    else:
        m = {k.removeprefix("model."): v for k, v in study.best_trial.params.items()}
    row: dict[str, Any] = {
        "dataset": dataset,
        "model": model,
        "choice": {k: m[k] for k in CHOICE if k in m},
        "best_val": study.best_value,
        **counts,
        "importances": _importances(study, counts["complete"]),
        "shipped": _shipped(folder, dataset, model, shipped_runs),
    }
    summary = folder / "final" / "summary.json"
    if summary.is_file():
        s = json.loads(summary.read_text())
        row.update(mean=s["mean"], std=s["std"], final_seconds=s["seconds"], metric=s["metric"])
        # best.yaml is written when the search ends: without it, final/ holds a run of the
        # best config so far (graff tune's final run reuses it if that stays the best)
        row["unfinished"] = not (folder / "best.yaml").is_file()
    if model == "graff":
        pub = _published(dataset)
        ref = max(pub.values(), key=lambda r: r["mean"]) if pub else None
    else:
        ref = paper_cell(published_results(), model, dataset)
    if ref is not None:
        row["published"] = {k: ref[k] for k in ("model", "mean", "std")}
        if "mean" in row:
            row["within_2std"] = row["mean"] >= ref["mean"] - 2 * ref["std"]
    return row


def remaining(
    runs: Path,
    trials: int = 40,
    plan: tuple[str, ...] = PLAN,
    finished: frozenset[tuple[str, str]] = frozenset(),
) -> list[dict[str, Any]]:
    """The searches of the plan without a final run of a finished study (nor a row in
    ``finished``, the (dataset, model) pairs carried from an earlier table): counted trials,
    mean worker seconds per counted trial and the projected worker hours of the rest (None
    where no trial has finished). Failed trials' time counts (it was spent), not the trial."""
    out = []
    for ds in DATASETS:
        for model in plan:
            folder = runs / f"{ds}-{model}"
            if _search_done(folder) or (ds, model) in finished:
                continue
            study = _study(folder) if _has_study(folder) else None
            counts = _trials(study) if study else {"counted": 0, "search_seconds": 0.0}
            running = _running_seconds(study) if study and counts["counted"] else []
            per, basis = _per_trial(counts)
            left = max(trials - counts["counted"], 0)
            best = _best_trial_seconds(study) if study and counts["complete"] else None
            done = _final_splits_done(folder / "final")
            if done:  # the final run under way: its own splits' time, not the trial's
                final = (FINAL_SPLITS - len(done)) * sum(done) / len(done) / 3600
            else:
                final = None if best is None else FINAL_SPLITS * best / 3600
            out.append({
                "dataset": ds, "model": model, "counted": counts["counted"], "trials": trials,
                "seconds_per_trial": per, "basis": basis, "running_seconds": running,
                "hours_left": None if per is None else left * per / 3600,
                "final_hours": final, "final_done": len(done),
            })  # fmt: skip
    return out


def _final_splits_done(final: Path) -> list[float]:
    """The seconds of each split a final run under way has finished (its ``split_<k>.json``
    records, which git keeps so the run resumes on a new checkout), read and checked by
    :func:`graff.train.rundir.read_split` as the resumed run checks them; [] if none."""
    seconds = []
    for path in sorted(final.glob("split_*.json")) if final.is_dir() else []:
        try:
            seconds.append(
                float(read_split(final, int(path.stem.removeprefix("split_")))["seconds"])
            )
        except (RunDirError, ValueError, KeyError, TypeError):
            continue  # damaged (or not a split's record): the run trains that split again
    return seconds


#: Fewer ended trials with their CPU time than this: the estimate of the rest uses wall time.
MIN_FOR_CPU = 3


def _per_trial(counts: dict[str, Any]) -> tuple[float | None, str]:
    """Worker seconds per counted trial so far, and on what they rest: the mean CPU time of
    the ended trials that recorded it (a paused or shared core does not inflate it), or the
    wall time of all ended trials over the counted ones where too few recorded it. Failed
    trials' time counts (it was spent), not the trial."""
    if not counts["counted"]:
        return None, "wall"
    if counts.get("cpu_trials", 0) >= MIN_FOR_CPU:
        share = counts["ended"] / counts["counted"]  # ended trials per counted trial
        return counts["cpu_seconds"] / counts["cpu_trials"] * share, "CPU"
    return counts["search_seconds"] / counts["counted"], "wall"


#: The final run trains the best config on every split; its cost is projected as this many
#: times the best trial's per split (the same config, evaluation included): an upper
#: estimate, since splits run side by side on a small graph and stop early elsewhere.
FINAL_SPLITS = 10


def _best_trial_seconds(study: optuna.Study) -> float | None:
    """Worker seconds per split of the best complete trial so far: its CPU time where it
    recorded it (its wall time also counts the minutes its search was paused or shared the
    cores), over the objective's splits (one on minesweeper and tolokers, three or more on
    the small graphs); None if it has no times."""
    t = study.best_trial
    seconds = t.user_attrs.get("cpu_seconds")
    if seconds is None:
        if t.datetime_complete is None or t.datetime_start is None:
            return None
        seconds = (t.datetime_complete - t.datetime_start).total_seconds()
    splits = study.user_attrs.get("graff", {}).get("splits") or t.user_attrs.get("val") or [0]
    return float(seconds) / len(splits)


def _running_seconds(study: optuna.Study) -> list[float]:
    """How long each trial marked running has run (a search stopped mid-trial leaves one
    marked running until it resumes, so this is what the journal says, not a live view)."""
    now = datetime.datetime.now()
    return [
        (now - t.datetime_start).total_seconds()
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        if t.datetime_start is not None
    ]


def _duration(hours: float) -> str:
    """Hours as the table shows them: under one hour in minutes ("≤ 0.0 h" said nothing)."""
    if hours * 60 < 0.5:
        return "< 1 min"
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"


def _at_most(hours: float) -> str:
    """An upper bound as the table shows it: "≤ 6 min", or "< 1 min" alone."""
    text = _duration(hours)
    return text if text.startswith("<") else f"≤ {text}"


def markdown_remaining(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    known = [r["hours_left"] for r in rows if r["hours_left"] is not None]
    finals = [r["final_hours"] for r in rows if r.get("final_hours") is not None]
    lines = [
        f"| {r['dataset']} | {r['model']} | {r['counted']} / {r['trials']} | "
        + (
            "not started | — |"
            if r["seconds_per_trial"] is None
            else f"{r['seconds_per_trial']:.0f} s ({r.get('basis', 'wall')}) | "
            f"{_duration(r['hours_left'])} |"
        )
        + (
            " — |"
            if r.get("final_hours") is None
            else f" {r['final_done']} of {FINAL_SPLITS} splits done, ≈ "
            f"{_duration(r['final_hours'])} left |"
            if r.get("final_done")
            else f" {_at_most(r['final_hours'])} |"
        )
        + (
            " " + ", ".join(f"{sec / 60:.0f} min" for sec in r["running_seconds"]) + " |"
            if r.get("running_seconds")
            else " — |"
        )
        for r in rows
    ]
    return (
        "| graph | model | counted trials | worker time per trial so far | rest of the search "
        f"(estimate) | final run (≤ {FINAL_SPLITS} × the best trial's time per split; once "
        "under way, from its "
        "finished splits) | trial marked running for "
        "|\n|---|---|---|---|---|---|---|\n"
        + "\n".join(lines)
        + f"\n\nThe estimates add up to {sum(known):.1f} worker hours for the "
        f"{len(known)} searches under way, and at most {sum(finals):.1f} more for their final "
        f"10-split runs; {len(rows) - len(known)} searches not started.\n"
    )


def plot(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """One panel per graph: each finished row's test mean minus its published row's mean
    (points; ± our std over the 10 splits), over the band of ± 2 published std (the issue's
    bar: a point right of the band's left edge is "within 2 std" or above). Open markers:
    the search is unfinished. Rows still searching, or without a published row, are left
    out. None if nothing is left."""
    done = [r for r in rows if "mean" in r and r.get("published")]
    if not done:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    graphs = [ds for ds in DATASETS if any(r["dataset"] == ds for r in done)]
    height = max(sum(r["dataset"] == ds for r in done) for ds in graphs)
    fig, axes = plt.subplots(
        1, len(graphs), figsize=(4.2 * len(graphs), 1.2 + 0.5 * height), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    for ax, ds in zip(axes[0], graphs, strict=True):
        mine = [r for r in done if r["dataset"] == ds][::-1]
        for i, r in enumerate(mine):
            pub = r["published"]
            ax.fill_betweenx([i - 0.35, i + 0.35], -2 * pub["std"], 2 * pub["std"],
                             color="0.88", lw=0)  # fmt: skip
            colour = "C3" if r["model"] == "graff" else "C0"
            face = "white" if r.get("unfinished") else colour
            gap = r["mean"] - pub["mean"]
            ax.errorbar(gap, i, xerr=r["std"], fmt="o", color=colour, mfc=face, capsize=3)
            ax.annotate(f"{r['mean']:.2f} vs {pub['mean']:.2f}", (gap, i), xytext=(0, 7),
                        textcoords="offset points", ha="center", fontsize=7)  # fmt: skip
        ax.axvline(0, color="0.4", lw=0.8)
        ax.set_yticks(
            range(len(mine)), [f"{r['model']} vs {r['published']['model']}" for r in mine]
        )
        ax.set_ylim(-0.6, len(mine) - 0.3)
        ax.set_title(ds)
        ax.set_xlabel("ours − published (points)")
    fig.suptitle(
        f"Test score against the published row ({SOURCE}); grey: ± 2 published std; "
        "open marker: search unfinished",
        fontsize=9,
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


#: The mark of a row carried from an earlier table (:func:`carry`), and what it means.
CARRIED = (
    "† carried from the previous results.json: the search's folder was lost with an earlier "
    "checkout (before studies/ kept the searches' journals in git), so the row is as "
    "table.py last tabulated it from that folder."
)


def carry(rows: list[dict[str, Any]], previous: Path) -> list[dict[str, Any]]:
    """``rows`` (in the table's order) with the finished rows of ``previous`` (an earlier
    results.json) that have no search folder now added, marked ``carried``: a lost folder
    does not drop a finished row. A row whose folder exists is always tabulated afresh."""
    if not previous.is_file():
        return rows
    have = {(r["dataset"], r["model"]) for r in rows}
    old = {
        (r["dataset"], r["model"]): {**r, "carried": True}
        for r in json.loads(previous.read_text())["rows"]
        if "mean" in r and not r.get("unfinished") and (r["dataset"], r["model"]) not in have
    }
    order = {(ds, m): i for i, (ds, m) in enumerate((d, m) for d in DATASETS for m in MODELS)}
    return sorted([*rows, *old.values()], key=lambda r: order[(r["dataset"], r["model"])])


def _pm(mean: float | None, std: float | None) -> str:
    return (
        "—"
        if mean is None or (isinstance(mean, float) and math.isnan(mean))
        else (f"{mean:.2f} ± {std:.2f}")
    )


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _cpu(row: dict[str, Any]) -> str:
    """The search's CPU time beside its wall time, where its trials recorded it."""
    k = row.get("cpu_trials", 0)
    if not k:
        return ""
    part = "" if k == row.get("ended") else f" in {k} of {row['ended']} trials"
    return f" (CPU {row['cpu_seconds']:.0f} s{part})"


def markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "| graph | model | trials (complete / pruned / failed) | search | final run "
        "| test (10 splits) | published row | within 2 std | chosen | most important options "
        "| shipped config |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        pub = r.get("published")
        ok = r.get("within_2std")
        lines.append(
            "| {ds} | {model} | {n} ({c} / {p} / {f}) | {s:.0f} s{cpu} | {fs} | {res} | {pub} "
            "| {ok} "
            "| {choice} | {imp} | {shipped} |".format(
                ds=r["dataset"],
                model=r["model"] + (" †" if r.get("carried") else ""),
                n=r["counted"],
                c=r["complete"],
                p=r["pruned"],
                f=r["failed"],
                s=r["search_seconds"],
                fs=f"{r['final_seconds']:.0f} s" if "final_seconds" in r else "—",
                cpu=_cpu(r),
                res=(
                    _pm(r.get("mean"), r.get("std"))
                    + (" (best config so far; search unfinished)" if r.get("unfinished") else "")
                )
                if "mean" in r
                else f"searching (best validation {r['best_val']:.2f})",
                pub=f"{pub['model']} {_pm(pub['mean'], pub['std'])}" if pub else "—",
                ok="—" if ok is None else ("yes" if ok else "**no**"),
                choice=", ".join(f"{k} {_short(v)}" for k, v in r["choice"].items()),
                imp=", ".join(f"{k} {v:.2f}" for k, v in r["importances"]) or "—",
                shipped=r["shipped"],
            )
        )
    foot = f"\n{CARRIED}\n" if any(r.get("carried") for r in rows) else ""
    return head + "\n".join(lines) + "\n" + foot


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=Path(__file__).resolve().parent / "studies")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results.md")
    ap.add_argument("--trials", type=int, default=40, help="the budget's counted trials")
    ap.add_argument(
        "--shipped-runs",
        type=Path,
        default=Path("runs/shipped"),
        help="tools/ship_tuned.py's runs of the shipped configs (default runs/shipped)",
    )
    args = ap.parse_args()
    rows = []
    for ds in DATASETS:
        for model in MODELS:
            row = study_row(args.runs / f"{ds}-{model}", ds, model, args.shipped_runs)
            if row is not None:
                rows.append(row)
    rows = carry(rows, args.out.with_suffix(".json"))
    finished = frozenset((r["dataset"], r["model"]) for r in rows if r.get("carried"))
    rest = remaining(args.runs, args.trials, finished=finished)
    text = markdown(rows)
    if rest:
        text += "\n**Still to run** (the plan: `all.sh`)\n\n" + markdown_remaining(rest)
    args.out.write_text(text)
    plot(rows, args.out.with_suffix(".png"))
    args.out.with_suffix(".json").write_text(
        json.dumps({"rows": rows, "remaining": rest}, indent=1) + "\n"
    )
    print(text, end="")


if __name__ == "__main__":
    main()

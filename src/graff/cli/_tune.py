"""``graff tune``: the arguments and the printing of a hyperparameter search."""

from __future__ import annotations

import argparse

__all__ = ["add_tune_arguments", "cmd_tune"]


def add_tune_arguments(t: argparse.ArgumentParser, models: str) -> None:
    from graff.cli._types import positive_int, worker_count
    from graff.tune import DEFAULT_TRIALS

    t.description = (
        f"{t.description}. The search starts from the config graff train would run (shipped "
        "config, else the model's defaults). --out holds one study (study.json names it); "
        "another study into it is refused. A study journal whose last record a crash cut "
        "short is repaired before the search (the damaged bytes are moved to "
        "study.journal.damaged-<time>, every complete record kept, a warning printed); "
        "damage in the middle is refused with the line and byte."
    )
    t.add_argument("--dataset", required=True, help="a dataset name or npz:PATH")
    t.add_argument("--model", default="graff", help=f"one of {models} (default graff)")
    t.add_argument(
        "--trials",
        type=positive_int,
        default=DEFAULT_TRIALS,
        help=f"finished trials to reach (default {DEFAULT_TRIALS})",
    )
    t.add_argument(
        "--sampler-seed",
        type=int,
        default=0,
        help="seed of the TPE sampler: which settings are drawn (default 0); --seed is the "
        "runs' base seed, as in graff train",
    )
    t.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    t.add_argument("--splits", help="K (the first K splits) or a list 0,1,2 (default: see docs)")
    t.add_argument(
        "--space",
        help="a search-space YAML, or a shipped space by name, e.g. residual/gcn (default: "
        "the model's shipped one; its residual recipe's for a config with model.block=residual)",
    )
    t.add_argument("--storage", help="Optuna storage URL (default: a journal file in --out)")
    t.add_argument("--study", help="study name (default <model>-<dataset>)")
    t.add_argument(
        "--jobs", type=worker_count, default=1, help="worker processes sharing the study"
    )
    t.add_argument(
        "--final",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="train the best config on every split at the end (default: yes)",
    )
    t.add_argument(
        "--base-trial",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="make trial 0 of a new study the base config (what graff train would run) "
        "(default: yes)",
    )
    t.add_argument("--out", help="output folder (default runs/tune/<dataset>-<model>)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="fixed config overrides")


def cmd_tune(args: argparse.Namespace) -> int:
    import json
    import logging

    from graff.cli import _render as r
    from graff.tune import TrialEvent, parse_splits, tune

    out = args.out or f"runs/tune/{args.dataset.replace(':', '_').replace('/', '_')}-{args.model}"

    class _Say(logging.Handler):  # a repaired journal and other warnings: one line each
        def emit(self, record: logging.LogRecord) -> None:
            r.say(f"note: {record.getMessage()}", stderr=True)

    say = _Say(logging.WARNING)
    logger = logging.getLogger("graff.tune")
    bar = r.progress_bar(not args.no_progress)
    task = bar.add_task(f"tune {args.model} on {args.dataset}", total=args.trials, info="")

    def on_trial(ev: TrialEvent) -> None:
        best = "—" if ev.best_value is None else f"{ev.best_value:.2f} (#{ev.best_number})"
        bar.update(task, completed=ev.finished, info=f"best val {best}")

    logger.addHandler(say)
    try:
        with bar:
            result = tune(
                args.dataset,
                args.model,
                trials=args.trials,
                timeout=args.timeout,
                splits=parse_splits(args.splits),
                space=args.space,
                storage=args.storage,
                study_name=args.study,
                jobs=args.jobs,
                final=args.final,
                base_trial=args.base_trial,
                out_dir=out,
                data_dir=args.data_dir,
                overrides=[*(args.set or ()), *([f"device={args.device}"] if args.device else [])],
                seed=args.seed,
                sampler_seed=args.sampler_seed,
                threads=args.threads or 1,
                batch=args.batch,
                on_trial=on_trial,
            )
    except KeyboardInterrupt:
        r.error(
            f"the study in {out} keeps every finished trial; rerun the same command to go on",
            label="interrupted",
        )
        return 130
    finally:
        logger.removeHandler(say)
    if args.json:
        from graff.train import config_to_dict

        payload = {k: v for k, v in vars(result).items() if k != "best_config"}
        payload["best_config"] = config_to_dict(result.best_config)
        print(json.dumps(payload, indent=2, default=str))
        return 0
    for line in result.report():
        r.say(line)
    return 0

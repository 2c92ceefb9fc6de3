"""``graff tune``: the arguments and the printing of a hyperparameter search."""

from __future__ import annotations

import argparse

__all__ = ["add_tune_arguments", "cmd_tune"]


def add_tune_arguments(t: argparse.ArgumentParser, models: str) -> None:
    t.add_argument("--dataset", required=True, help="a dataset name or npz:PATH")
    t.add_argument("--model", default="graff", help=f"one of {models} (default graff)")
    t.add_argument("--trials", type=int, default=50, help="finished trials to reach (default 50)")
    t.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    t.add_argument("--splits", help="K (the first K splits) or a list 0,1,2 (default: see docs)")
    t.add_argument("--space", help="a search-space YAML (default: the shipped one of the model)")
    t.add_argument("--storage", help="Optuna storage URL (default: a journal file in --out)")
    t.add_argument("--study", help="study name (default <model>-<dataset>)")
    t.add_argument("--jobs", type=int, default=1, help="worker processes sharing the study")
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
        help="make trial 0 of a new study the base config (the shipped one) (default: yes)",
    )
    t.add_argument("--out", help="output folder (default runs/tune/<dataset>-<model>)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="fixed config overrides")


def cmd_tune(args: argparse.Namespace) -> int:
    import json

    from graff.cli import _render as r
    from graff.tune import TrialEvent, parse_splits, tune

    out = args.out or f"runs/tune/{args.dataset.replace(':', '_').replace('/', '_')}-{args.model}"
    bar = r.progress_bar(not args.no_progress)
    task = bar.add_task(f"tune {args.model} on {args.dataset}", total=args.trials, info="")

    def on_trial(ev: TrialEvent) -> None:
        best = "—" if ev.best_value is None else f"{ev.best_value:.2f} (#{ev.best_number})"
        bar.update(task, completed=ev.finished, info=f"best val {best}")

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
                seed=args.seed or 0,
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
    if args.json:
        from graff.train import config_to_dict

        payload = {k: v for k, v in vars(result).items() if k != "best_config"}
        payload["best_config"] = config_to_dict(result.best_config)
        print(json.dumps(payload, indent=2, default=str))
        return 0
    for line in result.report():
        r.say(line)
    return 0

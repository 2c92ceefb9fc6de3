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
    t.add_argument("--storage", help="Optuna storage URL (default: a SQLite file in --out)")
    t.add_argument("--study", help="study name (default <dataset>-<model>)")
    t.add_argument("--jobs", type=int, default=1, help="worker processes sharing the study")
    t.add_argument(
        "--final",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="train the best config on every split at the end (default: yes)",
    )
    t.add_argument("--out", help="output folder (default runs/tune-<dataset>-<model>)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="fixed config overrides")


def cmd_tune(args: argparse.Namespace) -> int:
    raise NotImplementedError

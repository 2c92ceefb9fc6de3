"""Compare finished ``graff tune`` searches with the shipped configs; ship the ones that win.

For each search folder (``graff tune --out DIR``: ``best.yaml`` and ``final/summary.json``),
the shipped config of the same model and dataset is trained on every split (into
``--shipped-runs``, reused when already there), and the two are compared on **validation
only**: the mean best-validation metric over all splits. With ``--write``, a tuned config that
wins replaces the shipped one, its provenance saying what it beat. Prints a Markdown table
(validation and test of both, the decision) that the README's table of tuned cells is.

    python tools/ship_tuned.py runs/tune/texas-gcn runs/tune/texas-mlp [--write]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from graff.configs import configs_dir, shipped_config
from graff.train import (
    RunDirError,
    config_for_file,
    config_identity,
    config_to_dict,
    load_config,
    read_summary,
    run,
)

#: early stopping of the GRAFF-without-residual ablation (its configs are GRAFF's plus this).
NORES_PATIENCE = 50


@dataclass
class Cell:
    """One model on one dataset: the shipped and the tuned config's 10-split scores."""

    model: str
    dataset: str
    shipped_val: float
    shipped_test: str
    tuned_val: float
    tuned_test: str
    trials: int
    search: str
    same: bool = False  # the search chose the shipped config itself

    @property
    def tuned_wins(self) -> bool:
        return not self.same and self.tuned_val > self.shipped_val

    def row(self) -> str:
        decision = "tuned wins" if self.tuned_wins else "shipped wins"
        if self.same:
            decision += " (the search chose it)"
        return (
            f"| {self.model} | {self.dataset} | {self.shipped_val:.2f} | {self.shipped_test} | "
            f"{self.tuned_val:.2f} | {self.tuned_test} | {self.trials} | {self.search} | "
            f"{decision} |"
        )


def _scores(summary: dict[str, object]) -> tuple[float, str]:
    val = statistics.fmean(summary["val"])  # type: ignore[arg-type]
    return val, f"{summary['mean']:.2f} ± {summary['std']:.2f}"


def _shipped(model: str, dataset: str) -> Path:
    path = shipped_config(model, dataset)
    if path is None:
        raise SystemExit(f"no shipped config for {model}/{dataset}")
    return path


def _shipped_summary(config: Path, out: Path, threads: int) -> dict[str, object]:
    try:
        return read_summary(out)
    except RunDirError:  # not there yet (or damaged): train it
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            run(load_config(config), out_dir=out, overwrite=True)
        finally:
            torch.set_num_threads(old)
        return read_summary(out)


def _search_facts(tune_dir: Path) -> tuple[int, str]:
    """Counted trials and the study's wall time, read from best.yaml's provenance."""
    prov = load_config(tune_dir / "best.yaml").provenance
    trials = re.search(r"; (\d+) trials \(", prov)
    wall = re.search(r"the study took (\d+) s of wall time", prov)
    return int(trials.group(1)) if trials else 0, f"{wall.group(1)} s" if wall else "?"


def compare(tune_dir: Path, runs: Path, threads: int = 1) -> Cell:
    best = load_config(tune_dir / "best.yaml")
    model, dataset = best.model.name, best.data.dataset
    tuned = json.loads((tune_dir / "final" / "summary.json").read_text())
    config = _shipped(model, dataset)
    shipped = _shipped_summary(config, runs / f"{dataset}-{model}", threads)
    same = config_identity(best) == config_identity(load_config(config))
    trials, search = _search_facts(tune_dir)
    sv, st = _scores(shipped)
    tv, tt = _scores(tuned)
    return Cell(model, dataset, sv, st, tv, tt, trials, search, same)


#: the repository's root: paths under it are named relative to it in a shipped provenance
REPO_ROOT = Path(__file__).resolve().parents[1]


def ship(cell: Cell, tune_dir: Path, command: str | None = None) -> Path:
    """Write the tuned config over the shipped one, its provenance naming what it beat and
    ``command``, the command that made the search (default: the plain ``graff tune`` line)."""
    cfg = load_config(tune_dir / "best.yaml")
    path = configs_dir() / cell.model / f"{cell.dataset}.yaml"
    replaced = " ".join(load_config(path).provenance.split()) if path.is_file() else ""
    # the study lived in a local folder and its space may be a file of the repository: name
    # them relative to the repository, not this machine
    prov = re.sub(r"(sqlite:///|journal:)?/\S*?(runs/tune/)", r"\2", cfg.provenance)
    prov = prov.replace(f"{REPO_ROOT}/", "")
    command = command or (
        f"graff tune --dataset {cell.dataset} --model {cell.model} --trials {cell.trials} "
        "--threads 1"
    )
    cfg.provenance = (
        f"{prov} Shipped because its mean validation over all 10 splits, {cell.tuned_val:.2f}, "
        f"beat the previously shipped config's {cell.shipped_val:.2f} (test, for the record "
        f"only: {cell.tuned_test} against {cell.shipped_test}); command: {command}."
        + (f" The config it replaced: {replaced}" if replaced else "")
    )
    body = config_for_file(config_to_dict(cfg))
    body.pop("device", None)  # where it runs is not part of a shipped setting
    record = {"provenance": body.pop("provenance"), **body}
    _write(path, f"{cell.model} on {cell.dataset}: tuned by graff tune (see provenance).", record)
    if cell.model == "graff":
        _ablation(record, cell.dataset)
    return path


def _ablation(record: dict[str, object], dataset: str) -> Path:
    """GRAFF without residual runs with GRAFF's settings (plus patience 50): keep its config
    in step with a newly shipped GRAFF config."""
    model = dict(record["model"])  # type: ignore[call-overload]
    model["name"] = "graff_nores"
    optim = dict(record["optim"])  # type: ignore[call-overload]
    optim["patience"] = NORES_PATIENCE
    prov = (
        "Ablation 'GRAFF without residual' (F <- tau(-F Omega + A F W + beta F(0))): the "
        f"hyperparameters of configs/graff/{dataset}.yaml, unchanged, not searched, plus early "
        f"stopping after {NORES_PATIENCE} epochs without a better validation score (the time "
        "budget; without the residual the best epoch is often early). That config's "
        f"provenance: {record['provenance']}"
    )
    rest = {k: v for k, v in record.items() if k != "provenance"}
    body = {"provenance": prov, **rest, "model": model, "optim": optim}
    path = configs_dir() / "graff_nores" / f"{dataset}.yaml"
    return _write(
        path, f"graff_nores on {dataset}. Copied from configs/graff/{dataset}.yaml.", body
    )


def _write(path: Path, header: str, record: dict[str, object]) -> Path:
    """A shipped config file: a one-line comment, then the record as YAML."""
    path.write_text(
        f"# {header}\n" + yaml.safe_dump(record, sort_keys=False, width=100, allow_unicode=True)
    )
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tune_dirs", nargs="+", type=Path)
    ap.add_argument("--shipped-runs", type=Path, default=Path("runs/shipped"))
    ap.add_argument("--write", action="store_true", help="ship the tuned configs that win")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the shipped runs")
    ap.add_argument(
        "--command",
        help="the command that made the search(es), for the provenance (default: the plain "
        "graff tune line); e.g. 'benchmarks/heterophily/search.sh graff minesweeper'",
    )
    args = ap.parse_args(argv)
    for d in args.tune_dirs:  # before anything trains: every folder a finished search
        missing = [f for f in ("best.yaml", "final/summary.json") if not (d / f).is_file()]
        if missing:
            raise SystemExit(
                f"{d} is not a finished graff tune search (no {' or '.join(missing)}): let its "
                "search and final run finish (rerun the same graff tune command to resume it)"
            )
    print(
        "| model | dataset | shipped val | shipped test | tuned val | tuned test | trials "
        "| search wall time | decision |\n|---|---|---|---|---|---|---|---|---|"
    )
    for d in args.tune_dirs:
        cell = compare(d, args.shipped_runs, args.threads)
        print(cell.row())
        if args.write and cell.tuned_wins:
            ship(cell, d, args.command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

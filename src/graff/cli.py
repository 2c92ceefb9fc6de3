"""The ``graff`` command: demo, train, reproduce, datasets."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from graff.configs import available_configs, configs_dir, shipped_config

# Redirected output (logs, CI) gets a fixed width wide enough for the result tables.
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True)


# -- progress ----------------------------------------------------------------------------------
def _progress(enabled: bool) -> Progress:
    """A rich bar with a description, M/N done, a free ``info`` field and the elapsed time."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
    )


class _RunProgress:
    """A rich progress bar over splits × epochs, with the best validation score so far."""

    def __init__(self, label: str, epochs: int, n_splits: int, enabled: bool = True) -> None:
        self.epochs = epochs
        self.progress = _progress(enabled)
        self.task = self.progress.add_task(label, total=epochs * n_splits, info="")
        self.best = 0.0

    def __enter__(self) -> _RunProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def split_start(self, k: int, n: int) -> None:
        self.best = 0.0

    def epoch(self, k: int, e: int, scores: dict[str, float]) -> None:
        self.best = max(self.best, scores["val"])
        self.progress.advance(self.task)
        if e % 10 == 0 or e == self.epochs:
            self.progress.update(
                self.task, info=f"split {k}  epoch {e}  best val {100 * self.best:.1f}"
            )


# -- shared helpers ----------------------------------------------------------------------------
def _resolve_config(args: argparse.Namespace, dataset: str | None, model: str | None) -> Any:
    from graff.train import RunConfig, apply_overrides, load_config

    cfg = RunConfig()
    source = "defaults"
    if getattr(args, "config", None):
        cfg = load_config(args.config)
        source = str(args.config)
    elif dataset is not None:
        path = shipped_config(model or "graff", dataset)
        if path is not None:
            cfg = load_config(path)
            source = str(path)
    if dataset is not None:
        cfg.data.dataset = dataset
    if model is not None:
        cfg.model.name = model
    apply_overrides(cfg, list(getattr(args, "set", None) or []))
    return cfg.validate(), source


def _load_prepared(cfg: Any, data_dir: str | None) -> Any:
    from graff.reproduce import load_prepared

    return load_prepared(cfg, data_dir)


def _run_with_progress(cfg: Any, prepared: Any, out: Path | None, args: argparse.Namespace) -> Any:
    from graff.train import run

    n = len(cfg.data.splits) if cfg.data.splits is not None else prepared.num_splits
    label = f"{cfg.model.name} on {prepared.name}"
    with _RunProgress(label, cfg.optim.epochs, n, enabled=not args.no_progress) as bar:
        return run(
            cfg,
            prepared,
            out,
            overwrite=getattr(args, "overwrite", False),
            on_split_start=bar.split_start,
            on_epoch=bar.epoch,
        )


def _fmt(mean: float, std: float) -> str:
    return f"{mean:.2f} ± {std:.2f}"


# -- commands ----------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    cfg, source = _resolve_config(args, args.dataset, args.model)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = (
        Path(args.out)
        if args.out
        else Path("runs") / f"{cfg.data.dataset}-{cfg.model.name}-{stamp}"
    )
    console.print(f"config: {source}; run directory: {out}")
    prepared = _load_prepared(cfg, args.data_dir)
    try:
        summary = _run_with_progress(cfg, prepared, out, args)
    except KeyboardInterrupt:
        err_console.print(
            f"[yellow]interrupted[/]: finished splits are kept in {out}; rerun with "
            f"--out {out} and the same options to resume"
        )
        return 130
    metric = "ROC-AUC" if summary.metric == "roc_auc" else "accuracy"
    console.print(
        f"{summary.model} on {summary.dataset}: test {metric} {_fmt(summary.mean, summary.std)} "
        f"% over {len(summary.splits)} splits (± sample std), {summary.seconds:.1f} s"
    )
    console.print(f"results: {out / 'summary.json'}")
    return 0


def _print_cell(model: str, ds: str, summary: dict[str, Any]) -> None:
    console.print(
        f"{model} on {ds}: {_fmt(summary['mean'], summary['std'])} "
        f"{'ROC-AUC' if summary['metric'] == 'roc_auc' else '%'} "
        f"in {summary['seconds']:.0f} s",
        highlight=False,
    )


def _train_parallel(
    todo: list[tuple[str, str, Any, Path]], args: argparse.Namespace
) -> dict[tuple[str, str], dict[str, Any]]:
    """Train the cells in ``args.jobs`` worker processes, dearest first; one bar over cells."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    from graff.reproduce import estimated_cost, train_cell

    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    order = sorted(todo, key=lambda c: estimated_cost(c[2]), reverse=True)
    done: dict[tuple[str, str], dict[str, Any]] = {}
    progress = _progress(not args.no_progress)
    ctx = multiprocessing.get_context("spawn")  # no forked OpenMP/MKL thread pools
    with progress, ProcessPoolExecutor(args.jobs, mp_context=ctx) as pool:
        task = progress.add_task(
            f"{len(order)} runs, {args.jobs} processes × {threads} thread(s)",
            total=len(order),
            info="",
        )
        running: dict[Future[dict[str, Any]], tuple[str, str]] = {}
        for model, ds, cfg, run_dir in order:
            fut = pool.submit(
                train_cell, _cfg_dict(cfg), str(run_dir), args.data_dir, threads, args.overwrite
            )
            running[fut] = (model, ds)
        try:
            pending = set(running)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    model, ds = running[fut]
                    summary = fut.result()  # re-raises a worker's error (config, data, NaN)
                    done[model, ds] = summary
                    _print_cell(model, ds, summary)
                    progress.update(task, advance=1, info=f"last: {model} on {ds}")
        except BaseException:
            for fut in running:
                fut.cancel()
            raise
    return done


def cmd_reproduce(args: argparse.Namespace) -> int:
    from graff.reproduce import Cell, dataset_groups, paper_cell, results_csv, results_markdown
    from graff.train import RunDirError, published_results, read_summary
    from graff.train.config import MODEL_NAMES

    models = [m.strip() for m in (args.models or "graff").split(",") if m.strip()]
    if models == ["all"]:
        models = list(MODEL_NAMES)
    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown:
        raise RunDirError(f"unknown model(s) {unknown}; choose from {', '.join(MODEL_NAMES)}")
    datasets = dataset_groups(args.datasets)
    if args.jobs < 1:
        raise RunDirError(f"--jobs must be at least 1, got {args.jobs}")
    missing = [(m, d) for m in models for d in datasets if shipped_config(m, d) is None]
    if missing:
        listing = ", ".join(f"{m}/{d}" for m, d in missing)
        raise RunDirError(
            f"no shipped config for {listing} in {configs_dir()}; available for "
            + "; ".join(
                f"{m}: " + ", ".join(available_configs(m))
                for m in models
            )
        )
    published = published_results()
    out_root = Path(args.out)
    t0 = time.perf_counter()
    # 1. what each cell needs: a finished run to reuse, training, or (--table-only) nothing
    plan: list[tuple[str, str, Any, Path]] = []
    summaries: dict[tuple[str, str], dict[str, Any]] = {}
    skipped: list[str] = []
    for model in models:
        for ds in datasets:
            args.config = str(shipped_config(model, ds))
            cfg, _ = _resolve_config(args, None, None)
            run_dir = out_root / f"{ds}-{model}"
            plan.append((model, ds, cfg, run_dir))
            if (run_dir / "summary.json").exists() and not args.overwrite:
                summary = read_summary(run_dir)
                if summary.get("config") != _cfg_dict(cfg):
                    raise RunDirError(
                        f"{run_dir} holds a finished run with another configuration; "
                        "pass --overwrite or another --out"
                    )
                console.print(f"{model} on {ds}: reusing finished run in {run_dir}")
                _print_cell(model, ds, summary)
                summaries[model, ds] = summary
            elif args.table_only:
                skipped.append(f"{model}/{ds}")
    todo = [c for c in plan if (c[0], c[1]) not in summaries and not args.table_only]
    # 2. train what is missing: here with a progress bar per cell, or in --jobs processes
    try:
        if args.jobs > 1 and len(todo) > 1:
            summaries.update(_train_parallel(todo, args))
        else:
            for model, ds, cfg, run_dir in todo:
                prepared = _load_prepared(cfg, args.data_dir)
                summary = _run_with_progress(cfg, prepared, run_dir, args).to_json()
                _print_cell(model, ds, summary)
                summaries[model, ds] = summary
    except KeyboardInterrupt:
        err_console.print(
            f"[yellow]interrupted[/]: finished runs are kept under {out_root}; rerun the "
            "same command to resume"
        )
        return 130
    # 3. the table, in the order of --models × --datasets
    cells: list[Cell] = []
    for model, ds, cfg, _run_dir in plan:
        if (model, ds) not in summaries:
            continue
        summary = summaries[model, ds]
        paper = paper_cell(published, model, ds)
        cells.append(
            Cell(
                model=model,
                dataset=ds,
                metric=summary["metric"],
                mean=summary["mean"],
                std=summary["std"],
                n_splits=len(summary["test"]),
                seconds=summary["seconds"],
                w_type=cfg.model.w_type if model.startswith("graff") else "",
                paper_model=paper["model"] if paper else "",
                paper_mean=paper["mean"] if paper else float("nan"),
                paper_std=paper["std"] if paper else float("nan"),
            )
        )
    wall = time.perf_counter() - t0
    if skipped:
        console.print(
            f"--table-only: no finished run for {len(skipped)} cells (left empty): "
            + ", ".join(skipped),
            highlight=False,
        )
    if not cells:
        raise RunDirError(f"no finished runs under {out_root} for these models and datasets")
    md = results_markdown(cells)
    console.print(_markdown_table(md))
    console.print(
        f"wall time {wall:.0f} s (this invocation); ± is the sample std over each run's splits; "
        "† = more than 2 published std from the published mean",
        highlight=False,
    )
    out_root.mkdir(parents=True, exist_ok=True)
    (out_root / "reproduce.md").write_text(md)
    (out_root / "reproduce.csv").write_text(results_csv(cells))
    console.print(f"table written to {out_root / 'reproduce.md'} and reproduce.csv")
    return 0


def _markdown_table(md: str) -> Table:
    """A rich Table from the Markdown table (published rows dimmed)."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in md.splitlines()]
    table = Table(title="ours vs published (test accuracy % or ROC-AUC ×100, 10 splits)")
    for head in rows[0]:
        table.add_column(head.replace(" (ROC-AUC)", "\n(ROC-AUC)"))
    for cells in rows[2:]:
        style = "dim" if cells[0].endswith("published") else None
        table.add_row(*cells, style=style)
    return table


def _cfg_dict(cfg: Any) -> dict[str, Any]:
    from graff.train.config import config_to_dict

    return config_to_dict(cfg)


#: Datasets with required parameters are listed with these (statistics of one instance).
EXAMPLE_PARAMS: dict[str, dict[str, Any]] = {"syn-cora": {"homophily": 0.5, "replica": 1}}


def cmd_datasets(args: argparse.Namespace) -> int:
    from graff.data import dataset_files_present, graph_stats, list_datasets, load_dataset

    table = Table(title="graff datasets (edges: undirected, without self-loops)")
    table.add_column("name", no_wrap=True)
    for h in (
        "family",
        "files",
        "nodes",
        "edges",
        "features",
        "classes",
        "edge hom.",
        "splits",
        "metric",
    ):
        table.add_column(h)
    records = []
    for info in list_datasets():
        present, missing = dataset_files_present(info.name, args.data_dir)
        rec: dict[str, Any] = {
            "name": info.name,
            "family": info.family,
            "present": present,
            "missing": missing,
            "metric": info.metric,
        }
        params = EXAMPLE_PARAMS.get(info.name, {})
        if params:
            rec["params"] = params
        if present and not args.no_stats:
            try:
                data = load_dataset(info.name, args.data_dir, download=False, **params)
                stats = graph_stats(data)
                rec.update(stats)
            except Exception as err:  # shown in the table, not fatal for the listing
                rec["error"] = str(err)
        records.append(rec)
        files = "generated" if not info.files else ("yes" if present else f"missing {len(missing)}")
        label = info.name + "".join(f" {k[0]}={v}" for k, v in params.items())
        table.add_row(
            label,
            info.family,
            files,
            str(rec.get("nodes", "")),
            str(rec.get("undirected_edges", "")),
            str(rec.get("features", "")),
            str(rec.get("classes", "")),
            f"{rec['edge_homophily']:.3f}" if "edge_homophily" in rec else rec.get("error", ""),
            str(rec.get("num_splits", "")),
            info.metric,
        )
    if args.json:
        print(json.dumps(records, indent=2, default=str))
    else:
        console.print(table)
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from graff import _plots
    from graff.analyze import analyze_run, text_report

    report, _, response = analyze_run(args.run_dir, split=args.split, data_dir=args.data_dir)
    out = Path(args.out) if args.out else Path(args.run_dir) / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    text = text_report(report)
    (out / "analysis.json").write_text(json.dumps(report, indent=2))
    (out / "report.txt").write_text(text)
    print(text, end="")
    if not args.no_plots:
        made = [
            _plots.plot_energy(report, out / "energy.png"),
            _plots.plot_w_spectrum(report, out / "w_spectrum.png"),
        ]
        if response is not None:
            made.append(_plots.plot_frequency_response(report, response, out / "frequency.png"))
        console.print("plots: " + ", ".join(str(p) for p in made), highlight=False)
    console.print(f"report: {out / 'analysis.json'}", highlight=False)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from graff.data import csbm
    from graff.train import RunConfig, prepare_data, run

    n_splits = 2 if args.quick else 5
    data = csbm(
        num_nodes=1000,
        num_classes=4,
        homophily=0.05,
        avg_degree=10.0,
        num_features=32,
        feature_signal=0.8,
        num_splits=n_splits,
        seed=0,
    )
    prepared = prepare_data(data)
    console.print(
        f"[bold]graff demo[/]: a synthetic heterophilic graph (contextual SBM, {data.num_nodes} "
        f"nodes, edge homophily 0.05, {n_splits} random 48/32/20 splits), no files needed"
    )
    results = []
    for name, model_cfg in (
        (
            "GRAFF (DD)",
            {
                "name": "graff",
                "w_type": "dd",
                "hidden": 32,
                "T": 3.0,
                "step_size": 0.5,
                "dropout": 0.2,
                "input_dropout": 0.2,
            },
        ),
        ("MLP", {"name": "mlp", "hidden": 32, "dropout": 0.2, "input_dropout": 0.2}),
    ):
        cfg = RunConfig()
        for k, v in model_cfg.items():
            setattr(cfg.model, k, v)
        cfg.optim.epochs = 60 if args.quick else 100
        cfg.optim.lr = 0.01
        cfg.validate()
        with _RunProgress(name, cfg.optim.epochs, n_splits, enabled=not args.no_progress) as bar:
            summary = run(cfg, prepared, on_split_start=bar.split_start, on_epoch=bar.epoch)
        results.append((name, summary))
    table = Table(title="demo: test accuracy (%) over splits, ± sample std")
    for h in ("model", "test accuracy", "seconds"):
        table.add_column(h)
    for name, s in results:
        table.add_row(name, _fmt(s.mean, s.std), f"{s.seconds:.1f}")
    console.print(table)
    return 0


def cmd_figure(args: argparse.Namespace) -> int:
    from graff.experiments import FIGURES, FigureOptions, make_figure

    if args.name not in FIGURES:
        err_console.print(
            f"[bold red]error[/]: {FIGURES.unknown_message(args.name)}", highlight=False
        )
        return 2
    opts = FigureOptions(
        out=Path(args.out),
        quick=args.quick,
        data_dir=args.data_dir,
        progress=not args.no_progress,
        runs=Path(args.runs) if args.runs else None,
    )
    t0 = time.perf_counter()
    paths, findings = make_figure(args.name, opts)
    for line in findings:
        console.print(line, highlight=False)
    console.print(
        f"{args.name}: {', '.join(str(p) for p in paths)} ({time.perf_counter() - t0:.0f} s)",
        highlight=False,
    )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from graff.bench import BenchError
    from graff.bench import cli as bench_cli

    try:
        return bench_cli(args, console)
    except BenchError as err:
        err_console.print(f"[bold red]error[/]: {err}", highlight=False)
        return 2


# -- entry point -------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="graff", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--data-dir",
            help="folder with the raw data files (else $GRAFF_DATA, then the user cache)",
        )
        sp.add_argument("--no-progress", action="store_true", help="no progress bar")
        sp.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")

    t = sub.add_parser("train", help="train a model on all splits of a dataset")
    t.add_argument("--dataset", required=True)
    t.add_argument(
        "--model",
        default=None,
        help="graff (default), graff_nores, mlp, gcn, gat, sage, gcnii, appnp, gprgnn, h2gcn, "
        "grand, cgnn or pde_gcn; model-specific options via --set model.params.NAME=VALUE",
    )
    t.add_argument("--config", help="YAML config (default: the shipped one for the dataset)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key")
    t.add_argument("--out", help="run directory (default runs/<dataset>-<model>-<time>)")
    t.add_argument("--overwrite", action="store_true", help="replace a finished run in --out")
    common(t)
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("reproduce", help="run the shipped configs, compare with the paper")
    r.add_argument("--models", help="comma-separated model names, or all (default: graff)")
    r.add_argument(
        "--datasets",
        help="comma-separated names, or paper (the 9 + cornell_old), extra (filtered "
        "chameleon/squirrel, minesweeper, tolokers) or all (default)",
    )
    r.add_argument("--out", default="runs/reproduce", help="root of the run directories")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="override for all runs")
    r.add_argument("--overwrite", action="store_true", help="rerun finished datasets")
    r.add_argument(
        "--table-only", action="store_true", help="train nothing: tabulate the finished runs"
    )
    r.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="train this many runs at once in worker processes (each with --threads, default "
        "cores / jobs); e.g. --jobs 2 on 2 cores",
    )
    common(r)
    r.set_defaults(func=cmd_reproduce)

    d = sub.add_parser("datasets", help="list datasets, file presence and statistics")
    d.add_argument("--data-dir")
    d.add_argument("--no-stats", action="store_true", help="skip loading graphs for statistics")
    d.add_argument("--json", action="store_true", help="print JSON instead of a table")
    d.set_defaults(func=cmd_datasets)

    a = sub.add_parser("analyze", help="spectrum, LFD/HFD regime, energy and plots of a GRAFF run")
    a.add_argument("run_dir", help="a run directory written by graff train / reproduce")
    a.add_argument("--split", type=int, default=0, help="which split's model (default 0)")
    a.add_argument("--out", help="output folder (default RUN_DIR/analysis)")
    a.add_argument("--no-plots", action="store_true", help="write JSON and text only")
    a.add_argument("--data-dir")
    a.set_defaults(func=cmd_analyze)

    f = sub.add_parser(
        "figure",
        help="regenerate one of the paper's figures (graff.experiments)",
        description="Figures: syn-cora, prediction-homophily, particles, spectrum, depth, "
        "runtime. Each writes NAME.png and NAME.csv (particles also a GIF) to --out.",
    )
    f.add_argument("name", help="figure name (graff figure --help lists them)")
    f.add_argument("--quick", action="store_true", help="tiny settings (seconds; for tests)")
    f.add_argument("--out", default="docs/figures", help="output folder (default docs/figures)")
    f.add_argument("--runs", help="spectrum: reuse finished run dirs <RUNS>/<dataset>-graff")
    common(f)
    f.set_defaults(func=cmd_figure)

    b = sub.add_parser("bench", help="time GRAFF against a PyG GCN of equal depth (speed)")
    b.add_argument("--quick", action="store_true", help="Cora only, depths 2 and 8 (seconds)")
    b.add_argument("--graphs", help="from cora,pubmed,synthetic,synthetic-rcm (default all)")
    b.add_argument(
        "--depths", help="comma-separated (default 2,4,…,64; 200k nodes: 2,8,32, training 2,8)"
    )
    b.add_argument("--modes", help="inference,train (default both)")
    b.add_argument("--hidden", type=int, default=64, help="feature width d (default 64)")
    b.add_argument("--repeats", type=int, help="timed rounds per model (default 5)")
    b.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    b.add_argument("--json", action="store_true", help="print the records as JSON")
    b.add_argument("--out", help="also write the JSON to this file")
    common(b)
    b.set_defaults(func=cmd_bench)

    m = sub.add_parser("demo", help="GRAFF vs an MLP on a built-in synthetic graph")
    m.add_argument("--quick", action="store_true", help="fewer splits and epochs")
    m.add_argument("--no-progress", action="store_true")
    m.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    m.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from graff.perf import tune_allocator

    tune_allocator()  # reuse freed heap memory: 1.7–2× faster epochs (graff.perf)
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
    from graff.data import GraphDataError
    from graff.train import ConfigError, DivergenceError, RunDirError

    try:
        return int(args.func(args))
    except (GraphDataError, ConfigError, RunDirError, DivergenceError) as err:
        err_console.print(f"[bold red]error[/]: {err}", highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())

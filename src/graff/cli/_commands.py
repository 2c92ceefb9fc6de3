"""The ``graff`` commands: each calls one library function and prints its result."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from graff._io import file_slug
from graff.cli import _render as r

__all__ = ["COMMANDS"]


def _metric_name(metric: str) -> str:
    return "ROC-AUC" if metric == "roc_auc" else "accuracy"


def _say_notes(notes: list[str]) -> None:
    """What the loader repaired or noticed in the data, one line each on stderr."""
    from graff.data import notable_notes

    for note in notable_notes(notes):
        r.say(f"data: {note}", stderr=True)


def _join_process_group(cfg: Any) -> int:
    """Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment), join the default
    :mod:`torch.distributed` process group (nccl on CUDA, each process on the GPU of its
    ``LOCAL_RANK``; gloo otherwise) and return this process's rank; else 0."""
    import os

    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return dist.get_rank() if dist.is_initialized() else 0
    cuda = cfg.device == "cuda"
    if cuda:
        cfg.device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    return dist.get_rank()


def cmd_train(args: argparse.Namespace) -> int:
    import torch.distributed as dist

    from graff.errors import ConfigError
    from graff.train import resolve_config

    if args.dataset is None and args.config is None:
        raise ConfigError(
            "name the graph: --dataset NAME (or npz:PATH), or --config FILE whose data.dataset "
            "names it (e.g. a search's best.yaml)"
        )
    overrides = list(args.set or ())
    if args.mode is not None:
        overrides.append(f"optim.mode={args.mode}")
    if args.precision is not None:
        overrides.append(f"optim.precision={args.precision}")
    cfg, source = resolve_config(
        args.dataset, args.model, args.config, overrides, seed=args.seed, device=args.device
    )
    ours = dist.is_available() and not dist.is_initialized()
    rank = _join_process_group(cfg)
    code = _train(args, cfg, source, rank)
    if code == 0 and ours and dist.is_initialized():
        # left to the interpreter's exit, gloo's threads can outlive it and abort the
        # process ("terminate called without an active exception", pytorch/pytorch#190489);
        # only after a clean finish, as torchtitan does: others may still be in a collective
        dist.destroy_process_group()
    return code


def _train(args: argparse.Namespace, cfg: Any, source: str, rank: int) -> int:
    """``graff train`` once the config is resolved and the process group (if any) joined."""
    from graff.data import canonical_dataset
    from graff.errors import ConfigError
    from graff.train import load_prepared, run
    from graff.train.tracking import TRACKERS, combine_hooks, parse_trackers

    if rank != 0:  # one process speaks and writes: rank 0
        args.no_progress, args.log = True, None
        args.json = False
    if args.log_dir is not None and args.log is None and rank == 0:
        raise ConfigError("--log-dir is where --log writes: add --log tensorboard, or drop it")
    trackers_named = parse_trackers(args.log) if args.log is not None else []
    canonical_dataset(cfg.data.dataset, strict=True)  # a misspelt name: before any line
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = (
        Path(args.out)
        if args.out
        else Path("runs") / file_slug(f"{cfg.data.dataset}-{cfg.model.name}-{stamp}")
    )
    r.say(f"config: {source}; run directory: {out}", stderr=args.json)
    data = load_prepared(cfg, args.data_dir)
    _say_notes(data.notes)
    label = f"{cfg.model.name} on {data.name}"
    if cfg.optim.mode == "precomputed" and cfg.model.input_dropout > 0:
        r.say(
            f"note: model.input_dropout = {cfg.model.input_dropout:g} drops entries of the "
            "precomputed rows Ā^k X in this mode, not of X before propagation (an "
            "approximation of GRAFF's; evaluation is exact)",
            stderr=True,
        )
    if args.batch is not None and args.batch > 1:  # said, not silently ignored
        from graff.train.models import unbatched_reason

        why = unbatched_reason(cfg.model.name, cfg.model.block, cfg.optim.mode)
        if why:
            note = f"note: --batch {args.batch}: {label} trains one split at a time ({why})"
            r.say(note, stderr=True)
    if cfg.optim.mode == "precomputed" and args.precomputed_dir is not None:
        from graff.train.minibatch import precompute_for

        # S first, with its own progress bar; run() then reuses the finished folder
        precompute_for(cfg, data, args.precomputed_dir, progress=not args.no_progress)
    n = len(cfg.data.splits) if cfg.data.splits is not None else data.num_splits
    bar = r.RunProgress(label, cfg.optim.epochs, n, enabled=not args.no_progress)
    log_dir = Path(args.log_dir) if args.log_dir else out / "tb"
    trackers = [TRACKERS[name](log_dir, cfg, metric=data.metric) for name in trackers_named]
    if trackers:
        r.say(f"{', '.join(trackers_named)}: {log_dir}", stderr=args.json)
    try:
        with bar:
            summary = run(
                cfg,
                data,
                out,
                data_dir=args.data_dir,
                overwrite=args.overwrite,
                batch=args.batch,
                on_split_start=bar.split_start,
                on_epoch=combine_hooks(bar.epoch, *trackers),
                precomputed_dir=args.precomputed_dir,
            )
        for tracker in trackers:
            tracker.finish(summary)
    except KeyboardInterrupt:
        r.error(
            f"finished splits are kept in {out}; rerun with --out {out} and the same "
            "options to resume",
            label="interrupted",
        )
        return 130
    finally:
        for tracker in trackers:
            tracker.close()
    if rank != 0:
        return 0
    if args.json:
        print(json.dumps({**summary.to_json(), "run_dir": str(out)}, indent=2))
        return 0
    score = (
        f"{r.fmt(summary.mean, summary.std)} % over {len(summary.splits)} splits (± sample std)"
        if len(summary.splits) > 1
        else f"{summary.mean:.2f} % on split {summary.splits[0]} (one split: no std)"
    )
    r.say(
        f"{summary.model} on {summary.dataset}: test {_metric_name(summary.metric)} {score}, "
        f"{summary.seconds:.1f} s"
        + (", bf16 mixed precision" if cfg.optim.precision == "bf16" else "")
    )
    r.say(
        f"results: {out / 'summary.json'}; per-epoch curves: {out}/history_<k>.csv; "
        f"load the models back with graff.load_run({str(out)!r})"
    )
    return 0


def _cell_line(model: str, ds: str, summary: dict[str, Any]) -> str:
    unit = "ROC-AUC" if summary["metric"] == "roc_auc" else "%"
    return (
        f"{model} on {ds}: {r.fmt(summary['mean'], summary['std'])} {unit} "
        f"in {summary['seconds']:.0f} s"
    )


def cmd_reproduce(args: argparse.Namespace) -> int:
    from graff.reproduce import ReproduceHooks, reproduce

    quiet = args.json
    state: dict[str, Any] = {}

    def cell_start(model: str, ds: str, cfg: Any, n: int) -> None:
        state["bar"] = bar = r.RunProgress(
            f"{model} on {ds}", cfg.optim.epochs, n, enabled=not args.no_progress
        )
        bar.__enter__()

    def cell_end() -> None:
        state.pop("bar").__exit__(None, None, None)

    def cells_start(n: int, jobs: int, threads: int) -> None:
        state["cells"] = p = r.progress_bar(not args.no_progress)
        p.__enter__()
        state["task"] = p.add_task(
            f"{n} runs, {jobs} processes × {threads} thread(s)", total=n, info=""
        )

    def cell_done(model: str, ds: str, summary: dict[str, Any], reused: bool) -> None:
        if reused:
            r.say(f"{model} on {ds}: reusing the finished run", stderr=quiet)
        r.say(_cell_line(model, ds, summary), stderr=quiet)
        if "cells" in state and not reused:
            state["cells"].update(state["task"], advance=1, info=f"last: {model} on {ds}")

    hooks = ReproduceHooks(
        cell_start=cell_start,
        split_start=lambda k, n: state["bar"].split_start(k, n),
        epoch=lambda k, e, s: state["bar"].epoch(k, e, s),
        cell_end=cell_end,
        cells_start=cells_start,
        cell_done=cell_done,
    )
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    if args.dry_run:
        return _reproduce_plan(args, models)
    try:
        result = reproduce(
            models,
            args.datasets,
            args.out,
            jobs=args.jobs,
            threads=args.threads,
            overwrite=args.overwrite,
            table_only=args.table_only,
            data_dir=args.data_dir,
            overrides=args.set or (),
            device=args.device,
            hooks=hooks,
        )
    except KeyboardInterrupt:
        r.error(
            f"finished runs are kept under {args.out}; rerun the same command to resume",
            label="interrupted",
        )
        return 130
    finally:
        if "cells" in state:
            state["cells"].__exit__(None, None, None)
    if args.json:
        cells = [{**c.__dict__, "diff_in_paper_std": c.diff_in_std} for c in result.cells]
        print(
            json.dumps(
                {
                    "cells": cells,
                    "skipped": result.skipped,
                    "unconfigured": result.unconfigured,
                    "seconds": result.seconds,
                },
                indent=2,
                default=str,
            )
        )
        return 0
    if result.skipped:
        r.say(
            f"--table-only: no finished run for {len(result.skipped)} cells (left empty): "
            + ", ".join(result.skipped)
        )
    if result.unconfigured:
        r.say(
            f"--models all: no shipped config for {len(result.unconfigured)} cells (left "
            "empty): " + ", ".join(result.unconfigured)
        )
    r.out.print(r.markdown_table(result.markdown))
    for note in result.notes:
        r.say(note)
    r.say(
        f"wall time {result.seconds:.0f} s (this invocation); ± is the sample std over each "
        "run's splits; † = more than 2 published std from the published mean"
    )
    r.say(f"table written to {result.files[0]} and {result.files[1].name}")
    return 0


def _reproduce_plan(args: argparse.Namespace, models: list[str] | None) -> int:
    """``graff reproduce --dry-run``: the cells and what the same command would do with each."""
    from graff.configs import configs_dir
    from graff.reproduce import plan

    cells, unconfigured = plan(
        models, args.datasets, args.out, overrides=args.set or (), device=args.device
    )
    rows = []
    for c in cells:
        state, done = c.state()
        if args.overwrite and state != "new":
            action = "train (--overwrite)"
        else:
            action = {
                "new": "train",
                "finished": "reuse the finished run",
                "resume": f"resume ({len(done)} splits done)" if done else "train",
                "other": "refused: another config's run is there (--overwrite)",
            }[state]
        if args.table_only and action.startswith(("train", "resume")):
            action = "left empty (--table-only)"
        n = "all" if c.config.data.splits is None else str(len(c.config.data.splits))
        rows.append({
            "model": c.model, "dataset": c.dataset,
            "config": str(c.config_file.relative_to(configs_dir())),
            "splits": n, "epochs": c.config.optim.epochs, "run_dir": c.run_dir.name,
            "action": action,
        })  # fmt: skip
    if args.json:
        print(json.dumps({"cells": rows, "unconfigured": unconfigured}, indent=2))
        return 0
    columns = ["model", "dataset", "config", "splits", "epochs", "run_dir", "action"]
    title = f"graff reproduce --dry-run: {len(rows)} cells (run_dir under {args.out})"
    r.out.print(r.table(title, columns, [[str(row[k]) for k in columns] for row in rows]))
    if unconfigured:
        r.say(f"no shipped config (left empty): {', '.join(unconfigured)}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from graff.cli._tune import cmd_tune as run_tune

    return run_tune(args)


def cmd_datasets(args: argparse.Namespace) -> int:
    from graff.data import GraphDataError, dataset_groups, dataset_records, list_datasets

    names = dataset_groups(",".join(args.names)) if args.names else None
    if names == []:
        raise GraphDataError("the dataset names given name no dataset; give names, or none for all")
    total = len(names) if names else len(list_datasets())
    show = not (args.no_progress or args.no_stats or args.json)
    with r.progress_bar(show) as bar:  # loading every graph for its statistics takes a while
        task = bar.add_task("datasets", total=total, info="")
        records = dataset_records(
            args.data_dir,
            stats=not args.no_stats,
            names=names,
            on_record=lambda rec: bar.update(task, advance=1, info=rec["name"]),
        )
    if args.json:
        print(json.dumps(records, indent=2, default=str))
        return 0
    rows = []
    for rec in records:
        files = (
            "generated"
            if rec["generated"]
            else "yes"
            if rec["present"]
            else ("on demand" if "on_demand" in rec else f"missing {len(rec['missing'])}")
        )
        label = rec["name"] + "".join(f" {k[0]}={v}" for k, v in rec.get("params", {}).items())
        hom = f"{rec['edge_homophily']:.3f}" if "edge_homophily" in rec else rec.get("error", "")
        rows.append(
            [label, rec["family"], files]
            + [str(rec.get(k, "")) for k in ("nodes", "undirected_edges", "features", "classes")]
            + [hom, str(rec.get("num_splits", "")), rec["metric"]]
        )
    cols = [
        "name",
        "family",
        "files",
        "nodes",
        "edges",
        "features",
        "classes",
        "edge hom.",
        "splits",
        "metric",
    ]
    r.out.print(r.table("graff datasets (edges: undirected, without self-loops)", cols, rows))
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from graff.analyze import write_analysis

    text, files = write_analysis(
        args.run_dir,
        split=args.split,
        out=args.out,
        plots=not args.no_plots,
        data_dir=args.data_dir,
    )
    print(text, end="")
    r.say("written: " + ", ".join(str(p) for p in files))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from graff.demo import demo

    def hooks(label: str, epochs: int, n: int) -> r.RunProgress:
        return r.RunProgress(label, epochs, n, enabled=not args.no_progress)

    about, results = demo(args.quick, device=args.device or "cpu", hooks=hooks)
    r.say(f"graff demo: {about}")
    rows = [[name, r.fmt(s.mean, s.std), f"{s.seconds:.1f}"] for name, s in results]
    title = "demo: test accuracy (%) over splits, ± sample std"
    r.out.print(r.table(title, ["model", "test accuracy", "seconds"], rows))
    return 0


def cmd_figure(args: argparse.Namespace) -> int:
    from graff._io import check_writable
    from graff.errors import ConfigError
    from graff.experiments import FIGURES, FigureOptions, make_figure

    FIGURES.get_or_raise(args.name)  # an unknown name first, then the folder, then the work
    if args.runs and args.name != "spectrum":
        raise ConfigError(f"--runs is read by the spectrum figure only, not by {args.name}")
    if args.runs and not Path(args.runs).is_dir():
        raise ConfigError(
            f"--runs {args.runs} is not a folder; it should hold finished runs "
            "<RUNS>/<dataset>-graff (e.g. graff reproduce's --out); leave it out to train them"
        )
    check_writable(Path(args.out) / f"{args.name}.csv")
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
        r.say(line)
    r.say(f"{args.name}: {', '.join(str(p) for p in paths)} ({time.perf_counter() - t0:.0f} s)")
    return 0


def _ints(text: str | None) -> list[int] | None:
    from graff.bench import BenchError

    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise BenchError(f"expected comma-separated integers, got {text!r}") from None


def cmd_bench(args: argparse.Namespace) -> int:
    from graff._io import check_writable
    from graff.bench import benchmark, write_results

    if args.out:  # before the benchmark, not after an hour of it
        for path in (Path(args.out), Path(args.out).with_suffix(".md")):
            check_writable(path)
    # a flag given but naming nothing (--graphs ,) is refused by benchmark, not read as absent
    split = lambda t: None if t is None else [v.strip() for v in t.split(",") if v.strip()]  # noqa: E731
    modes = ("inference", "train") if args.modes is None else split(args.modes) or []
    with r.progress_bar(not args.json and not args.no_progress) as bar:
        task = bar.add_task("bench", total=None, info="")
        payload = benchmark(
            split(args.graphs),
            _ints(args.depths),
            modes,
            hidden=args.hidden,
            repeats=args.repeats,
            memory=not args.no_memory,
            quick=args.quick,
            data_dir=args.data_dir,
            on_progress=lambda text: bar.update(task, description=text),
            device=args.device,
        )
    if args.out:
        write_results(payload, args.out)
    if args.json:
        print(json.dumps(payload, indent=2))
        return 0
    env = payload["environment"]
    threads = f"{env['threads']} thread" + ("s" if env["threads"] != 1 else "")
    rows = []
    for rec in payload["records"]:
        peaks = (rec["graff_peak_mb"], rec["gcn_peak_mb"])
        peak = "—" if None in peaks else f"{peaks[0]:.0f} / {peaks[1]:.0f}"
        rows.append(
            [
                rec["graph"],
                str(rec["depth"]),
                rec["mode"],
                f"{rec['graff_ms']:.1f}",
                f"{rec['gcn_ms']:.1f}",
                f"{rec['ratio']:.2f}",
                peak,
            ]
        )
    cols = ["graph", "depth", "mode", "GRAFF ms", "GCN ms", "ratio", "peak MB G/GCN"]
    where = threads if env["device"] == "cpu" else f"on {env['device']}"
    r.out.print(r.table(f"GRAFF vs PyG GCN, width {args.hidden} ({where})", cols, rows))
    if payload["bandwidth"]:
        rows = [
            [
                b["graph"],
                f"{b['nnz']:,}",
                str(b["hidden"]),
                f"{b['step_ms']:.2f}",
                f"{b['traffic_mb']:.0f}",
                f"{b['achieved_gbs']:.2f}",
                f"{100 * b['fraction']:.0f} %",
            ]
            for b in payload["bandwidth"]
        ]
        cols = ["graph", "nnz", "d", "step ms", "traffic MB", "GB/s", "of machine"]
        title = (
            f"Propagation step B + τĀ(FW) vs memory bandwidth "
            f"({env['machine_bandwidth_gbs']:.1f} GB/s)"
        )
        r.out.print(r.table(title, cols, rows))
    return 0


COMMANDS = {
    "train": cmd_train,
    "reproduce": cmd_reproduce,
    "tune": cmd_tune,
    "datasets": cmd_datasets,
    "analyze": cmd_analyze,
    "figure": cmd_figure,
    "bench": cmd_bench,
    "demo": cmd_demo,
}

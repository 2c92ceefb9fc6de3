"""The ``graff`` argument parser. Name lists in the help come from the registries."""

from __future__ import annotations

import argparse
import difflib

from graff.cli._types import positive_int, seed_value, worker_count

__all__ = ["blank_option", "build_parser", "unrecognised"]


def _names() -> tuple[str, str]:
    from graff.data import list_datasets
    from graff.train import MODELS

    models = ", ".join(MODELS)
    datasets = ", ".join(d.name for d in list_datasets()) + ", npz:PATH"
    return models, datasets


def build_parser() -> argparse.ArgumentParser:
    from graff import __version__

    models, datasets = _names()
    p = argparse.ArgumentParser(
        prog="graff",
        description="GRAFF, graph neural networks as gradient flows: train, reproduce the paper, "
        "tune, analyse and benchmark.",
        epilog=f"models: {models}. datasets: {datasets}. `graff COMMAND --help` for each command.",
    )
    p.add_argument("--version", action="version", version=f"graff {__version__}")
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, **kw: object) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, parents=[debug], **kw)  # type: ignore[arg-type]

    def common(sp: argparse.ArgumentParser, *, device: bool = True) -> None:
        sp.add_argument(
            "--data-dir",
            help="folder with the raw data files (else $GRAFF_DATA, then the user cache)",
        )
        sp.add_argument("--no-progress", action="store_true", help="no progress bar")
        sp.add_argument("--threads", type=worker_count, help="torch CPU threads (default: torch's)")
        if device:
            sp.add_argument(
                "--device",
                default=None,
                help="cpu (default), cuda, cuda:N, mps or auto (a GPU if there is one)",
            )

    def run_options(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--seed", type=seed_value, help="base seed (split k uses seed + k)")
        sp.add_argument(
            "--batch",
            type=positive_int,
            help="train at most this many splits side by side in one batched pass (1: one "
            "at a time; default: as many as are faster on this device, for models that can)",
        )
        sp.add_argument(
            "--json", action="store_true", help="print the result as JSON on stdout (only that)"
        )

    t = command(
        "train",
        "train a model on all splits of a dataset",
        epilog=f"datasets: {datasets}",
    )
    t.add_argument(
        "--dataset",
        help="a dataset name or npz:PATH (see below); with --config, default: the config's",
    )
    t.add_argument(
        "--model",
        default=None,
        help=f"one of {models} (default graff); model-specific options via "
        "--set model.params.NAME=VALUE",
    )
    t.add_argument(
        "--config",
        help="YAML config, e.g. a search's best.yaml (default: the shipped one for the dataset)",
    )
    t.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config key (repeatable), e.g. --set optim.epochs=200, --set "
        "model.hidden=128, --set data.splits=[0,1] (only those splits)",
    )
    t.add_argument("--out", help="run directory (default runs/<dataset>-<model>-<time>)")
    t.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run in --out once the new one has finished",
    )
    from graff.train.tracking import TRACKERS

    t.add_argument(
        "--log",
        metavar="TRACKERS",
        help="stream each split's per-epoch loss and scores, and the config with the results "
        f"as hyperparameters, to these trackers (comma-separated): {', '.join(TRACKERS)} "
        "(pip install 'graff-gnn[track]')",
    )
    t.add_argument("--log-dir", help="where --log writes (default RUN_DIR/tb, inside --out)")
    t.add_argument(
        "--mode",
        choices=("full", "precomputed"),
        help="full (default): each step on the whole graph; precomputed: linear GRAFF from "
        "S_k = Ā^k [X, 1] computed once, trained on node mini-batches of "
        "optim.batch_size training nodes (--set optim.batch_size=N); runs under torchrun. "
        "Sets optim.mode",
    )
    t.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        help="fp32 (default) or bf16: mixed precision (torch.autocast; dense products in "
        "bfloat16, sparse products and the loss in float32), faster on CPUs with "
        "AVX512-BF16/AMX and recent GPUs. Sets optim.precision",
    )
    t.add_argument(
        "--precomputed-dir",
        metavar="DIR",
        help="with --mode precomputed: keep S in DIR on disk (memory-mapped, resumable, "
        "reused) instead of in memory",
    )
    common(t)
    run_options(t)

    r = command("reproduce", "run the shipped configs, compare with the paper")
    r.add_argument(
        "--models",
        help=f"comma-separated from {models}, or all, or heterophily (the heterophily "
        "benchmark's table: graff, mlp, gcn, sage, gat, gat_sep, gcnii); default graff, or "
        "heterophily where every dataset is one of that benchmark's (extra)",
    )
    r.add_argument(
        "--datasets",
        help="comma-separated names, or paper (the 9 + cornell_old), extra (filtered "
        "chameleon/squirrel, minesweeper, tolokers) or all (default)",
    )
    r.add_argument("--out", default="runs/reproduce", help="root of the run directories")
    r.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override for all runs (a model key reaches the models that read it, e.g. "
        "model.T GRAFF's; one that no planned model reads is refused)",
    )
    r.add_argument("--overwrite", action="store_true", help="rerun finished cells")
    r.add_argument(
        "--table-only", action="store_true", help="train nothing: tabulate the finished runs"
    )
    r.add_argument(
        "--dry-run",
        action="store_true",
        help="train nothing: list the cells, their shipped configs and what each would do "
        "(train, resume, reuse)",
    )
    r.add_argument(
        "--jobs",
        type=worker_count,
        default=1,
        help="train this many runs at once in worker processes (each with --threads, default "
        "cores / jobs); e.g. --jobs 2 on 2 cores",
    )
    common(r)
    r.add_argument("--json", action="store_true", help="print the table as JSON on stdout")

    from graff.cli._tune import add_tune_arguments

    add_tune_arguments(command("tune", "search hyperparameters on validation (Optuna)"), models)
    tu = sub.choices["tune"]
    common(tu)
    run_options(tu)

    d = command("datasets", "list datasets, file presence and statistics")
    d.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="only these datasets (registered names, comma-separated lists and the groups "
        "paper, extra, all as graff reproduce --datasets takes them, or npz:PATH to check your "
        "own graph); default: every registered one",
    )
    d.add_argument("--data-dir")
    d.add_argument("--no-stats", action="store_true", help="skip loading graphs for statistics")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.add_argument("--json", action="store_true", help="print JSON instead of a table")

    a = command(
        "analyze",
        "energy along a run's steps or layers; for GRAFF also the W spectrum and LFD/HFD regime",
    )
    a.add_argument("run_dir", help="a run directory written by graff train / reproduce")
    a.add_argument("--split", type=int, default=0, help="which split's model (default 0)")
    a.add_argument("--out", help="output folder (default RUN_DIR/analysis)")
    a.add_argument("--no-plots", action="store_true", help="write JSON and text only")
    a.add_argument("--threads", type=worker_count, help="torch CPU threads (default: torch's)")
    a.add_argument(
        "--data-dir",
        help="raw-data folder; for a run on your own .npz, the file or its folder if it has moved",
    )

    from graff.experiments import FIGURES

    f = command(
        "figure",
        "regenerate one of the paper's figures",
        epilog="figures: "
        + ", ".join(FIGURES)
        + ". Each writes NAME.png and NAME.csv (particles also a GIF) to --out.",
    )
    f.add_argument("name", metavar="NAME", help=", ".join(FIGURES))
    f.add_argument("--quick", action="store_true", help="tiny settings (seconds; for tests)")
    f.add_argument("--out", default="docs/figures", help="output folder (default docs/figures)")
    f.add_argument("--runs", help="spectrum: reuse finished run dirs <RUNS>/<dataset>-graff")
    common(f, device=False)

    b = command("bench", "time GRAFF against a PyG GCN of equal depth (speed)")
    b.add_argument("--quick", action="store_true", help="Cora only, depths 2 and 8 (seconds)")
    b.add_argument("--graphs", help="from cora,pubmed,synthetic,synthetic-rcm (default all)")
    b.add_argument(
        "--depths", help="comma-separated (default 2,4,…,64; 200k nodes: 2,8,32, training 2,8)"
    )
    b.add_argument("--modes", help="inference,train (default both)")
    b.add_argument("--hidden", type=positive_int, default=64, help="feature width d (default 64)")
    b.add_argument("--repeats", type=positive_int, help="timed rounds per model (default 5)")
    b.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    b.add_argument("--json", action="store_true", help="print the records as JSON")
    b.add_argument("--out", help="also write the JSON (and FILE.md) to this file")
    common(b)

    m = command(
        "demo",
        "GRAFF vs an MLP on a built-in synthetic graph (one torch thread unless --threads: "
        "small graphs gain little from a second thread and lose much when it is busy)",
    )
    m.add_argument("--quick", action="store_true", help="fewer splits and epochs")
    common(m)
    m.set_defaults(threads=1)
    return p


def _command_parser(
    parser: argparse.ArgumentParser, command: str | None
) -> argparse.ArgumentParser:
    return next(
        (
            a.choices[command]
            for a in parser._actions
            if isinstance(a, argparse._SubParsersAction) and command in a.choices
        ),
        parser,
    )


def blank_option(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """The error for an option given an empty value (``--datasets ""``, e.g. from an unset
    shell variable), which would otherwise read as the option left out: its default, maybe
    every dataset."""
    for action in _command_parser(parser, getattr(args, "command", None))._actions:
        value = getattr(args, action.dest, None)
        if action.option_strings and isinstance(value, str) and not value.strip():
            return (
                f"{action.option_strings[-1]} is given an empty value ({value!r}); give it a "
                "value, or leave the option out for its default"
            )
    return None


def unrecognised(
    parser: argparse.ArgumentParser, command: str | None, extra: list[str], argv: list[str]
) -> str:
    """The error for arguments ``graff COMMAND`` does not take, naming the command and, for
    each unknown option, the option or the config key (``--set``) it most likely means."""
    from graff.train.config import is_list_key, keys_for_option

    sub = _command_parser(parser, command)
    options = [s for action in sub._actions for s in action.option_strings if s.startswith("--")]
    flags = {s for a in sub._actions if a.nargs == 0 for s in a.option_strings}
    hints = []
    for i, token in enumerate(extra):
        before = argv[argv.index(token) - 1] if token in argv and argv.index(token) > 0 else ""
        if before in flags and not token.startswith("--"):
            hints.append(f"{before} takes no value")
            continue
        if not token.startswith("--") or token == "--":
            continue
        name, _, value = token.partition("=")
        keys, exact = keys_for_option(name) if "--set" in options else ([], False)
        close = (
            difflib.get_close_matches(name, options, n=1, cutoff=0.8)
            or [o for o in options if name.startswith(o) or o.startswith(name)][:1]
        )
        if close and not exact:
            hints.append(f"{name}: did you mean {close[0]}?")
        elif keys:
            following = extra[i + 1] if i + 1 < len(extra) else ""
            value = value or ("" if following.startswith("-") else following) or "VALUE"
            sets = " or ".join(
                f"--set {k}={f'[{value}]' if is_list_key(k) and value[0] != '[' else value}"
                for k in keys
            )
            hints.append(f"{name} is not an option; config keys are set with --set: {sets}")
    prog = f"graff {command}" if command else "graff"
    text = f"{prog}: unrecognized argument{'s' if len(extra) > 1 else ''} {' '.join(extra)}"
    return "; ".join([text, *hints]) + f" (all options: {prog} --help)"

"""Shared pieces of the figure scripts: the figure registry, options, training one split,
loading data, the progress bar, CSV, plots.

Training and data loading go through the library: :func:`fit` is :func:`graff.train.fit_split`
(exactly split ``k`` of ``graff train`` with the same config: seed ``cfg.seed + k``,
best-validation weights) and :func:`load_prepared` is the loading of ``graff train``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from graff._progress import progress_bar
from graff.registry import Registry
from graff.train import (
    DataConfig,
    ModelConfig,
    OptimConfig,
    PreparedData,
    RunConfig,
    SplitResult,
    build_model,
    fit_split,
    model_features,
)
from graff.train import load_prepared as _load_prepared

__all__ = [
    "FIGURES",
    "FigureOptions",
    "FigureSpec",
    "Fit",
    "FitProgress",
    "fit",
    "format_cell",
    "gcn_config",
    "load_prepared",
    "pyplot",
    "register_figure",
    "run_config",
    "write_csv",
]


@dataclass(frozen=True)
class FigureOptions:
    """What ``graff figure`` passes to a figure's ``make``."""

    out: Path
    quick: bool = False
    data_dir: str | None = None
    progress: bool = True
    #: spectrum only: a folder of finished run directories ``<dataset>-graff`` to reuse.
    runs: Path | None = None


FigureResult = tuple[list[Path], list[str]]


@dataclass(frozen=True)
class FigureSpec:
    """A registered figure: ``graff figure NAME`` calls ``make``."""

    name: str
    #: the module that draws it (``graff.experiments.depth``).
    module: str
    #: what it shows, one line (``graff figure --help``, README).
    summary: str
    #: ``make(options) -> (files written, findings)``.
    make: Callable[[FigureOptions], FigureResult]


#: Every figure, in the order ``graff figure`` lists them; each module registers its own
#: ``make`` with :func:`register_figure` (``graff.experiments`` imports them all).
FIGURES: Registry[FigureSpec] = Registry("figure")


def register_figure(
    name: str, summary: str
) -> Callable[[Callable[[FigureOptions], FigureResult]], Callable[[FigureOptions], FigureResult]]:
    """Decorator: register a module's ``make`` as figure ``name`` (duplicates are refused)."""

    def add(
        make: Callable[[FigureOptions], FigureResult],
    ) -> Callable[[FigureOptions], FigureResult]:
        FIGURES.register(name, FigureSpec(name, make.__module__, summary, make))
        return make

    return add


@dataclass
class Fit:
    """One trained split: its scores and the model at the best-validation epoch (eval mode)."""

    result: SplitResult
    model: nn.Module
    #: the node features in the form the model takes them (CSR when sparse enough).
    x: Tensor


def run_config(model: ModelConfig, optim: OptimConfig, seed: int = 0) -> RunConfig:
    return RunConfig(model=model, optim=optim, seed=seed).validate()


def load_prepared(data: DataConfig, data_dir: str | None) -> PreparedData:
    """Dataset ``data`` loaded and preprocessed exactly as ``graff train`` does (from
    ``data_dir``, else $GRAFF_DATA, else the user cache)."""
    prepared: PreparedData = _load_prepared(RunConfig(data=data), data_dir)
    return prepared


def fit(cfg: RunConfig, data: PreparedData, split: int = 0) -> Fit:
    """Split ``split`` of ``graff train`` with ``cfg`` (:func:`graff.train.fit_split`: seed
    ``cfg.seed + split``, best-validation weights), with its model rebuilt in eval mode.

    Raises :class:`graff.train.DivergenceError` when training blows up.
    """
    result = fit_split(cfg, data, split)
    # Rebuilding draws fresh initial weights (then replaced): leave the global RNG untouched.
    with torch.random.fork_rng(devices=[]):
        model = build_model(cfg.model, data.x.size(1), data.num_classes)
    model.load_state_dict(result.state_dict)
    model.eval()
    return Fit(result, model, model_features(model, data.x))


def gcn_config(hidden: int, num_layers: int, dropout: float, input_dropout: float) -> ModelConfig:
    """GCN from the model registry (``model.name = gcn``)."""
    return ModelConfig(
        name="gcn",
        hidden=hidden,
        num_layers=num_layers,
        dropout=dropout,
        input_dropout=input_dropout,
    )


class FitProgress:
    """A progress bar over a figure's fits (:func:`graff._progress.progress_bar`, stderr)."""

    def __init__(self, label: str, total: int, enabled: bool = True) -> None:
        self.progress = progress_bar(enabled)
        self.task = self.progress.add_task(label, total=total, info="")

    def __enter__(self) -> FitProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def info(self, text: str) -> None:
        self.progress.update(self.task, info=text)

    def advance(self, text: str = "") -> None:
        self.progress.update(self.task, advance=1, info=text)


def write_csv(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Path:
    """Write ``rows`` with exactly ``columns`` (floats with 6 significant digits)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: format_cell(row.get(k, "")) for k in columns})
    return path


def format_cell(value: Any) -> Any:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return value


def pyplot() -> Any:
    """matplotlib.pyplot with the Agg backend (imported only when a figure is drawn)."""
    from graff._plots import _pyplot

    return _pyplot()

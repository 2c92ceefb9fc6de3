"""Shared pieces of the figure scripts: options, seeded training of one split, CSV, plots.

Training goes through the library (:func:`graff.train.build_model`, :func:`graff.train.
train_split`): a fit here is exactly split ``k`` of ``graff train`` with the same config
(seed ``cfg.seed + k``, best-validation weights).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import Tensor, nn

from graff.train import (
    ModelConfig,
    OptimConfig,
    PreparedData,
    RunConfig,
    SplitResult,
    build_model,
    prepare_data,
    train_split,
)
from graff.train.runner import model_features

__all__ = [
    "FigureOptions",
    "Fit",
    "FitProgress",
    "fit",
    "format_cell",
    "gcn_config",
    "load_prepared",
    "pyplot",
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


@dataclass
class Fit:
    """One trained split: its scores and the model at the best-validation epoch (eval mode)."""

    result: SplitResult
    model: nn.Module
    #: the node features in the form the model takes them (CSR when sparse enough).
    x: Tensor


def run_config(model: ModelConfig, optim: OptimConfig, seed: int = 0) -> RunConfig:
    return RunConfig(model=model, optim=optim, seed=seed).validate()


def load_prepared(
    name: str, data_dir: str | None, *, normalize_features: bool = False, **params: Any
) -> PreparedData:
    from graff.data import load_dataset

    data = load_dataset(name, data_dir, **params)
    return prepare_data(data, normalize_features=normalize_features)


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def fit(cfg: RunConfig, data: PreparedData, split: int = 0) -> Fit:
    """Train ``cfg.model`` on split ``split`` of ``data`` from seed ``cfg.seed + split``.

    Raises :class:`graff.train.DivergenceError` when training blows up.
    """
    with _seeded(cfg.seed + split):
        model = build_model(cfg.model, data.x.size(1), data.num_classes)
        x = model_features(model, data.x)
        result = train_split(
            model,
            x,
            data.edge_index,
            data.y,
            data.train_mask[:, split],
            data.val_mask[:, split],
            data.test_mask[:, split],
            cfg.optim,
            metric=data.metric,
            split=split,
        )
    model.load_state_dict(result.state_dict)
    model.eval()
    return Fit(result, model, x)


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
    """A rich progress bar over a figure's fits (stderr, so that stdout stays clean)."""

    def __init__(self, label: str, total: int, enabled: bool = True) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not enabled,
        )
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
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - depends on the environment
        raise RuntimeError("figures need matplotlib: pip install 'graff[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt

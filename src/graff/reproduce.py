"""The results table of ``graff reproduce``: our runs next to the published numbers.

One row per model (and under it the published row, where there is one), one column per
dataset; written as Markdown and as long-format CSV (one line per model × dataset).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DATASET_SIZES",
    "EXTRA_DATASETS",
    "PAPER_DATASETS",
    "PUBLISHED_ROWS",
    "Cell",
    "dataset_groups",
    "estimated_cost",
    "load_prepared",
    "paper_cell",
    "results_csv",
    "results_markdown",
    "train_cell",
]

#: The paper's 9 datasets (Geom-GCN splits); cornell_old = the pre-July-2022 Cornell files the
#: paper used, cornell = the current files.
PAPER_DATASETS = (
    "texas",
    "wisconsin",
    "cornell",
    "cornell_old",
    "film",
    "squirrel",
    "chameleon",
    "citeseer",
    "pubmed",
    "cora",
)
#: Platonov et al. 2023: squirrel/chameleon without their duplicated nodes, and two
#: heterophilous graphs with ROC-AUC; columns that keep the leaky unfiltered ones company.
EXTRA_DATASETS = ("chameleon-filtered", "squirrel-filtered", "minesweeper", "tolokers")

#: Our model name → the published row(s) it is compared with (best of several for GRAFF).
PUBLISHED_ROWS: dict[str, tuple[str, ...]] = {
    "graff": ("GRAFF (DD)", "GRAFF (D)", "GRAFF time-dep (DD)"),
    "mlp": ("MLP",),
    "gcn": ("GCN",),
    "gat": ("GAT",),
    "sage": ("GraphSAGE",),
    "gcnii": ("GCNII",),
    "gprgnn": ("GPRGNN",),
    "h2gcn": ("H2GCN",),
    "grand": ("GRAND",),
    "cgnn": ("CGNN",),
}
#: Which published column a dataset is compared with; None: no comparable published number
#: (the paper's Cornell numbers come from the old files, shared/paper/REFERENCE.md).
PUBLISHED_DATASET: dict[str, str | None] = {"cornell_old": "cornell", "cornell": None}


#: (nodes, directed edges, features) of the reproduced datasets, as loaded: the cost model
#: that orders the cells of a parallel ``graff reproduce`` (longest first) reads them.
DATASET_SIZES: dict[str, tuple[int, int, int]] = {
    "texas": (183, 558, 1703),
    "wisconsin": (251, 900, 1703),
    "cornell": (183, 554, 1703),
    "cornell_old": (183, 554, 1703),
    "film": (7600, 53318, 932),
    "squirrel": (5201, 396706, 2089),
    "chameleon": (2277, 62742, 2325),
    "citeseer": (3327, 9104, 3703),
    "pubmed": (19717, 88648, 500),
    "cora": (2708, 10556, 1433),
    "chameleon-filtered": (890, 17708, 2325),
    "squirrel-filtered": (2223, 93996, 2089),
    "minesweeper": (10000, 78804, 7),
    "tolokers": (11758, 1038000, 10),
}


def estimated_cost(cfg: Any) -> float:
    """A relative training cost of a run config (multiply-adds per epoch × epochs × splits).

    Only for scheduling: ``graff reproduce --jobs N`` starts the dearest cells first so that
    the workers finish together. Unknown datasets count as Cora-sized.
    """
    n, e, p = DATASET_SIZES.get(cfg.data.dataset, DATASET_SIZES["cora"])
    m = cfg.model
    if m.name.startswith("graff"):
        depth = math.ceil(m.T / m.step_size - 1e-9)
    else:
        depth = max(m.num_layers, int(m.params.get("K", 0)))
    per_epoch = m.hidden * (n * p + depth * (e + n) + depth * n * m.hidden)
    splits = len(cfg.data.splits) if cfg.data.splits is not None else 10
    return float(per_epoch * cfg.optim.epochs * splits)


def load_prepared(cfg: Any, data_dir: str | None) -> Any:
    """The dataset of ``cfg`` loaded (from ``data_dir``, else $GRAFF_DATA, else the user
    cache) and preprocessed for :func:`graff.train.run`."""
    from graff.data import load_dataset
    from graff.train import prepare_data

    data = load_dataset(cfg.data.dataset, data_dir, **cfg.data.params)
    return prepare_data(data, normalize_features=cfg.data.normalize_features)


def train_cell(
    config: dict[str, Any],
    run_dir: str,
    data_dir: str | None,
    threads: int,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train one (model, dataset) cell in this process and return its summary record.

    The worker of ``graff reproduce --jobs N``: it takes plain data (the config as a dict) so
    that it can run in a spawned process, sets that process's torch threads and allocator,
    and writes the usual resumable run directory.
    """
    import warnings

    import torch

    from graff.perf import tune_allocator
    from graff.train import run
    from graff.train.config import config_from_dict

    tune_allocator()
    torch.set_num_threads(threads)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    cfg = config_from_dict(config)
    summary = run(cfg, load_prepared(cfg, data_dir), run_dir, overwrite=overwrite)
    return summary.to_json()


def dataset_groups(spec: str | None) -> list[str]:
    """``paper``, ``extra``, ``all`` (default) or a comma-separated list of names."""
    names: list[str] = []
    for part in (spec or "all").split(","):
        part = part.strip()
        if part == "paper":
            names += PAPER_DATASETS
        elif part == "extra":
            names += EXTRA_DATASETS
        elif part == "all":
            names += PAPER_DATASETS + EXTRA_DATASETS
        elif part:
            names.append(part)
    return list(dict.fromkeys(names))


@dataclass
class Cell:
    """One model × dataset result (percent) and the published number it is compared with."""

    model: str
    dataset: str
    metric: str
    mean: float
    std: float
    n_splits: int
    seconds: float
    w_type: str = ""
    paper_model: str = ""
    paper_mean: float = math.nan
    paper_std: float = math.nan

    @property
    def diff(self) -> float:
        return self.mean - self.paper_mean

    @property
    def diff_in_std(self) -> float:
        """|ours − paper| in units of the paper's std (NaN without a published number)."""
        if math.isnan(self.paper_mean) or not self.paper_std > 0:
            return math.nan
        return abs(self.diff) / self.paper_std


def paper_cell(
    published: Sequence[dict[str, Any]], model: str, dataset: str
) -> dict[str, Any] | None:
    """The published row for ``model`` on ``dataset`` (the best of several for GRAFF)."""
    key = PUBLISHED_DATASET.get(dataset, dataset)
    names = PUBLISHED_ROWS.get(model, ())
    if key is None or not names:
        return None
    rows = [r for r in published if r["dataset"] == key and r["model"] in names]
    return max(rows, key=lambda r: r["mean"]) if rows else None


def _fmt(mean: float, std: float) -> str:
    return "—" if math.isnan(mean) else f"{mean:.2f} ± {std:.2f}"


def _columns(cells: Sequence[Cell]) -> tuple[list[str], list[str]]:
    models = list(dict.fromkeys(c.model for c in cells))
    datasets = list(dict.fromkeys(c.dataset for c in cells))
    return models, datasets


def results_markdown(cells: Sequence[Cell]) -> str:
    """Models × datasets; under each model with published numbers, a "paper" row.

    A † marks our numbers more than 2 published standard deviations from the paper's.
    ROC-AUC datasets (minesweeper, tolokers) are marked in the header.
    """
    models, datasets = _columns(cells)
    by = {(c.model, c.dataset): c for c in cells}
    metric = {c.dataset: c.metric for c in cells}
    heads = ["model"] + [d + (" (ROC-AUC)" if metric[d] == "roc_auc" else "") for d in datasets]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for m in models:
        row, paper, has_paper = [m], [f"{m} — published"], False
        for d in datasets:
            c = by.get((m, d))
            if c is None:
                row.append("")
                paper.append("")
                continue
            far = c.diff_in_std > 2
            row.append(_fmt(c.mean, c.std) + (" †" if far else ""))
            paper.append(_fmt(c.paper_mean, c.paper_std))
            has_paper |= not math.isnan(c.paper_mean)
        lines.append("| " + " | ".join(row) + " |")
        if has_paper:
            lines.append("| " + " | ".join(paper) + " |")
    return "\n".join(lines) + "\n"


CSV_FIELDS = (
    "model",
    "dataset",
    "metric",
    "mean",
    "std",
    "n_splits",
    "seconds",
    "w_type",
    "paper_model",
    "paper_mean",
    "paper_std",
    "diff",
    "diff_in_paper_std",
)


def results_csv(cells: Sequence[Cell]) -> str:
    """One line per model × dataset (percent; NaN where nothing was published)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_FIELDS)
    for c in cells:
        writer.writerow(
            [
                c.model,
                c.dataset,
                c.metric,
                f"{c.mean:.2f}",
                f"{c.std:.2f}",
                c.n_splits,
                f"{c.seconds:.1f}",
                c.w_type,
                c.paper_model,
                c.paper_mean,
                c.paper_std,
                f"{c.diff:.2f}",
                f"{c.diff_in_std:.2f}",
            ]
        )
    return buf.getvalue()

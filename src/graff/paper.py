"""The paper's published numbers and the results table of ``graff reproduce``.

:func:`published_results` reads the published numbers shipped with the package
(``published.csv``: Table 1 of the paper, arXiv v1; Platonov et al. 2023's and Luo et al. 2024's
results on the heterophilous graphs; each row with its source); :func:`paper_cell` picks the
published row a model is compared with; a :class:`Cell` is one model × dataset result beside it,
and :func:`results_markdown` / :func:`results_csv` render the table (one row per model and under
it the published row, one column per dataset; long-format CSV with one line per model × dataset).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

__all__ = [
    "CSV_FIELDS",
    "PUBLISHED_DATASET",
    "PUBLISHED_ROWS",
    "Cell",
    "paper_cell",
    "published_results",
    "results_csv",
    "results_markdown",
]

#: Our model name → the published row(s) it is compared with (best of several for GRAFF), where
#: the names differ; any other model is compared with the rows of its own name, compared
#: case-insensitively with ``_`` = ``-`` (a later ``gat-sep`` or ``gt`` meets Platonov's
#: "GAT-sep" / "GT" rows without an entry here). GraphSAGE is "SAGE" in Platonov et al.
PUBLISHED_ROWS: dict[str, tuple[str, ...]] = {
    "graff": ("GRAFF (DD)", "GRAFF (D)", "GRAFF time-dep (DD)"),
    # Platonov et al.'s ResNet is the MLP in their residual block (model.block=residual);
    # their GAT-sep and GT-sep rows are our gat_sep and gt_sep (rows of their own name).
    "mlp": ("MLP", "ResNet"),
    "gcn": ("GCN",),
    "gat": ("GAT",),
    "gt": ("GT",),
    "sage": ("GraphSAGE", "SAGE"),
    "gcnii": ("GCNII",),
    "gprgnn": ("GPRGNN",),
    "h2gcn": ("H2GCN",),
    "grand": ("GRAND",),
    "cgnn": ("CGNN",),
}
#: Which published column a dataset is compared with; None: no comparable published number
#: (the paper's Cornell numbers come from the old files, before the upstream fix of July 2022).
PUBLISHED_DATASET: dict[str, str | None] = {"cornell_old": "cornell", "cornell": None}


def published_results() -> list[dict[str, Any]]:
    """The published numbers as rows: model, dataset, mean, std (percent), source."""
    text = (files("graff") / "published.csv").read_text()
    return [
        {**row, "mean": float(row["mean"]), "std": float(row["std"])}
        for row in csv.DictReader(io.StringIO(text))
    ]


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
    """The published row for ``model`` on ``dataset`` (the best of several for GRAFF).

    The rows named in :data:`PUBLISHED_ROWS`, else those named like ``model`` itself.
    """
    key = PUBLISHED_DATASET.get(dataset, dataset)
    if key is None:
        return None
    names = PUBLISHED_ROWS.get(model)
    if names is None:
        rows = [r for r in published if r["dataset"] == key and _name(r["model"]) == _name(model)]
    else:
        rows = [r for r in published if r["dataset"] == key and r["model"] in names]
    return max(rows, key=lambda r: r["mean"]) if rows else None


def _name(model: str) -> str:
    return model.strip().lower().replace("_", "-")


def _fmt(mean: float, std: float) -> str:
    return "—" if math.isnan(mean) else f"{mean:.2f} ± {std:.2f}"


def _columns(cells: Sequence[Cell]) -> tuple[list[str], list[str]]:
    models = list(dict.fromkeys(c.model for c in cells))
    datasets = list(dict.fromkeys(c.dataset for c in cells))
    return models, datasets


def results_markdown(cells: Sequence[Cell]) -> str:
    """Models × datasets; under each model with published numbers, a "paper" row.

    A † marks our numbers more than 2 published standard deviations from the paper's.
    ROC-AUC datasets (minesweeper, tolokers, questions) are marked in the header.
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

"""The paper's ablations and figures, one module per figure (``graff figure NAME``).

Each module has ``make(FigureOptions) -> (paths, findings)``: it trains what it needs through
the graff library, writes ``NAME.png`` and ``NAME.csv`` (the numbers behind the picture) to
``FigureOptions.out`` and returns the files and a few lines on what the numbers say.
matplotlib is imported only when a figure is drawn. See experiments/README.md.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ._common import FigureOptions

__all__ = ["FIGURES", "FigureOptions", "make_figure"]

#: figure name -> (module, what it shows)
FIGURES: dict[str, tuple[str, str]] = {
    "syn-cora": ("syn_cora", "test accuracy vs homophily on syn-cora: W variants and GCN"),
    "prediction-homophily": (
        "prediction_homophily",
        "homophily of the predictions with and without the evolution vs the true homophily",
    ),
    "runtime": ("runtime", "inference time vs depth on Cora, GRAFF vs GCN, as ratios"),
    "particles": ("particles", "2-D feature particles under attractive vs repulsive W"),
    "depth": ("depth", "accuracy and normalised Dirichlet energy vs depth (over-smoothing)"),
    "spectrum": ("spectrum", "learned W eigenvalues per dataset, predicted LFD/HFD regime"),
}


def make_figure(name: str, opts: FigureOptions) -> tuple[list[Path], list[str]]:
    """Regenerate figure ``name``; return the files written and the findings."""
    if name not in FIGURES:
        raise KeyError(f"unknown figure {name!r}; choose one of: {', '.join(FIGURES)}")
    module = importlib.import_module(f"{__name__}.{FIGURES[name][0]}")
    paths, findings = module.make(opts)
    return list(paths), list(findings)

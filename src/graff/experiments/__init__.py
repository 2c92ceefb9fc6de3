"""The paper's ablations and figures, one module per figure (``graff figure NAME``).

Each module registers its ``make(FigureOptions) -> (paths, findings)`` in :data:`FIGURES`
with :func:`register_figure`: it trains what it needs through the graff library
(:func:`graff.train.fit_split`), writes ``NAME.png`` and ``NAME.csv`` (the numbers behind
the picture) to ``FigureOptions.out`` and returns the files and a few lines on what the
numbers say. Nothing in the library core imports this package, and matplotlib is imported
only when a figure is drawn. See docs/figures/README.md.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ._common import FIGURES, FigureOptions, FigureSpec, register_figure

#: the figure modules; importing one registers its figure, in this order (``graff figure``'s).
MODULES = ("syn_cora", "prediction_homophily", "runtime", "particles", "depth", "spectrum")
for _module in MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = [
    "FIGURES",
    "MODULES",
    "FigureOptions",
    "FigureSpec",
    "make_figure",
    "register_figure",
]


def make_figure(name: str, opts: FigureOptions) -> tuple[list[Path], list[str]]:
    """Regenerate figure ``name``; return the files written and the findings.

    Raises:
        graff.registry.UnknownNameError: ``name`` is not a figure (the message lists them).
    """
    paths, findings = FIGURES.get_or_raise(name).make(opts)
    return list(paths), list(findings)

"""Printing for the ``graff`` command: results on stdout, progress and errors on stderr.

User text (paths, dataset names, error messages) is never read as rich markup or as
``:emoji:`` codes.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from graff import _progress

__all__ = [
    "RunProgress",
    "error",
    "fmt",
    "markdown_table",
    "out",
    "progress_bar",
    "say",
    "table",
]

#: Results. Redirected output (logs, CI) gets a fixed width wide enough for the tables.
out = Console(width=None if sys.stdout.isatty() else 120, highlight=False, emoji=False)
#: Progress bars, notes and errors: stdout stays clean for --json.
err = Console(stderr=True, highlight=False, emoji=False)


def say(text: str, *, stderr: bool = False) -> None:
    """Print plain text (never markup, never ``:emoji:`` codes)."""
    (err if stderr else out).print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)


def error(text: str, *, label: str = "error") -> None:
    err.print(Text.assemble((label, "bold red"), ": ", text), soft_wrap=True)


def fmt(mean: float, std: float) -> str:
    return f"{mean:.2f} ± {std:.2f}"


def progress_bar(enabled: bool) -> Progress:
    """The progress bar of :mod:`graff._progress`, on stderr."""
    return _progress.progress_bar(enabled, err)


class RunProgress:
    """A bar over splits × epochs with the best validation score so far: of the split, or
    the mean over the splits training side by side."""

    def __init__(self, label: str, epochs: int, n_splits: int, enabled: bool = True) -> None:
        self.epochs = epochs
        self.progress = progress_bar(enabled)
        self.task = self.progress.add_task(label, total=epochs * n_splits, info="")
        self.best: dict[int, float] = {}
        self.training = False  # an epoch was reported since the last split started

    def __enter__(self) -> RunProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def split_start(self, k: int, n: int) -> None:
        if self.training:  # a new pass: one split, or a chunk of splits side by side
            self.best, self.training = {}, False
        self.best[k] = 0.0

    def epoch(self, k: int, e: int, scores: dict[str, float]) -> None:
        self.training = True
        self.best[k] = max(self.best.get(k, 0.0), scores["val"])
        self.progress.advance(self.task)
        if (e % 10 == 0 or e == self.epochs) and k == max(self.best):
            if len(self.best) == 1:
                info = f"split {k}  epoch {e}  best val {100 * self.best[k]:.1f}"
            else:
                mean = sum(self.best.values()) / len(self.best)
                first = min(self.best)
                info = f"splits {first}–{k}  epoch {e}  mean best val {100 * mean:.1f}"
            self.progress.update(self.task, info=info)


def table(title: str, columns: list[str], rows: list[list[str]], **kw: Any) -> Table:
    """A table whose cells wrap where the console is narrow (a long ``npz:PATH`` or a number
    cut to "…" would show something other than what it is)."""
    t = Table(title=Text(title), **kw)
    for c in columns:
        t.add_column(Text(c), overflow="fold")
    for r in rows:
        t.add_row(*(Text(c) for c in r))
    return t


def markdown_table(md: str) -> Table:
    """A rich Table from a Markdown table (rows ending in "published" dimmed); lines that are
    not table rows (notes under it) are left out."""
    lines = [line for line in md.splitlines() if line.lstrip().startswith("|")]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    t = Table(title="ours vs published (test accuracy % or ROC-AUC ×100, 10 splits)")
    for head in rows[0]:
        t.add_column(Text(head.replace(" (ROC-AUC)", "\n(ROC-AUC)")))
    for cells in rows[2:]:
        style = "dim" if cells[0].endswith("published") else None
        t.add_row(*(Text(c) for c in cells), style=style)
    return t

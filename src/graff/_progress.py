"""The one progress bar of graff's commands and figures (rich, on stderr by default).

Columns: a bold description, the bar, ``M/N`` done, a free ``info`` field (set it with
``progress.update(task, info=...)``; every task must be added with ``info=""``) and the
elapsed time. Bars go to stderr so that stdout stays clean for results and ``--json``.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["progress_bar"]


def progress_bar(enabled: bool = True, console: Console | None = None) -> Progress:
    """A rich :class:`~rich.progress.Progress` with a description, M/N done, a free ``info``
    field and the elapsed time; on ``console`` (default: a new stderr console). Disabled (draws
    nothing) when ``enabled`` is false."""
    return Progress(
        # markup=False: descriptions carry user text (paths, dataset names), never markup.
        TextColumn("{task.description}", markup=False, style="bold"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}", markup=False),
        TimeElapsedColumn(),
        console=console if console is not None else Console(stderr=True, emoji=False),
        disable=not enabled,
    )

"""The one progress bar of graff's commands and figures (rich, on stderr by default).

Columns: a bold description, the bar, ``M/N`` done, a free ``info`` field (set it with
``progress.update(task, info=...)``; every task must be added with ``info=""``) and the
elapsed time. Bars go to stderr so that stdout stays clean for results and ``--json``.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["progress_bar"]


class _Progress(Progress):
    """A bar that leaves no trace when its command fails before any progress: an error in
    the arguments or the data is then the one line the user reads, not an empty bar
    (``0/50``) followed by it."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if exc_type is not None and not any(task.completed for task in self.tasks):
            # erased on a terminal; to a file, neither the bar nor rich's closing blank line
            self.live.transient = True
            self.live.stop()
            return
        super().__exit__(exc_type, exc_val, exc_tb)


def progress_bar(enabled: bool = True, console: Console | None = None) -> Progress:
    """A rich :class:`~rich.progress.Progress` with a description, M/N done, a free ``info``
    field and the elapsed time; on ``console`` (default: a new stderr console). Disabled (draws
    nothing) when ``enabled`` is false; hidden when its block fails before any progress."""
    return _Progress(
        # markup=False: descriptions carry user text (paths, dataset names), never markup.
        TextColumn("{task.description}", markup=False, style="bold"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}", markup=False),
        TimeElapsedColumn(),
        console=console if console is not None else Console(stderr=True, emoji=False),
        disable=not enabled,
    )

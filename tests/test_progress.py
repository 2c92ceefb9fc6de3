"""Tests of graff._progress: the one progress bar of the commands and figures."""

from __future__ import annotations

import io

from rich.console import Console

from graff._progress import progress_bar


def test_progress_bar_defaults_to_stderr() -> None:
    assert progress_bar(True).console.stderr
    assert not progress_bar(True, Console(file=io.StringIO())).console.stderr


def test_progress_bar_shows_description_count_and_info() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=120, force_terminal=False)
    with progress_bar(True, console) as bar:
        task = bar.add_task("depth", total=4, info="")
        bar.update(task, advance=3, info="texas depth 8")
    text = buf.getvalue()
    assert "depth" in text and "3/4" in text and "texas depth 8" in text


def test_disabled_progress_bar_draws_nothing() -> None:
    buf = io.StringIO()
    with progress_bar(False, Console(file=buf, width=120)) as bar:
        task = bar.add_task("depth", total=2, info="")
        bar.update(task, advance=2, info="done")
    assert buf.getvalue() == ""

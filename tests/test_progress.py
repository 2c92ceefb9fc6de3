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


def _fail_inside(console: Console, advance: int) -> None:
    try:
        with progress_bar(True, console) as bar:
            task = bar.add_task("tune gcn on texas", total=50, info="")
            bar.advance(task, advance)
            raise ValueError("search space file nope does not exist")
    except ValueError:
        pass


def test_a_bar_that_fails_before_any_progress_leaves_no_trace() -> None:
    """An argument error raised inside the bar's block printed an empty "0/50" bar (and a
    blank line) before the one-line error; the bar of a run that got somewhere stays."""
    buf = io.StringIO()
    _fail_inside(Console(file=buf, width=120, force_terminal=False), advance=0)
    assert buf.getvalue() == ""
    buf = io.StringIO()
    _fail_inside(Console(file=buf, width=120, force_terminal=False), advance=7)
    assert "tune gcn on texas" in buf.getvalue() and "7/50" in buf.getvalue()
    # on a terminal the drawn bar is erased: the last thing written clears its line
    buf = io.StringIO()
    _fail_inside(Console(file=buf, width=120, force_terminal=True), advance=0)
    assert buf.getvalue().endswith("\x1b[2K")

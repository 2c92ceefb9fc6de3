"""The README's and the docs' statements about defaults and results, checked against the code
and against the full table they are taken from."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from graff.nn import GRAFF
from graff.train import RunConfig, resolve_config

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: where the defaults side by side and the resolution order are described
CONFIG_GUIDE = ROOT / "docs" / "guides" / "config.md"
#: the full reproduction table, with every cell's command
FULL_TABLE = ROOT / "docs" / "provenance" / "table.md"


def _defaults_table() -> dict[str, list[str]]:
    text = CONFIG_GUIDE.read_text(encoding="utf-8")
    head = text.index("| setting | `GRAFF(in, hidden, out)` in Python |")
    rows: dict[str, list[str]] = {}
    for line in text[head:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def _value(cfg: RunConfig, key: str) -> object:
    section = "optim" if key in ("lr", "weight_decay", "epochs") else "model"
    return getattr(getattr(cfg, section), key)


ROWS = _defaults_table()


def test_the_table_has_the_settings_a_user_changes_first() -> None:
    assert {"hidden", "w_type", "T", "dropout", "lr", "weight_decay", "epochs"} <= set(ROWS)


@pytest.mark.parametrize("key", sorted(ROWS))
def test_defaults_side_by_side_match_the_code(key: str) -> None:
    """Each row: GRAFF's keyword default, the schema's default and what graff train resolves
    for a graph without a shipped config (an npz: graph; resolving reads no file)."""
    layer, schema, new_graph = ROWS[key]
    params = inspect.signature(GRAFF).parameters
    if key in params and params[key].default is not inspect.Parameter.empty:
        assert layer == str(params[key].default)
    else:
        assert layer == ("(argument)" if key == "hidden" else "—")
    resolved, source = resolve_config("npz:nowhere.npz")
    assert "defaults for a graph without a shipped config" in source
    for shown, cfg in ((schema, RunConfig()), (new_graph, resolved)):
        value = _value(cfg, key)
        assert shown == str(value) or float(shown) == value, (key, shown, value)


def test_the_resolution_order_is_the_one_described() -> None:
    """A shipped dataset resolves to its shipped config; the config guide names both sources."""
    _, source = resolve_config("texas")
    assert source.startswith("shipped config")
    assert re.search(r"graff/defaults/<model>\.yaml", CONFIG_GUIDE.read_text(encoding="utf-8"))


def _results_table(path: Path) -> dict[str, dict[str, str]]:
    """``{row: {column: cell}}`` of the table whose header starts ``| model | texas |``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("| model | texas |"))
    columns = [c.strip() for c in lines[head].strip().strip("|").split("|")]
    rows: dict[str, dict[str, str]] = {}
    for line in lines[head + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0]] = dict(zip(columns[1:], cells[1:], strict=True))
    return rows


def test_the_readme_table_is_taken_from_the_full_table() -> None:
    """Every cell of the README's headline table is the full table's cell (whose command the
    page says), and GRAFF and the strongest baselines are there with their published rows."""
    short, full = _results_table(README), _results_table(FULL_TABLE)
    assert {"graff", "graff — published", "gcnii", "gcnii — published"} <= set(short)
    assert len(short) >= 8
    for row, cells in short.items():
        assert len(cells) >= 9, row
        for column, cell in cells.items():
            assert full[row][column] == cell, (row, column)


@pytest.mark.parametrize("page", [README, FULL_TABLE], ids=["README", "table.md"])
def test_the_published_rows_are_the_stored_published_numbers(page: Path) -> None:
    """Under every model the table compares, its published row is graff.paper's (read from
    src/graff/published.csv, as ``graff reproduce`` prints it), and † marks exactly the cells
    more than 2 published std away: a row added to published.csv after the table was made
    shows here (table.md once had "—" under GAT on minesweeper, whose row is stored)."""
    from graff.paper import paper_cell, published_results

    published = published_results()
    table = _results_table(page)
    checked = 0
    for row, cells in table.items():
        if row.endswith(" — published"):
            continue
        for dataset, cell in cells.items():
            stored = paper_cell(published, row, dataset.removesuffix(" (ROC-AUC)"))
            shown = table.get(f"{row} — published", {}).get(dataset, "—")
            ours = re.match(r"(\d+\.\d+) ± (\d+\.\d+)", cell)
            if stored is None:
                assert shown == "—", (row, dataset)
                assert "†" not in cell, (row, dataset)
                continue
            assert shown == f"{stored['mean']:.2f} ± {stored['std']:.2f}", (row, dataset)
            if ours is not None:
                far = abs(float(ours[1]) - stored["mean"]) > 2 * stored["std"]
                assert ("†" in cell) == far, (row, dataset, cell, stored["mean"])
            checked += 1
    assert checked >= 40


def test_the_heterophily_cells_are_the_shipped_configs_results() -> None:
    """Each cell of table.md that the heterophily benchmark measured (its finished rows in
    benchmarks/heterophily/results.json) shows the 10-split result of the config that ships:
    the search's final run, marked ‡, where the search won on validation; the config it kept
    (its numbers in the row's "shipped" note) where it did not. Shipping a search means
    editing table.md by hand; this catches a cell left behind."""
    import json

    table = _results_table(FULL_TABLE)
    columns = {c.removesuffix(" (ROC-AUC)"): c for c in table["graff"]}
    results = ROOT / "benchmarks" / "heterophily" / "results.json"
    checked = 0
    for r in json.loads(results.read_text(encoding="utf-8"))["rows"]:
        if r["model"] not in table or r["dataset"] not in columns or r.get("mean") is None:
            continue  # a model table.md does not list (GAT-sep, GT), or a search under way
        cell = table[r["model"]][columns[r["dataset"]]]
        won = r["shipped"] == "the search's"
        kept = re.search(r"\d+\.\d+ ± \d+\.\d+", r["shipped"])
        want = f"{r['mean']:.2f} ± {r['std']:.2f}" if won else kept and kept[0]
        assert want and cell.startswith(want), (r["model"], r["dataset"], cell, r["shipped"])
        assert ("‡" in cell) == won, (r["model"], r["dataset"], cell)
        checked += 1
    assert checked >= 15

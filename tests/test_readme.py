"""The README's statements about defaults, checked against the code they describe."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from graff.nn import GRAFF
from graff.train import RunConfig, resolve_config

README = Path(__file__).resolve().parents[1] / "README.md"


def _defaults_table() -> dict[str, list[str]]:
    text = README.read_text(encoding="utf-8")
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
    """A shipped dataset resolves to its shipped config; the README names both sources."""
    _, source = resolve_config("texas")
    assert source.startswith("shipped config")
    assert re.search(r"graff/defaults/<model>\.yaml", README.read_text(encoding="utf-8"))

"""The ``>>>`` examples in graff's docstrings run and print what they show (``make docs``
runs them again in the rendered API reference)."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest
import torch

SRC = Path(__file__).resolve().parents[1] / "src"
MODULES = sorted(
    ".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
    for p in (SRC / "graff").rglob("*.py")
    if ">>> " in p.read_text(encoding="utf-8")
)


def test_the_main_public_docstrings_have_examples() -> None:
    assert {"graff.nn.graff", "graff.nn.graff_conv", "graff.energy._dirichlet"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    torch.manual_seed(0)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(importlib.import_module(name), optionflags=flags, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} docstring examples of {name} failed (above)"

"""graff.registry: one registry per kind."""

from __future__ import annotations

import pytest

from graff.registry import Registry, UnknownNameError


def test_register_as_call_and_decorator_keeps_order() -> None:
    reg: Registry[object] = Registry("thing")
    reg.register("b", 1)

    @reg.register("a")
    def f() -> None: ...

    assert reg.names() == ("b", "a")
    assert reg["a"] is f and reg["b"] == 1
    assert list(reg) == ["b", "a"] and len(reg) == 2 and "a" in reg


def test_duplicate_name_is_refused() -> None:
    reg: Registry[int] = Registry("thing")
    reg.register("x", 1)
    with pytest.raises(ValueError, match="'x' is already registered"):
        reg.register("x", 2)
    assert reg["x"] == 1


def test_unknown_name_lists_choices_and_suggests() -> None:
    reg: Registry[int] = Registry("solver")
    reg.register("euler", 1)
    reg.register("rk4", 2)
    with pytest.raises(UnknownNameError) as info:
        reg.get_or_raise("eulr")
    msg = str(info.value)
    assert "unknown solver 'eulr'" in msg and "Did you mean euler?" in msg
    assert "euler, rk4" in msg


def test_a_name_in_another_case_or_with_dashes_means_the_registered_one() -> None:
    reg: Registry[int] = Registry("model")
    for name in ("graff", "gat_sep", "MyGNN"):
        reg.register(name, 1)
    assert reg.canonical("GRAFF") == "graff" and reg.canonical("GAT-sep") == "gat_sep"
    assert reg.canonical("mygnn") == "MyGNN" and reg.canonical("MyGNN") == "MyGNN"
    assert reg.canonical("gcn") == "gcn" and reg.canonical(3) == 3  # left for the check
    reg.register("Graff", 2)  # two registered names that differ only in case: ambiguous
    assert reg.canonical("GRAFF") == "GRAFF"

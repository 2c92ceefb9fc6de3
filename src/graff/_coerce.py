"""One type-coercion helper for config values, search spaces and model parameters.

:func:`coerce` converts a value read from YAML or ``--set`` to the type a dataclass field or
constructor parameter is annotated with, and raises :class:`~graff.errors.ConfigError`
naming the key when it cannot. It reads the annotation (``typing.get_origin``/``get_args``),
never its text.
"""

from __future__ import annotations

import math
import numbers
import types
import typing
from typing import Any

from graff.errors import ConfigError

__all__ = ["coerce", "describe"]


def describe(hint: Any) -> str:
    """A short human name of a type annotation (``int``, ``list[int]``, ``float | None``)."""
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__name__
    return str(hint).replace("typing.", "")


def _bad(key: str, value: Any, hint: Any) -> ConfigError:
    return ConfigError(f"{key} = {value!r} is invalid: expected {describe(hint)}")


def coerce(key: str, value: Any, hint: Any) -> Any:
    """``value`` as the annotated type ``hint``: bool, int, float (finite), str, ``list[T]``,
    ``dict[...]``, ``T | None`` and ``Any``. Integer-valued floats pass as int; strings such as
    ``"1e-3"`` (YAML 1.1 reads them as text) pass as float."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise ConfigError(f"{key} may not be null: expected {describe(hint)}")
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:  # T | None: the error of T is the precise one
            return coerce(key, value, inner[0])
        for option in inner:
            try:
                return coerce(key, value, option)
            except ConfigError:
                continue
        raise _bad(key, value, hint)
    if value is None:
        raise ConfigError(f"{key} may not be null: expected {describe(hint)}")
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} = {value!r} is invalid: expected true or false")
    if hint is int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ConfigError(f"{key} = {value!r} is invalid: expected an integer")
        return int(value)  # a NumPy or torch integer as a Python int
    if hint is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{key} = {value!r} is invalid: expected a number") from None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(f"{key} = {value!r} is invalid: expected a number")
        try:
            out = float(value)
        except OverflowError:
            out = math.inf
        if not math.isfinite(out):
            raise ConfigError(f"{key} = {value!r} is invalid: expected a finite number")
        return out
    if hint is str:
        if not isinstance(value, str):
            read_as = (
                f" (YAML read it as a {'boolean' if isinstance(value, bool) else 'number'}: "
                "quote it if it is a name)"
                if isinstance(value, bool | int | float)
                else ""
            )
            raise ConfigError(f"{key} = {value!r} is invalid: expected a string{read_as}")
        return value
    if origin is list or hint is list:
        if not isinstance(value, list | tuple):
            hint_text = f"; write it in brackets: [{value}]" if not isinstance(value, dict) else ""
            raise ConfigError(
                f"{key} = {value!r} is invalid: expected a list ({describe(hint)}){hint_text}"
            )
        (item,) = args or (Any,)
        return [coerce(f"{key}[{i}]", v, item) for i, v in enumerate(value)]
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} = {value!r} is invalid: expected a mapping")
        return dict(value)
    if isinstance(hint, type) and not isinstance(value, hint):
        raise _bad(key, value, hint)
    return value

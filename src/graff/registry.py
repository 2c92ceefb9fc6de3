"""One registry per kind of thing (models, W/Ω parametrisations, datasets, figures).

In the style of PyG GraphGym's ``register_*``: a :class:`Registry` is a name → entry mapping
with one way in, :meth:`Registry.register`, that refuses a duplicate name and doubles as a
decorator. Name lists, validation, ``--help`` text and tables read the registry; nothing copies
it, so adding an entry is one registration.

.. code-block:: python

    from graff.registry import Registry

    SOLVERS: Registry[type] = Registry("solver")

    @SOLVERS.register("euler")
    class Euler: ...

    SOLVERS["euler"]          # the class
    SOLVERS.names()           # ('euler',)
    SOLVERS.get_or_raise("eulr")  # KeyError: unknown solver 'eulr'. Did you mean euler? ...
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar, overload

from graff.errors import GraffError

__all__ = ["Registry", "UnknownNameError"]

T = TypeVar("T")


class UnknownNameError(GraffError, KeyError):
    """A name that is not registered; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0]) if self.args else ""


class Registry(Mapping[str, T], Generic[T]):
    """Named entries of one kind, in registration order.

    Args:
        kind: what an entry is, for messages (``"model"``, ``"W type"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, entry: T) -> T: ...

    def register(self, name: str, entry: T | None = None) -> T | Callable[[T], T]:
        """Store ``entry`` under ``name`` (or, without ``entry``, return a decorator that does).

        Raises:
            ValueError: ``name`` is already registered.
        """

        def add(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
            return obj

        return add if entry is None else add(entry)

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def get_or_raise(self, name: str) -> T:
        """The entry of ``name``; an :class:`UnknownNameError` naming the choices otherwise."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(self.unknown_message(name)) from None

    @overload
    def canonical(self, name: str) -> str: ...

    @overload
    def canonical(self, name: object) -> object: ...

    def canonical(self, name: object) -> object:
        """The registered name ``name`` stands for: itself if registered, else the one it
        equals ignoring case and ``-``/``_`` (``GRAFF``, ``GAT-sep`` → ``graff``,
        ``gat_sep``); anything else unchanged, for the caller's check to refuse."""
        if not isinstance(name, str) or name in self._entries:
            return name
        key = name.strip().lower().replace("-", "_")
        matches = [n for n in self._entries if n.lower().replace("-", "_") == key]
        return matches[0] if len(matches) == 1 else name

    def unknown_message(self, name: object) -> str:
        close = difflib.get_close_matches(str(name), list(self._entries), n=2)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        return f"unknown {self.kind} {name!r}.{hint} Choose one of: {', '.join(self._entries)}"

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._entries)})"

"""The one cache of :mod:`graff.nn`: values derived from tensors, kept while the tensors live.

Full-batch training multiplies by the same graph operator every step, so Ā, its transpose,
GraphSAGE's D⁻¹A, H2GCN's two-hop graph (~15 s on tolokers), GAT's CSR pattern and the
transpose plan of sparse features are built once per graph and reused — by every model
instance of the process, so a multi-split run builds them once.

An entry is keyed on the *tensors themselves*, never on their addresses: it holds a weak
reference to each key tensor and is served only to the very same tensor objects, at the
same in-place version (``tensor._version``, which every in-place edit bumps) and the same
storage. A freed graph drops its entries (``weakref.finalize``), and a new graph allocated at
the old address can never be served the old operator. Editing ``edge_index`` or
``edge_weight`` in place (``edge_weight.mul_(2)``, an optimiser step on a learned weight)
rebuilds. A tensor that requires a gradient while autograd records is never cached (the
operator must stay differentiable, e.g. GNNExplainer's edge masks).

Cached values are constants (built without autograd history); nothing here holds a strong
reference to a key tensor, so caching never keeps a graph alive.

Under ``torch.compile`` a lookup runs outside the compiled graph (:func:`cached` is
``torch.compiler.disable``-d): tracing it would record the weak references, finalizers and
version checks as guards on interpreter state that every call changes — the guard error
"Guard failed on the same frame it was created" of a compiled model on its first graph.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor

__all__ = ["cached", "clear", "disabled", "fingerprint", "needs_grad"]


def fingerprint(t: Tensor) -> tuple[object, ...]:
    """What must be unchanged for a value derived from ``t`` to stay valid: the in-place
    version counters, storage and shape (dense, COO or CSR ``t``)."""
    parts: tuple[Tensor, ...]
    if t.layout == torch.sparse_coo:
        parts = (t._indices(), t._values())
    elif t.layout == torch.sparse_csr:
        parts = (t.crow_indices(), t.col_indices(), t.values())
    elif t.layout == torch.sparse_csc:
        parts = (t.ccol_indices(), t.row_indices(), t.values())
    else:
        parts = (t,)
    return (
        t._version,
        tuple(t.shape),
        str(t.device),
        *((p._version, p.data_ptr(), p.numel()) for p in parts),
    )


class _Entry:
    __slots__ = ("refs", "state", "store")

    def __init__(self, refs: tuple[weakref.ref[Tensor] | None, ...], state: object) -> None:
        self.refs = refs
        self.state = state
        self.store: dict[str, Any] = {}

    def serves(self, tensors: Sequence[Tensor | None], state: object) -> bool:
        same = all(
            (r is None and t is None) or (r is not None and r() is t)
            for r, t in zip(self.refs, tensors, strict=True)
        )
        return same and self.state == state


_ENTRIES: dict[tuple[object, ...], _Entry] = {}
_DISABLED = [0]  # > 0 inside ``with disabled():``


def _forget(key: tuple[object, ...]) -> None:
    _ENTRIES.pop(key, None)


def needs_grad(*tensors: Tensor | None) -> bool:
    """True when a tensor requires a gradient and autograd is recording (never cache then)."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


@torch.compiler.disable(reason="graff.nn.cache: a lookup keyed on tensor identity")
def cached(
    tensors: Sequence[Tensor | None],
    extra: tuple[object, ...],
    name: str,
    build: Callable[[], Any],
) -> Any:
    """The value ``name`` derived from ``tensors`` (and the hashable ``extra``: node count,
    dtype, ...), built by ``build()`` on the first call and reused while the same tensor
    objects live unchanged. ``None`` entries of ``tensors`` stand for absent inputs."""
    if _DISABLED[0] or needs_grad(*tensors):
        return build()
    key = (*(0 if t is None else id(t) for t in tensors), *extra)
    state = tuple(None if t is None else fingerprint(t) for t in tensors)
    entry = _ENTRIES.get(key)
    if entry is None or not entry.serves(tensors, state):
        fresh = entry is None or any(
            r is not None and r() is None for r in entry.refs
        )  # a new key, or the same ids reused by new tensors
        refs = tuple(None if t is None else weakref.ref(t) for t in tensors)
        entry = _ENTRIES[key] = _Entry(refs, state)
        if fresh:
            for t in tensors:
                if t is not None:
                    weakref.finalize(t, _forget, key)
    if name not in entry.store:
        entry.store[name] = build()
    return entry.store[name]


def clear() -> None:
    """Drop every cached value (they are rebuilt on demand)."""
    _ENTRIES.clear()


@contextmanager
def disabled() -> Iterator[None]:
    """Within this block every value is built afresh and nothing is stored (reference
    computations, debugging)."""
    _DISABLED[0] += 1
    try:
        yield
    finally:
        _DISABLED[0] -= 1

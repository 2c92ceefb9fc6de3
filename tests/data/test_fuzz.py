"""Property test: random small (often broken) user .npz graphs through load_prepared.

Each case is seeded, so a failure names a reproducible seed. The property: either a
PreparedData that satisfies every promise a run relies on, or a GraphDataError — never another
exception, and no warning but a GraphDataWarning.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from graff.data import GraphDataError, GraphDataWarning, PreparedData, load_prepared

CASES = 200


def _good(rng: np.random.Generator) -> dict[str, Any]:
    n = int(rng.integers(2, 40))
    c = int(rng.integers(2, 4))
    ring = np.stack([np.arange(n), (np.arange(n) + 1) % n], axis=1)
    extra = rng.integers(0, n, size=(int(rng.integers(0, 2 * n)), 2))
    g = {
        "x": rng.standard_normal((n, int(rng.integers(1, 4)))),
        "y": np.arange(n) % c,
        "edges": np.concatenate([ring, extra]),
    }
    if rng.random() < 0.4:
        split = rng.integers(0, 3, size=(n, int(rng.integers(1, 4))))
        for i, k in enumerate(("train_mask", "val_mask", "test_mask")):
            g[k] = split == i
    return g


def _masks_as(g: dict[str, Any], fn: Any) -> None:
    for k in ("train_mask", "val_mask", "test_mask"):
        if k in g:
            g[k] = fn(g[k])


def _mutations(rng: np.random.Generator) -> list[Any]:
    """Each entry breaks (or merely changes) one thing of a good graph."""
    return [
        lambda g: g.update(x=g["x"].astype(np.float32)),
        lambda g: g.update(x=(g["x"] > 0)),
        lambda g: g.update(x=np.round(g["x"] * 3).astype(np.int8)),
        lambda g: g.update(x=g["x"][:, :0]),
        lambda g: g.update(x=g["x"][:, 0]),
        lambda g: g.update(x=g["x"] + 1j),
        lambda g: g.update(x=g["x"] * rng.choice([1e7, 1e17, 3e38, 1e300])),
        lambda g: g["x"].__setitem__((0, 0), rng.choice([np.nan, np.inf])),
        lambda g: g.update(x=g["x"].astype(str)),
        lambda g: g.update(y=g["y"].astype((np.float64, np.float32, np.uint8)[rng.integers(3)])),
        lambda g: g.update(y=g["y"] + 0.5),
        lambda g: g.update(y=g["y"].astype(str)),
        lambda g: g.update(y=g["y"] > 0),
        lambda g: g.update(y=np.zeros_like(g["y"])),
        lambda g: g.update(y=np.where(rng.random(g["y"].size) < 0.5, -1, g["y"])),
        lambda g: g.update(y=g["y"] * 2),
        lambda g: g.update(y=g["y"][:-1]),
        lambda g: g.update(y=np.eye(3)[g["y"]]),
        lambda g: g.update(edges=g["edges"] + rng.choice([1, -1])),
        lambda g: g.update(edges=g["edges"].astype(float) + rng.choice([0.0, 0.5])),
        lambda g: g.update(edges=g["edges"].astype(str)),
        lambda g: g.update(edges=g["edges"][:0]),
        lambda g: g.update(edges=g["edges"].T),
        lambda g: g.update(edges=np.stack([np.arange(len(g["y"]))] * 2, 1)),
        lambda g: _masks_as(g, lambda m: m.T),
        lambda g: _masks_as(g, lambda m: m.astype(np.int64) * 2),
        lambda g: _masks_as(g, lambda m: m.astype(str)),
        lambda g: _masks_as(g, lambda m: np.concatenate([m, m], axis=1)),
        lambda g: _masks_as(g, lambda m: m[:-1]),
        lambda g: g.pop("val_mask", None),
        lambda g: g.__setitem__("val_mask", np.zeros_like(g.get("val_mask", g["y"]), bool)),
        lambda g: g.pop("x"),
    ]


PARAMS: tuple[tuple[str, list[Any]], ...] = (
    ("metric", ["accuracy", "roc_auc", "f1"]),
    ("val_frac", [0.0, 0.2, "0.3", "abc"]),
    ("num_splits", [1, 2, 0, "2"]),
    ("seed", [0, 7, -1, 2**70]),
)


def _graph(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    g = _good(rng)
    muts = _mutations(rng)
    for i in rng.choice(len(muts), size=int(rng.choice([0, 1, 1, 1, 2])), replace=False):
        muts[int(i)](g)
    params: dict[str, Any] = {}
    for key, choices in PARAMS:
        if rng.random() < 0.1:
            params[key] = choices[int(rng.integers(len(choices)))]
    return g, params


def _check(d: PreparedData) -> None:
    n, f = d.x.shape
    assert f >= 1 and d.x.dtype == torch.float32 and bool(torch.isfinite(d.x).all())
    assert d.num_classes >= 2 and d.y.shape == (n,) and d.y.dtype == torch.int64
    ei = d.edge_index
    assert ei.dtype == torch.int64 and bool(((ei >= 0) & (ei < n)).all())
    masks = (d.train_mask, d.val_mask, d.test_mask)
    for m in masks:
        assert m.dtype == torch.bool and m.shape == (n, d.num_splits)
        assert bool(m.any(dim=0).all()), "an empty split"
        assert bool((d.y[m.any(dim=1)] >= 0).all())
    assert not bool((masks[0] & masks[1]).any() | (masks[0] & masks[2]).any())
    if d.metric == "roc_auc":
        assert d.num_classes == 2


@pytest.mark.parametrize("block", range(4))
def test_random_npz_graphs_load_or_fail_clearly(tmp_path: Path, block: int) -> None:
    outcomes = {"ok": 0, "error": 0}
    for seed in range(block * CASES // 4, (block + 1) * CASES // 4):
        rng = np.random.default_rng(seed)
        g, params = _graph(rng)
        path = tmp_path / f"g{seed}.npz"
        np.savez(path, **g)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                d = load_prepared(f"npz:{path}", params)
            except GraphDataError as err:
                assert str(err) and "Traceback" not in str(err)
                outcomes["error"] += 1
            except Exception as err:  # the property: nothing but GraphDataError
                raise AssertionError(f"seed {seed}: {type(err).__name__}: {err}") from err
            else:
                _check(d)
                outcomes["ok"] += 1
        others = [w for w in caught if not issubclass(w.category, GraphDataWarning)]
        assert not others, (seed, [str(w.message) for w in others])
    assert outcomes["error"] > 0

"""Property test of the whole command: random small npz graphs and configs through ``graff train``.

Hypothesis draws a graph (sizes, dtypes, broken or odd features, labels, edges and masks) and a
config (model, width, depth, step, optimiser, splits, seed, metric — valid or not) and runs
``graff train`` on them as a user would. The property: the command ends with exit code 0 and a
complete, finite summary; or 2 with one line starting ``error:``; or 1 for a failed (diverged)
run with a line saying so — never a traceback, never a non-finite number in a finished run.

Derandomised (a fixed example sequence) so that CI is reproducible; a failure prints the
example. ``GRAFF_PROPERTY_EXAMPLES`` raises the number of examples for a longer local hunt.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graff.cli import _render, main

EXAMPLES = int(os.environ.get("GRAFF_PROPERTY_EXAMPLES", "150"))

_CASES = itertools.count()
_FLOATS = st.sampled_from([0.0, 1e-3, 0.5, 1.0, 3e38, -1.0, math.inf, math.nan])


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, Any]:
    """A small graph as npz arrays; each part valid most of the time, odd or broken otherwise."""
    n = draw(st.integers(1, 30))
    f = draw(st.integers(0, 4))
    c = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x: Any = rng.standard_normal((n, f)).astype(np.float32)
    kind = draw(st.sampled_from(["ok", "ok", "ok", "scale", "bad", "int", "complex", "bool"]))
    if kind == "scale" and x.size:
        with np.errstate(over="ignore", invalid="ignore"):
            x = x * np.float32(draw(_FLOATS))
    elif kind == "bad" and x.size:
        x[draw(st.integers(0, n - 1)), 0] = draw(_FLOATS)
    elif kind == "int":
        x = (x > 0).astype(np.int64)
    elif kind == "complex":
        x = x + 1j * x
    elif kind == "bool":
        x = x > 0
    y: Any = np.arange(n) % c
    ykind = draw(st.sampled_from(["int", "int", "float", "str", "neg", "fraction", "2d"]))
    if ykind == "float":
        y = y.astype(np.float64)
    elif ykind == "str":
        y = np.array([f"c{v}" for v in y])
    elif ykind == "neg":
        y = y - 1
    elif ykind == "fraction":
        y = y + 0.5
    elif ykind == "2d":
        y = y[:, None]
    m = draw(st.integers(0, 3 * n))
    ekind = draw(st.sampled_from(["ei", "ei", "edges", "out_of_range", "float", "wrong_shape"]))
    ring = np.stack([np.arange(n), (np.arange(n) + 1) % n])
    ei: Any = np.concatenate([ring, rng.integers(0, n, (2, m))], axis=1)
    g: dict[str, Any] = {"x": x, "y": y}
    if ekind == "edges":
        g["edges"] = ei.T
    elif ekind == "out_of_range":
        g["edge_index"] = ei + n
    elif ekind == "float":
        g["edge_index"] = ei.astype(np.float32)
    elif ekind == "wrong_shape":
        g["edge_index"] = ei.T
    else:
        g["edge_index"] = ei
    mkind = draw(st.sampled_from(["none", "none", "random", "empty_val", "overlap", "1d"]))
    if mkind != "none":
        s = draw(st.integers(1, 3))
        part = rng.integers(0, 3, size=(n, s))
        masks = [part == i for i in range(3)]
        if mkind == "empty_val":
            masks[1][:] = False
        elif mkind == "overlap":
            masks[1] = masks[1] | masks[0]
        elif mkind == "1d":
            masks = [mk[:, 0] for mk in masks]
        g.update(train_mask=masks[0], val_mask=masks[1], test_mask=masks[2])
    return g


@st.composite
def overrides(draw: st.DrawFn) -> list[str]:
    """``--set`` options and flags: small valid settings mostly, some out of range."""
    sets = {
        "model.hidden": draw(st.sampled_from(["4", "8", "0", "-3", "2.5"])),
        "model.T": draw(st.sampled_from(["1", "2", "0", "-1", "1e9", "nan"])),
        "model.step_size": draw(st.sampled_from(["0.5", "1", "0", "2"])),
        "model.dropout": draw(st.sampled_from(["0", "0.5", "1.5", "-0.1"])),
        "optim.lr": draw(st.sampled_from(["0.01", "0.1", "1e6", "0", "inf"])),
        "optim.weight_decay": draw(st.sampled_from(["0", "5e-4", "-1", "1e30"])),
        "optim.epochs": draw(st.sampled_from(["1", "3", "0"])),
        "seed": draw(st.sampled_from(["0", "7", "-1", str(2**70)])),
    }
    keep = draw(st.lists(st.sampled_from(sorted(sets)), unique=True, max_size=len(sets)))
    out = [a for k in keep for a in ("--set", f"{k}={sets[k]}")]
    out += ["--set", "optim.epochs=2"] if "optim.epochs" not in keep else []
    out += ["--set", "model.hidden=4"] if "model.hidden" not in keep else []
    if draw(st.booleans()):
        out += ["--set", f"data.params.metric={draw(st.sampled_from(['accuracy', 'roc_auc']))}"]
    if draw(st.booleans()):
        out += ["--set", f"data.splits={draw(st.sampled_from(['[0]', '[0,1]', '[5]', '[]']))}"]
    if draw(st.booleans()):
        out += ["--set", f"data.params.num_splits={draw(st.sampled_from(['1', '2', '0']))}"]
    return out


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_render.out, "_width", 400)
    monkeypatch.setattr(_render.err, "_width", 400)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    graph=graphs(),
    sets=overrides(),
    model=st.sampled_from(["graff", "graff", "mlp", "gcn"]),
)
def test_train_ends_in_a_result_or_one_clear_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    graph: dict[str, Any],
    sets: list[str],
    model: str,
) -> None:
    folder = tmp_path / f"case{next(_CASES)}"  # tmp_path is shared by the examples
    folder.mkdir()
    path = folder / "g.npz"
    np.savez(path, **graph)
    out = folder / "run"
    argv = ["train", "--dataset", f"npz:{path}", "--model", model, "--out", str(out),
            "--no-progress", *sets]  # fmt: skip
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # as a user's interpreter: warnings are not errors
        code = main(argv)
    cap = capsys.readouterr()
    text = cap.out + cap.err
    assert "Traceback" not in text, text
    assert code in (0, 1, 2), (code, text)
    if code == 0:
        summary = json.loads((out / "summary.json").read_text())
        numbers = [summary["mean"], summary["std"], *summary["test"], *summary["val"]]
        assert all(math.isfinite(v) for v in numbers), summary
        assert all(0.0 <= v <= 100.0 for v in [*summary["test"], *summary["val"]]), summary
    else:
        lines = [ln for ln in cap.err.splitlines() if ln.startswith(("error:", "run failed:"))]
        assert len(lines) == 1, text
        assert not (out / "summary.json").exists()

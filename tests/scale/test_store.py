"""Tests of graff.scale.store: S on disk equals the in-memory S exactly (float64, random
graphs), a killed precomputation resumes without recomputing its finished blocks, and
folders of another graph, unfinished or damaged folders are refused.

Peak memory (Ā, X and one block, never all of S) is not measured here."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

from graff.errors import GraffError
from graff.nn import GRAFF
from graff.nn.sparse import to_csr
from graff.scale import (
    PrecomputedFolderError,
    PrecomputedGRAFF,
    open_precomputed,
    precompute_on_disk,
    precompute_propagation,
    store,
)
from tests.graff_reference import DT, directed_graph, random_graph, randomise_

N, P, STEPS = 23, 5, 4
_REAL_BLOCK = store._block


def _graph(seed: int = 0) -> tuple[Tensor, Tensor]:
    ei = random_graph(N, 40, seed=seed, isolated=seed % N)
    x = torch.randn(N, P, dtype=DT, generator=torch.Generator().manual_seed(seed))
    return x, ei


def _on_disk(x: Tensor, ei: Any, folder: Path, **kw: Any) -> store.StoredPropagation:
    kw = {"block_rows": 4, "dtype": DT, "progress": False} | kw
    return precompute_on_disk(x, ei, kw.pop("steps", STEPS), folder, **kw)


class _Blocks:
    """Counts the blocks ``store._block`` computes; at call ``kill_at`` it raises instead
    (a simulated kill)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, kill_at: int | None = None) -> None:
        self.calls: list[tuple[int, int]] = []
        self.kill_at = kill_at

        def counted(x: Tensor, adj: Tensor, s: np.ndarray, k: int, lo: int, hi: int) -> Any:
            if self.kill_at is not None and len(self.calls) == self.kill_at:
                raise KeyboardInterrupt("killed")
            self.calls.append((k, lo))
            return _REAL_BLOCK(x, adj, s, k, lo, hi)

        monkeypatch.setattr(store, "_block", counted)


@pytest.mark.parametrize("self_loops", [True, False])
@pytest.mark.parametrize("block_rows", [1, 4, 7, 1000])
def test_equals_in_memory_exactly(tmp_path: Path, self_loops: bool, block_rows: int) -> None:
    x, ei = _graph(block_rows)
    s = _on_disk(x, ei, tmp_path, block_rows=block_rows, self_loops=self_loops)
    ref = precompute_propagation(x, ei, STEPS, self_loops=self_loops)
    assert s.shape == (N, STEPS + 1, P + 1) and s.dtype == DT and s.steps == STEPS
    assert torch.equal(s[:], ref)
    plain = np.load(tmp_path / "propagation.npy", mmap_mode="r")  # an ordinary .npy file
    assert torch.equal(torch.from_numpy(np.array(plain)), ref)


def test_weighted_directed_graph_sparse_features_and_float32(tmp_path: Path) -> None:
    ei = directed_graph(N, 60, seed=3)
    w = torch.rand(ei.size(1), dtype=DT, generator=torch.Generator().manual_seed(3)) + 0.1
    x = torch.randn(N, P, dtype=DT) * (torch.rand(N, P) < 0.4)
    ref = precompute_propagation(x, ei, 3, edge_weight=w)
    s = _on_disk(to_csr(x), ei, tmp_path / "a", steps=3, edge_weight=w, block_rows=5)
    assert torch.equal(s[:], ref)
    s32 = _on_disk(x, ei, tmp_path / "b", steps=3, edge_weight=w, dtype=torch.float32)
    assert s32.dtype == torch.float32
    torch.testing.assert_close(s32[:], ref.float(), rtol=1e-5, atol=1e-6)
    assert precompute_on_disk(x, ei, 0, tmp_path / "c", progress=False).shape == (N, 1, P + 1)


@pytest.mark.parametrize("kill_at", [0, 3, 6, 13, 29])
def test_resume_after_kill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kill_at: int) -> None:
    """A kill after ``kill_at`` blocks (6 blocks per power of 23 rows): the rerun computes
    exactly the blocks not done and gives the uninterrupted result."""
    x, ei = _graph(1)
    ref = _on_disk(x, ei, tmp_path / "ref")[:]
    first = _Blocks(monkeypatch, kill_at=kill_at)
    with pytest.raises(KeyboardInterrupt):
        _on_disk(x, ei, tmp_path / "s")
    assert len(first.calls) == kill_at
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert sum(manifest["rows_done"]) == sum(
        min(N, 4 * (lo // 4 + 1)) - lo for _, lo in first.calls
    )
    with pytest.raises(PrecomputedFolderError, match="unfinished"):
        open_precomputed(tmp_path / "s")
    second = _Blocks(monkeypatch)
    s = _on_disk(x, ei, tmp_path / "s")
    everything = [(k, lo) for k in range(STEPS + 1) for lo in range(0, N, 4)]
    assert first.calls + second.calls == everything  # nothing recomputed, nothing skipped
    assert torch.equal(s[:], ref)
    assert torch.equal(open_precomputed(tmp_path / "s")[:], ref)


_KILLED_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import torch
    from graff.scale import store

    x, ei = torch.load(sys.argv[1])
    real, calls = store._block, []

    def block(*args):
        if len(calls) == 7:
            os.kill(os.getpid(), signal.SIGKILL)
        calls.append(args[3:5])
        return real(*args)

    store._block = block
    store.precompute_on_disk(x, ei, 4, sys.argv[2], block_rows=4, dtype=torch.float64)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_resume_after_sigkill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process killed by SIGKILL after 7 blocks (no unwinding, no finalisers): the rerun
    computes the other blocks only and gives the in-memory S."""
    x, ei = _graph(8)
    torch.save((x, ei), tmp_path / "graph.pt")
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_CHILD, str(tmp_path / "graph.pt"), str(tmp_path / "s")],
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["rows_done"] == [N, 4, 0, 0, 0] and not manifest["complete"]
    blocks = _Blocks(monkeypatch)
    s = _on_disk(x, ei, tmp_path / "s")
    assert blocks.calls[0] == (1, 4) and len(blocks.calls) == 5 * 6 - 7
    assert torch.equal(s[:], precompute_propagation(x, ei, STEPS))


def test_resume_with_another_block_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x, ei = _graph(2)
    ref = precompute_propagation(x, ei, STEPS)
    _Blocks(monkeypatch, kill_at=9)
    with pytest.raises(KeyboardInterrupt):
        _on_disk(x, ei, tmp_path, block_rows=4)  # power 0 done, power 1 at row 12
    second = _Blocks(monkeypatch)
    s = _on_disk(x, ei, tmp_path, block_rows=5)
    assert second.calls[0] == (1, 12) and (0, 0) not in second.calls
    assert torch.equal(s[:], ref)


def test_finished_folder_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x, ei = _graph(3)
    _on_disk(x, ei, tmp_path)
    blocks = _Blocks(monkeypatch)
    s = _on_disk(x, ei, tmp_path, block_rows=2)
    assert blocks.calls == [] and torch.equal(s[:], precompute_propagation(x, ei, STEPS))


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"steps": STEPS + 1}, "steps"),
        ({"self_loops": False}, "adjacency_sha256"),
        ({"graph_seed": 9}, "adjacency"),
        ({"x_scale": 2.0}, "features_sha256"),
        ({"dtype": torch.float32}, "dtype"),
    ],
)
def test_another_graph_or_steps_is_refused(
    tmp_path: Path, change: dict[str, Any], named: str
) -> None:
    x, ei = _graph(4)
    _on_disk(x, ei, tmp_path)
    before = (tmp_path / "manifest.json").read_text()
    if "graph_seed" in change:
        ei = random_graph(N, 40, seed=change.pop("graph_seed"))
    x = x * change.pop("x_scale", 1.0)
    with pytest.raises(PrecomputedFolderError, match=f"another graph.*{named}") as err:
        _on_disk(x, ei, tmp_path, **change)
    assert isinstance(err.value, GraffError) and "\n" not in str(err.value)
    assert "choose another folder" in str(err.value)
    assert (tmp_path / "manifest.json").read_text() == before


def test_open_refuses_empty_damaged_and_foreign_folders(tmp_path: Path) -> None:
    with pytest.raises(PrecomputedFolderError, match="no precomputed propagations"):
        open_precomputed(tmp_path / "missing")
    with pytest.raises(PrecomputedFolderError, match="no precomputed propagations"):
        open_precomputed(tmp_path)
    x, ei = _graph(5)
    _on_disk(x, ei, tmp_path / "s")
    np.save(tmp_path / "s" / "propagation.npy", np.zeros((N, 2, 2)))
    with pytest.raises(PrecomputedFolderError, match="does not match"):
        open_precomputed(tmp_path / "s")
    # precompute_on_disk rewrites a damaged data file of its own manifest
    assert torch.equal(_on_disk(x, ei, tmp_path / "s")[:], precompute_propagation(x, ei, STEPS))
    (tmp_path / "s" / "manifest.json").write_text("{}")
    with pytest.raises(PrecomputedFolderError, match="not a manifest"):
        open_precomputed(tmp_path / "s")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    np.save(foreign / "propagation.npy", np.zeros(3))
    with pytest.raises(PrecomputedFolderError, match="not graff's"):
        _on_disk(x, ei, foreign)
    assert np.load(foreign / "propagation.npy").shape == (3,)


def test_busy_folder_is_refused(tmp_path: Path) -> None:
    x, ei = _graph(6)
    with store._locked(tmp_path), pytest.raises(PrecomputedFolderError, match="another process"):
        _on_disk(x, ei, tmp_path)


def test_a_file_where_the_folder_goes_is_named(tmp_path: Path) -> None:
    x, ei = _graph(6)
    file = tmp_path / "s"
    file.write_text("")
    with pytest.raises(PrecomputedFolderError, match="is a file, not a folder"):
        _on_disk(x, ei, file)  # was a bare FileExistsError from mkdir


def test_bad_dtype() -> None:
    x, ei = _graph(0)
    for dtype in (torch.float16, torch.bfloat16):
        with pytest.raises(ValueError, match="float32 or float64"):
            precompute_on_disk(x, ei, 2, "unused", dtype=dtype)


def test_rows_feed_precomputed_graff(tmp_path: Path) -> None:
    """S[rows] from disk is a tensor that PrecomputedGRAFF turns into GRAFF's output."""
    x, ei = _graph(7)
    graff = GRAFF(P, 4, 3, T=2.5, step_size=1.0).double().eval()
    randomise_(graff, 7)
    twin = PrecomputedGRAFF.from_graff(graff).eval()
    s = twin.precompute_on_disk(x, ei, tmp_path, block_rows=4, progress=False)
    rows = torch.tensor([5, 0, 17, 5, 22])
    batch = s[rows]
    assert isinstance(batch, Tensor) and batch.shape == (5, twin.num_steps + 1, P + 1)
    batch[0] = 0.0  # a copy, not the read-only map
    with torch.no_grad():
        full = graff(x, ei)
        torch.testing.assert_close(twin(s[rows]), full[rows], rtol=0, atol=1e-10)
        torch.testing.assert_close(twin(s[3:9]), full[3:9], rtol=0, atol=1e-10)
    assert s[2].shape == (twin.num_steps + 1, P + 1)

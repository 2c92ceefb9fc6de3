r"""S_k = Ā^k [X, 1] written to a memory-mapped file, block by block, resumable.

:func:`precompute_on_disk` fills ``propagation.npy`` (node-major S [n, steps + 1, p + 1], as
:func:`~graff.scale.precompute_propagation` returns it in memory; an ordinary ``.npy`` file,
so ``np.load(path, mmap_mode="r")`` opens it) power by power: S_0 = [X, 1] one block of rows
at a time, then for k = 1 … steps each block of rows of S_k = Ā[lo:hi] S_{k−1}, reading from
the file only the rows of S_{k−1} that the block's edges touch. Memory therefore holds Ā
(O(E)), X, and one block's product and neighbour rows (at most min(n, the block's nonzeros)
rows of one power: a smaller ``block_rows`` bounds it), never all of S. Each row of the
result is the same sparse row sum as in memory, so the file equals the in-memory S exactly.

``manifest.json`` beside it, rewritten atomically after every block (the block's pages are
flushed to disk first), records the graph's fingerprint (n, the nonzeros and sha256 of Ā,
which covers edges, weights and self-loops, X's shape, dtype and sha256, the steps and S's
dtype) and how many rows of each power are done; a killed precomputation resumes at the
first block not done, a finished one is reused, and a folder of another graph or number of
steps is refused (:class:`PrecomputedFolderError`). :func:`open_precomputed` opens a
finished folder read-only (:class:`StoredPropagation`: ``S[rows]`` is a tensor).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from graff._io import as_path, atomic_write
from graff._progress import progress_bar
from graff.errors import RunDirError
from graff.nn.sparse import csr
from graff.scale.propagation import (
    DEFAULT_BLOCK_ROWS,
    csr_row_block,
    dense_rows,
    propagation_operator,
)

__all__ = ["PrecomputedFolderError", "StoredPropagation", "open_precomputed", "precompute_on_disk"]

MANIFEST = "manifest.json"
DATA = "propagation.npy"
FORMAT = "graff.scale.propagation/1"
_NUMPY_DTYPES = {torch.float32: "float32", torch.float64: "float64"}  # CSR products on the CPU


class PrecomputedFolderError(RunDirError):
    """A folder of precomputed propagations that cannot be used here: another graph's or
    number of steps', unfinished, damaged, not graff's, or busy; the message says what to do."""


class StoredPropagation:
    """S [n, steps + 1, p + 1] in a folder, memory-mapped read-only.

    ``S[rows]`` (an index tensor or array, a slice or an int) reads only those rows and
    returns them as a tensor, e.g. ``PrecomputedGRAFF(...)(S[batch])``.

    Attributes:
        folder (Path): the folder.
        array (numpy.memmap): the read-only map of ``propagation.npy``.
        manifest (dict): the folder's manifest (fingerprint and progress).
    """

    def __init__(self, folder: Path, array: np.memmap, manifest: dict[str, Any]) -> None:
        self.folder = folder
        self.array = array
        self.manifest = manifest

    @property
    def shape(self) -> tuple[int, int, int]:
        n, k, c = self.array.shape
        return n, k, c

    @property
    def steps(self) -> int:
        """The number of Euler steps; S holds Ā^0 … Ā^steps."""
        return self.shape[1] - 1

    @property
    def dtype(self) -> torch.dtype:
        return torch.from_numpy(np.empty(0, self.array.dtype)).dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: Any) -> Tensor:
        if isinstance(rows, Tensor):
            rows = rows.cpu().numpy()
        out = np.asarray(self.array[rows])
        if not out.flags.writeable:  # a view of the read-only map: copy it out
            out = out.copy()
        return torch.from_numpy(out)

    def __repr__(self) -> str:
        return f"StoredPropagation({str(self.folder)!r}, shape={self.shape}, dtype={self.dtype})"


def _sha256(tensors: list[Tensor]) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().data)
    return h.hexdigest()


def _features_sha256(x: Tensor, block_rows: int) -> str:
    if x.layout == torch.sparse_csr:
        return "csr:" + _sha256([x.crow_indices(), x.col_indices(), x.values()])
    return _sha256([x[lo : lo + block_rows] for lo in range(0, x.size(0), block_rows)])


def _fingerprint(x: Tensor, adj: Tensor, steps: int, dtype: torch.dtype) -> dict[str, Any]:
    """What S depends on: Ā (which holds edges, weights, self-loops), X, the steps, S's dtype."""
    return {
        "nodes": int(x.size(0)),
        "adjacency_nnz": int(adj.values().numel()),
        "adjacency_sha256": _sha256([adj.crow_indices(), adj.col_indices(), adj.values()]),
        "features_shape": list(x.shape),
        "features_dtype": str(x.dtype).removeprefix("torch."),
        "features_sha256": _features_sha256(x, DEFAULT_BLOCK_ROWS),
        "steps": steps,
        "dtype": _NUMPY_DTYPES[dtype],
    }


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
        ok = isinstance(manifest, dict) and manifest.get("format") == FORMAT
    except (ValueError, UnicodeDecodeError):
        ok = False
    if not ok:
        raise PrecomputedFolderError(
            f"{path} is not a manifest of graff precomputed propagations ({FORMAT}); "
            "choose another folder, or delete this one to recompute it"
        )
    return manifest


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    atomic_write(folder / MANIFEST, json.dumps(manifest, indent=1) + "\n")


def _check_fingerprint(folder: Path, manifest: dict[str, Any], fp: dict[str, Any]) -> None:
    theirs = manifest.get("fingerprint", {})
    diff = [k for k in fp if theirs.get(k) != fp[k]]
    if diff:

        def show(v: Any) -> str:
            return f"{v[:12]}…" if isinstance(v, str) and len(v) > 16 else str(v)

        what = ", ".join(f"{k} {show(theirs.get(k))} there, {show(fp[k])} here" for k in diff)
        raise PrecomputedFolderError(
            f"{folder} holds the propagations of another graph, features or number of steps "
            f"({what}); choose another folder, or delete it to recompute"
        )


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (POSIX; released when the process dies)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with (folder / ".lock").open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PrecomputedFolderError(
                f"another process is precomputing into {folder}; wait for it to finish or "
                "choose another folder"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _open_data(folder: Path, manifest: dict[str, Any]) -> np.memmap:
    """The data file, writable; created (with its disk space reserved) and the progress reset
    when it is missing or does not have the manifest's shape and dtype."""
    path = folder / DATA
    shape, dtype = tuple(manifest["shape"]), np.dtype(manifest["fingerprint"]["dtype"])
    if path.exists():
        try:
            mm = np.load(path, mmap_mode="r+")
            if mm.shape == shape and mm.dtype == dtype:
                return mm
            del mm
        except ValueError:  # a truncated or foreign file: ours to rewrite (manifest is ours)
            pass
    manifest["rows_done"] = [0] * shape[1]
    manifest["complete"] = False
    _write_manifest(folder, manifest)
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    if hasattr(os, "posix_fallocate"):  # a full disk is an OSError now, not a SIGBUS later
        fd = os.open(path, os.O_RDWR)
        try:
            os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
        finally:
            os.close(fd)
    return mm


def _block(x: Tensor, adj: Tensor, s: np.ndarray, k: int, lo: int, hi: int) -> np.ndarray:
    """Rows ``lo:hi`` of S_k: [X, 1] for k = 0, else Ā[lo:hi] S_{k−1}, reading from ``s``
    only the rows of S_{k−1} that the block's edges touch (columns renumbered in order, so
    every row sum adds the same terms in the same order as the in-memory product)."""
    c = s.shape[2]
    dtype = adj.dtype
    if k == 0:
        out = torch.ones(hi - lo, c, dtype=dtype)
        out[:, : c - 1] = dense_rows(x, lo, hi).to(device="cpu", dtype=dtype)
        return out.numpy()
    rows = csr_row_block(adj, lo, hi)
    cols, local = torch.unique(rows.col_indices(), sorted=True, return_inverse=True)
    if cols.numel() == 0:
        return np.zeros((hi - lo, c), dtype=s.dtype)
    prev = torch.from_numpy(np.asarray(s[cols.cpu().numpy(), k - 1])).to(adj.device)
    crow = rows.crow_indices()
    block = csr(crow, local.to(crow.dtype), rows.values(), (hi - lo, cols.numel()))
    return (block @ prev).cpu().numpy()


def _fill(
    folder: Path,
    s: np.memmap,
    manifest: dict[str, Any],
    x: Tensor,
    adj: Tensor,
    block_rows: int,
    progress: bool,
) -> None:
    """Compute the blocks not done yet, power by power, recording each one when on disk."""
    n = s.shape[0]
    done: list[int] = list(manifest["rows_done"])
    plan = [
        (k, lo, min(n, lo + block_rows))
        for k in range(len(done))
        for lo in range(done[k], n, block_rows)
    ]
    finished = sum(-(-r // block_rows) for r in done)
    manifest["block_rows"] = block_rows
    with progress_bar(progress) as bar:
        task = bar.add_task(
            f"S = Ā^k [X, 1] → {folder}", total=finished + len(plan), completed=finished, info=""
        )
        for k, lo, hi in plan:
            bar.update(task, info=f"k = {k}")
            s[lo:hi, k] = _block(x, adj, s, k, lo, hi)
            s.flush()  # the block's pages on disk before the manifest says it is done
            done[k] = hi
            manifest["rows_done"] = done
            manifest["complete"] = all(r == n for r in done)
            _write_manifest(folder, manifest)
            bar.update(task, advance=1)


def precompute_on_disk(
    x: Tensor,
    edge_index: Any,
    steps: int,
    folder: str | os.PathLike[str],
    *,
    edge_weight: Tensor | None = None,
    adj: Tensor | None = None,
    self_loops: bool = True,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    dtype: torch.dtype = torch.float32,
    progress: bool = True,
) -> StoredPropagation:
    r"""S [n, steps + 1, p + 1] with S[:, k] = Ā^k [X, 1] written to ``folder/propagation.npy``
    block by block (module docstring), resuming a killed run and reusing a finished one.

    Args:
        x, edge_index, steps, edge_weight, adj, self_loops: as
            :func:`~graff.scale.precompute_propagation`.
        folder: where ``propagation.npy`` and ``manifest.json`` go (created if missing).
        block_rows (int): rows of Ā per block: per product, per write and per manifest
            update (default :data:`~graff.scale.DEFAULT_BLOCK_ROWS`); a resumed run may use
            another value.
        dtype (torch.dtype): dtype of Ā and of S on disk, float32 or float64 (default
            float32; PyTorch's CSR products on the CPU have no float16).
        progress (bool): a progress bar over powers × blocks on stderr (default True).

    Returns:
        :class:`StoredPropagation`, as :func:`open_precomputed` returns it.

    Raises:
        PrecomputedFolderError: ``folder`` holds another graph's, features' or number of
            steps' propagations, or files that are not graff's, or another process is
            writing to it.
    """
    if dtype not in _NUMPY_DTYPES:
        raise ValueError(f"dtype must be float32 or float64 on disk, got {dtype}")
    adj, dtype = propagation_operator(
        x, edge_index, steps, edge_weight, adj, self_loops, block_rows, dtype
    )
    folder = as_path(folder, "folder")
    if folder.exists() and not folder.is_dir():
        raise PrecomputedFolderError(f"{folder} is a file, not a folder: choose another folder")
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        fp = _fingerprint(x, adj, steps, dtype)
        manifest = _read_manifest(folder)
        if manifest is None:
            if (folder / DATA).exists():
                raise PrecomputedFolderError(
                    f"{folder / DATA} exists without {MANIFEST}, so it is not graff's to "
                    "overwrite; choose another folder or delete the file"
                )
            n, p = x.shape
            manifest = {
                "format": FORMAT,
                "file": DATA,
                "shape": [n, steps + 1, p + 1],
                "fingerprint": fp,
                "block_rows": block_rows,
                "rows_done": [0] * (steps + 1),
                "complete": False,
            }
            _write_manifest(folder, manifest)
        else:
            _check_fingerprint(folder, manifest, fp)
        s = _open_data(folder, manifest)
        if not manifest["complete"]:
            _fill(folder, s, manifest, x, adj, block_rows, progress)
        del s
    return open_precomputed(folder)


def open_precomputed(folder: str | os.PathLike[str]) -> StoredPropagation:
    """The finished propagations in ``folder`` (:func:`precompute_on_disk`), read-only.

    Raises:
        PrecomputedFolderError: no manifest, an unfinished precomputation, or a data file
            that does not match its manifest.
    """
    folder = as_path(folder, "folder")
    manifest = _read_manifest(folder) if folder.is_dir() else None
    if manifest is None:
        raise PrecomputedFolderError(
            f"no precomputed propagations in {folder} (no {MANIFEST}); write them with "
            "graff.scale.precompute_on_disk"
        )
    if not manifest.get("complete"):
        done, n = manifest.get("rows_done", []), manifest["shape"][0]
        left = sum(n - r for r in done)
        raise PrecomputedFolderError(
            f"{folder} holds an unfinished precomputation ({left} of {n * len(done)} rows of "
            "S left); rerun graff.scale.precompute_on_disk with the same graph, features and "
            "steps to finish it"
        )
    damaged = (
        f"{folder / DATA} does not match {MANIFEST} (shape {manifest['shape']}, "
        f"dtype {manifest['fingerprint']['dtype']}); delete the folder and recompute"
    )
    try:
        array = np.load(folder / DATA, mmap_mode="r")
    except (OSError, ValueError):
        raise PrecomputedFolderError(damaged) from None
    if list(array.shape) != manifest["shape"] or array.dtype != manifest["fingerprint"]["dtype"]:
        raise PrecomputedFolderError(damaged)
    return StoredPropagation(folder, array, manifest)

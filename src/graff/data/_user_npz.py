"""Reading a user's own graph from an ``.npz`` file (``load_dataset("npz:PATH")``).

The file is the user's, not a pinned download, so every message here says how to fix *the
file* (never "copy it again from shared/data"), and arrays are read with
``allow_pickle=False``: an object array is refused, never unpickled, so no code from a data
file ever runs.

Accepted dtypes (everything else is a :class:`GraphDataError` naming the array):

* ``x``: bool, integer or real float (complex is refused: it would lose its imaginary part);
  values beyond :data:`~graff.data._validate.FEATURE_LIMIT` are refused before the float32 cast;
* ``y``: any integer type, bool (0/1) or integer-valued floats (cast to int64, with a note);
  non-integer floats, NaN, strings and objects are refused;
* ``edge_index``/``edges``: integers or integer-valued floats;
* masks: bool, or numbers that are all 0/1.

Files under other names read as they are: Platonov et al.'s benchmark (``node_features``,
``node_labels``, ``edges``, ``*_masks``) and the gnn-benchmark format (Shchur et al. 2018:
CSR parts ``adj_*``, ``attr_*`` or ``attr_matrix``, and ``labels``). An array of Python
objects is refused only where the graph needs it (those files carry pickled name lists).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric.data import Data

from ._errors import DataFileCorruptError, GraphDataError
from ._validate import FEATURE_LIMIT, MASK_KEYS

__all__ = ["read_user_npz"]

_FORMAT = "see the format in graff.data.load_dataset's docstring"
# Platonov et al.'s (ICLR 2023) array names → ours; a file with the first two is read as theirs
_PLATONOV_NAMES = {
    "node_features": "x",
    "node_labels": "y",
    "train_masks": "train_mask",
    "val_masks": "val_mask",
    "test_masks": "test_mask",
}


def _arrays(path: Path) -> Arrays:
    where = f"user graph {path}"
    try:
        with path.open("rb") as fh:
            return _read_all(fh, where)
    except PermissionError as exc:
        raise GraphDataError(
            f"cannot read {where}: permission denied; check the file's permissions"
        ) from exc
    except OSError as exc:
        raise GraphDataError(f"cannot read {where}: {exc}; check the path") from exc


def _read_all(fh: BinaryIO, where: str) -> Arrays:
    save_hint = f"save the graph with numpy.savez(path, x=..., y=..., edge_index=...) — {_FORMAT}"
    head = fh.read(8)
    fh.seek(0)
    try:
        z = np.load(fh, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc) and not head.startswith(b"\x80"):
            # np.load takes anything that is neither a zip archive nor an .npy for a pickle
            raise DataFileCorruptError(
                f"{where} is not an .npz archive (it starts with {head!r}: neither a zip "
                f"archive nor a NumPy array file; a text file?); {save_hint}"
            ) from exc
        if "pickle" in str(exc):
            raise DataFileCorruptError(
                f"{where} is a pickle, not an .npz archive; graff never unpickles data files "
                f"(that could run code from the file): {save_hint}"
            ) from exc
        raise DataFileCorruptError(f"{where} is not an .npz archive ({exc}); {save_hint}") from exc
    except (EOFError, zipfile.BadZipFile, OSError) as exc:
        raise DataFileCorruptError(
            f"{where} is not a readable .npz archive ({type(exc).__name__}: {exc}); it is "
            f"truncated or not an .npz: {save_hint}"
        ) from exc
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DataFileCorruptError(
            f"{where} holds a single array, not an .npz archive of named arrays; {save_hint}"
        )
    out: Arrays = {}
    with z:
        for k in z.files:
            try:
                out[k] = np.asarray(z[k])
            except ValueError as exc:
                if "pickle" in str(exc):
                    # an error only if the graph needs it (files of the gnn-benchmark format
                    # carry pickled name lists beside their arrays)
                    out[k] = None
                    continue
                raise DataFileCorruptError(
                    f"{where}: array {k!r} is damaged ({exc}); save the file again"
                ) from exc
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise DataFileCorruptError(
                    f"{where}: array {k!r} cannot be read ({type(exc).__name__}: {exc}); the "
                    "file is truncated or damaged — save it again"
                ) from exc
    return out


#: The arrays of a file: None for an array of Python objects, which is never unpickled and
#: is an error only where the graph needs it (:func:`_used`).
Arrays = dict[str, "np.ndarray | None"]


def _used(z: Arrays, key: str, where: str) -> np.ndarray:
    """Array ``key`` of the file; an array of Python objects is refused here, where used."""
    a = z[key]
    if a is None:
        raise GraphDataError(
            f"{where}: array {key!r} holds Python objects (dtype=object); graff never "
            "unpickles data files (that could run code from the file): save it as a numeric "
            "array, e.g. np.asarray(a, dtype=np.int64)"
        )
    return a


#: The gnn-benchmark format (Shchur et al. 2018, "Pitfalls of GNN evaluation"; PyG's Amazon,
#: Coauthor and CitationFull files): adjacency and features as the parts of CSR matrices.
_CSR_GRAPH = ("adj_data", "adj_indices", "adj_indptr", "adj_shape")


def _csr(z: Arrays, prefix: str, where: str) -> sp.csr_matrix:
    parts = [_used(z, f"{prefix}_{p}", where) for p in ("data", "indices", "indptr", "shape")]
    try:
        return sp.csr_matrix(tuple(parts[:3]), shape=tuple(int(v) for v in parts[3]))
    except (ValueError, TypeError) as exc:
        raise GraphDataError(
            f"{where}: the arrays {prefix}_data/_indices/_indptr/_shape do not form a sparse "
            f"CSR matrix ({exc}); save them again from a scipy.sparse.csr_matrix"
        ) from exc


def _from_csr_parts(z: Arrays, where: str, notes: list[str]) -> Arrays:
    """A file of the gnn-benchmark format as arrays x, y, edge_index (features as stored)."""
    if "labels" not in z:
        multi = " (a multi-label file: graff trains single-label node classification)"
        raise GraphDataError(
            f"{where} has the adjacency of the gnn-benchmark format but no 'labels' [N] array"
            f"{multi if 'labels_data' in z else ''}; found {sorted(z)}"
        )
    adj = _csr(z, "adj", where).tocoo()
    if {"attr_data", "attr_indices", "attr_indptr", "attr_shape"} <= z.keys():
        x = _csr(z, "attr", where).toarray()
    elif "attr_matrix" in z:
        x = _used(z, "attr_matrix", where)
    else:
        raise GraphDataError(
            f"{where} has the adjacency of the gnn-benchmark format but no node features "
            f"(attr_data/attr_indices/attr_indptr/attr_shape or attr_matrix); found {sorted(z)}"
        )
    notes.append(
        "read the sparse arrays of the gnn-benchmark format (adj_*, attr_*, labels; Shchur et "
        "al. 2018); features kept as stored (PyG's loaders of these files set positive ones to 1)"
    )
    return {"x": x, "y": _used(z, "labels", where), "edge_index": np.stack([adj.row, adj.col])}


def _kind(a: np.ndarray) -> str:
    if a.dtype == np.bool_:
        return "bool"
    if np.issubdtype(a.dtype, np.integer):
        return "int"
    if np.issubdtype(a.dtype, np.floating):
        return "float"
    if np.issubdtype(a.dtype, np.complexfloating):
        return "complex"
    if a.dtype.kind in "USa":
        return "text"
    return "other"


def _features(x: np.ndarray, where: str) -> torch.Tensor:
    kind = _kind(x)
    if kind == "complex":
        raise GraphDataError(
            f"{where}: 'x' is complex ({x.dtype}); graff needs real features — store the real "
            "and imaginary parts as separate columns (np.concatenate([x.real, x.imag], axis=1)) "
            "or the magnitude (np.abs(x))"
        )
    if kind not in ("bool", "int", "float"):
        raise GraphDataError(
            f"{where}: 'x' must be numeric node features [N, F], got dtype {x.dtype}; encode "
            "text or categorical features as numbers (e.g. one-hot columns)"
        )
    if kind == "float" and x.size:
        finite = x[np.isfinite(x)]
        big = float(np.abs(finite).max()) if finite.size else 0.0
        if big > FEATURE_LIMIT:
            raise GraphDataError(
                f"{where}: features reach |x| = {big:.3g}, beyond what float32 arithmetic can "
                f"hold (squares overflow above ~1.8e19; graff refuses |x| > {FEATURE_LIMIT:g}); "
                "rescale them, e.g. standardise each column or take log1p"
            )
    return torch.from_numpy(np.ascontiguousarray(x).astype(np.float32))


def _labels(y: np.ndarray, where: str, notes: list[str]) -> torch.Tensor:
    kind = _kind(y)
    if kind == "int":
        return torch.from_numpy(y.astype(np.int64))
    if kind == "bool":
        notes.append("cast bool labels to int64 classes 0/1")
        return torch.from_numpy(y.astype(np.int64))
    if kind == "float":
        if not bool(np.isfinite(y).all()):
            raise GraphDataError(
                f"{where}: 'y' has NaN/inf labels; use -1 for unlabelled nodes and 0..C-1 for "
                "classes"
            )
        if not bool((y == np.round(y)).all()):
            bad = y[y != np.round(y)].reshape(-1)[:3].tolist()
            raise GraphDataError(
                f"{where}: 'y' must hold integer class ids 0..C-1 (-1 = unlabelled), got "
                f"non-integer values such as {bad}; regression targets are not supported"
            )
        notes.append(f"cast integer-valued {y.dtype} labels to int64")
        return torch.from_numpy(y.astype(np.int64))
    hint = "; map them to ids with np.unique(y, return_inverse=True)[1]" if kind == "text" else ""
    raise GraphDataError(
        f"{where}: 'y' must hold integer class ids 0..C-1 (-1 = unlabelled), got dtype "
        f"{y.dtype}{hint}"
    )


def _edges(ei: np.ndarray, where: str, notes: list[str]) -> torch.Tensor:
    kind = _kind(ei)
    if kind == "float" and ei.size and bool(np.isfinite(ei).all() & (ei == np.round(ei)).all()):
        notes.append(f"cast integer-valued {ei.dtype} edge ids to int64")
        kind = "int"
    if kind != "int":
        raise GraphDataError(
            f"{where}: edge ids must be integers (0-based node indices), got dtype {ei.dtype}"
        )
    hi, lo = (ei.max(), ei.min()) if ei.size else (0, 0)
    if hi >= 2**63 or lo < -(2**63):  # uint64 or float ids: the int64 cast would wrap
        bad = hi if hi >= 2**63 else lo
        raise GraphDataError(
            f"{where}: edge id {bad:.6g} is no node index (it does not fit int64); "
            "node ids must index rows of x (0-based): re-index the edges"
        )
    return torch.from_numpy(ei.astype(np.int64))


def _mask(m: np.ndarray, key: str, n: int, where: str) -> torch.Tensor:
    kind = _kind(m)
    if kind in ("int", "float"):
        if not bool(np.isin(m, (0, 1)).all()):
            raise GraphDataError(
                f"{where}: {key!r} must be boolean (or 0/1) with one entry per node, got other "
                "values; pass a bool mask, not node indices"
            )
        m = m.astype(bool)
    elif kind != "bool":
        raise GraphDataError(f"{where}: {key!r} must be a boolean mask, got dtype {m.dtype}")
    if m.ndim == 2 and m.shape[1] == n and m.shape[0] != n:
        m = m.T
    return torch.from_numpy(np.ascontiguousarray(m))


def read_user_npz(path: Path) -> tuple[Data, bool]:
    """Read a user graph ``.npz`` (format in :func:`graff.data.load_dataset`).

    Returns the graph (not yet validated) and whether it carried masks. Masks may be ``[N]``,
    ``[S, N]`` or ``[N, S]``; they are returned as ``[N, S]``.

    Raises:
        GraphDataError: unreadable file, missing arrays or an unusable dtype (message names the
            array and how to fix it).
    """
    z = _arrays(path)
    where = f"user graph {path}"
    notes: list[str] = []
    read: set[str] = set()  # the arrays of another format, read under other names
    if {"node_features", "node_labels"} <= z.keys() and not z.keys() & {"x", "y", *MASK_KEYS}:
        # a file of Platonov et al.'s benchmark (their names for the same arrays)
        z = {_PLATONOV_NAMES.get(k, k): v for k, v in z.items()}
        notes.append(
            "read the array names of Platonov et al.'s files (node_features, node_labels, "
            "edges, train_masks/val_masks/test_masks); their binary graphs are scored by "
            "ROC-AUC: --set data.params.metric=roc_auc"
        )
    if "x" not in z and set(_CSR_GRAPH) <= z.keys():
        masks = {k: z[k] for k in MASK_KEYS if k in z}
        parts = _from_csr_parts(z, where, notes)
        read = {k for k in z if k.startswith(("adj_", "attr_")) or k == "labels"}
        # the pickled name lists the format carries are left unread on purpose (said above)
        read |= {k for k, v in z.items() if v is None}
        z = {**z, **parts, **masks}
    if "x" not in z or "y" not in z:
        raise GraphDataError(
            f"{where} must contain arrays 'x' [N, F] and 'y' [N] (found {sorted(z)}); {_FORMAT}"
        )
    x = _features(_used(z, "x", where), where)
    if "edge_index" in z and "edges" in z:
        ei, e = _used(z, "edge_index", where), _used(z, "edges", where)
        if e.ndim != 2 or e.T.shape != ei.shape or not np.array_equal(e.T, ei):
            raise GraphDataError(
                f"{where} holds both 'edge_index' [2, E] {ei.shape} and 'edges' [E, 2] "
                f"{e.shape}, and they are not the same edges; keep the one that is the graph"
            )
    elif "edge_index" in z:
        ei = _used(z, "edge_index", where)
    elif "edges" in z:
        e = _used(z, "edges", where)
        if e.ndim != 2 or e.shape[1] != 2:
            raise GraphDataError(f"{where}: 'edges' must have shape [E, 2], got {e.shape}")
        ei = e.T
    else:
        n = len(x)
        square = [k for k, v in z.items() if v is not None and v.ndim == 2 and v.shape == (n, n)]
        hint = (
            f"; {square[0]!r} looks like a dense adjacency [N, N]: save its edges as "
            f"edge_index=np.stack(np.nonzero({square[0]}))"
            if square
            else ""
        )
        raise GraphDataError(
            f"{where} has no 'edge_index' [2, E] or 'edges' [E, 2] array (found {sorted(z)}); "
            f"add one{hint}"
        )
    y = _labels(_used(z, "y", where), where, notes)
    data = Data(x=x, edge_index=_edges(ei, where, notes), y=y)
    n = int(x.size(0)) if x.dim() >= 1 else 0
    present = [k for k in MASK_KEYS if k in z]
    if present and len(present) != 3:
        raise GraphDataError(
            f"{where} has {present} but not all of {list(MASK_KEYS)}; give all three masks or none"
        )
    for k in present:
        data[k] = _mask(_used(z, k, where), k, n, where)
    unread = sorted(set(z) - read - {"x", "y", "edge_index", "edges", *MASK_KEYS})
    if unread:
        weights = [k for k in unread if k in _EDGE_WEIGHTS]
        notes.append(
            f"arrays not read: {', '.join(unread)}"
            + (f" ({weights[0]}: graff's models use the graph unweighted)" if weights else "")
        )
    data.notes = notes
    return data, bool(present)


#: Array names a file may use for edge weights, which graff's models do not use (said once).
_EDGE_WEIGHTS = ("edge_weight", "edge_weights", "edge_attr", "weight", "weights")

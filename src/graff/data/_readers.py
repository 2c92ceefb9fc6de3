"""Raw-format readers of the shipped datasets. Each returns an unvalidated
:class:`~torch_geometric.data.Data`.

The registry (:mod:`graff.data._registry`) locates and verifies the files against the manifest,
then passes the paths here and runs :func:`~graff.data.validate_graph` on the result. Their
errors advise copying the file again from shared/data; a user's own ``.npz`` is read by
:mod:`graff.data._user_npz` instead, whose errors say how to fix the file.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric.data import Data

from ._errors import DataFileCorruptError

__all__ = [
    "read_geom_gcn",
    "read_geom_gcn_splits",
    "read_planetoid",
    "read_platonov",
    "read_syn_cora",
]

FILM_NUM_FEATURES = 932


def _corrupt(path: Path, exc: BaseException) -> DataFileCorruptError:
    """Error for a damaged *shipped* data file (registry datasets; never a user's own file)."""
    return DataFileCorruptError(
        f"cannot parse data file {path}: {type(exc).__name__}: {exc}; the file is damaged or not "
        "in the expected format — delete it and copy it again from shared/data"
    )


def _unpickle(path: Path) -> Any:
    try:
        with path.open("rb") as f, warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return pickle.load(f, encoding="latin1")
    except Exception as exc:  # pickle raises many types on damaged input
        raise _corrupt(path, exc) from exc


def _dense(m: Any) -> np.ndarray:
    return np.asarray(m.toarray() if sp.issparse(m) else m, dtype=np.float32)


def _onehot_to_label(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m)
    lab = m.argmax(axis=1).astype(np.int64)
    lab[m.sum(axis=1) == 0] = -1
    return lab


def read_planetoid(files: dict[str, Path], name: str) -> Data:
    """Read Kipf/Yang's ``ind.<name>.*`` pickles into one graph in Planetoid node order.

    ``allx``/``ally`` are nodes ``0..len(allx)-1``; row ``i`` of ``tx``/``ty`` is node
    ``test.index[i]``. Node ids in the test range without a ``tx`` row (15 in citeseer) get zero
    features and label ``-1``. No masks are set here (the geom-gcn splits are added later).
    """
    allx, tx = _dense(_unpickle(files["allx"])), _dense(_unpickle(files["tx"]))
    ally, ty = _onehot_to_label(_unpickle(files["ally"])), _onehot_to_label(_unpickle(files["ty"]))
    graph = _unpickle(files["graph"])
    try:
        test_index = np.loadtxt(files["test.index"], dtype=np.int64).reshape(-1)
    except ValueError as exc:
        raise _corrupt(files["test.index"], exc) from exc
    if tx.shape[0] != test_index.size or ty.size != test_index.size:
        raise DataFileCorruptError(
            f"{name}: tx has {tx.shape[0]} rows and ty {ty.size}, but test.index lists "
            f"{test_index.size} nodes; re-copy the planetoid/ind.{name}.* files"
        )
    n = max(allx.shape[0] + tx.shape[0], int(test_index.max()) + 1)
    x = np.zeros((n, allx.shape[1]), dtype=np.float32)
    y = np.full(n, -1, dtype=np.int64)
    x[: allx.shape[0]] = allx
    y[: ally.size] = ally
    x[test_index] = tx
    y[test_index] = ty
    notes = []
    missing = sorted(set(range(allx.shape[0], n)) - set(test_index.tolist()))
    if missing:
        notes.append(
            f"{len(missing)} node ids in the test range have no tx/ty row: zero features, "
            f"label -1 (nodes {missing})"
        )
    src, dst = [], []
    for u, nbrs in graph.items():
        for v in nbrs:
            src.append(int(u))
            dst.append(int(v))
    edge_index = torch.tensor([src, dst], dtype=torch.long)
    data = Data(x=torch.from_numpy(x), edge_index=edge_index, y=torch.from_numpy(y))
    data.notes = notes
    return data


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _corrupt(path, exc) from exc
    lines = text.splitlines()
    if not lines:
        raise _corrupt(path, ValueError("empty file"))
    return lines[1:]


def read_geom_gcn(feature_file: Path, edge_file: Path, *, sparse_features: bool) -> Data:
    """Read geom-gcn's ``out1_node_feature_label.txt`` and ``out1_graph_edges.txt``.

    Each feature line is ``node_id<TAB>features<TAB>label``; rows are placed by ``node_id``.
    ``sparse_features`` (film) means ``features`` lists active column indices
    (:data:`FILM_NUM_FEATURES` columns, as PyG's ``Actor``); otherwise it is a dense
    comma-separated 0/1 vector. The edge file lists directed edges ``src<TAB>dst``.
    """
    lines = _read_lines(feature_file)
    try:
        parts = [ln.split("\t") for ln in lines if ln]
        ids = np.array([int(p[0]) for p in parts], dtype=np.int64)
        labels = np.array([int(p[2]) for p in parts], dtype=np.int64)
        n = len(parts)
        if sorted(ids.tolist()) != list(range(n)):
            raise ValueError(f"node ids are not a permutation of 0..{n - 1}")
        if sparse_features:
            x = np.zeros((n, FILM_NUM_FEATURES), dtype=np.float32)
            for nid, p in zip(ids.tolist(), parts, strict=True):
                cols = [int(c) for c in p[1].split(",") if c]
                x[nid, cols] = 1.0
        else:
            joined = ",".join(p[1] for p in parts)
            flat = np.array(joined.split(","), dtype=np.float32)
            if flat.size % n:
                raise ValueError("rows have different numbers of features")
            x = np.empty((n, flat.size // n), dtype=np.float32)
            x[ids] = flat.reshape(n, -1)
        y = np.empty(n, dtype=np.int64)
        y[ids] = labels
    except (ValueError, IndexError) as exc:
        raise _corrupt(feature_file, exc) from exc
    elines = _read_lines(edge_file)
    try:
        edges = np.array([ln.split("\t") for ln in elines if ln.strip()], dtype=np.int64).reshape(
            -1, 2
        )
    except ValueError as exc:
        raise _corrupt(edge_file, exc) from exc
    data = Data(
        x=torch.from_numpy(x),
        edge_index=torch.from_numpy(edges.T.copy()),
        y=torch.from_numpy(y),
    )
    data.notes = []
    return data


def read_geom_gcn_splits(paths: list[Path], n: int) -> tuple[torch.Tensor, ...]:
    """Stack geom-gcn ``*_split_0.6_0.2_{i}.npz`` files into bool masks ``[N, S]``."""
    out: dict[str, list[np.ndarray]] = {"train_mask": [], "val_mask": [], "test_mask": []}
    for p in paths:
        try:
            with np.load(p) as z:
                for k, lst in out.items():
                    m = np.asarray(z[k]).astype(bool).reshape(-1)
                    if m.size != n:
                        raise ValueError(f"{k} has length {m.size}, graph has {n} nodes")
                    lst.append(m)
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise _corrupt(p, exc) from exc
    return tuple(torch.from_numpy(np.stack(v, axis=1)) for v in out.values())


def _npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of a shipped (manifest-verified) ``.npz``; never unpickles."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as exc:  # OSError, ValueError, zipfile.BadZipFile and friends
        raise _corrupt(path, exc) from exc


def read_platonov(path: Path) -> Data:
    """Read a Platonov et al. (2023) ``heterophilous-graphs/*.npz`` file with its 10 masks."""
    z = _npz(path)
    try:
        data = Data(
            x=torch.from_numpy(z["node_features"].astype(np.float32)),
            y=torch.from_numpy(z["node_labels"].astype(np.int64)),
            edge_index=torch.from_numpy(z["edges"].astype(np.int64).T.copy()),
            train_mask=torch.from_numpy(z["train_masks"].astype(bool).T.copy()),
            val_mask=torch.from_numpy(z["val_masks"].astype(bool).T.copy()),
            test_mask=torch.from_numpy(z["test_masks"].astype(bool).T.copy()),
        )
    except KeyError as exc:
        raise _corrupt(path, exc) from exc
    data.notes = []
    return data


def read_syn_cora(path: Path) -> Data:
    """Read an H2GCN syn-cora ``h{H}-r{R}.npz`` (DeepRobust CSR layout); no masks."""
    z = _npz(path)
    try:
        adj = sp.csr_matrix(
            (z["adj_data"], z["adj_indices"], z["adj_indptr"]), shape=tuple(z["adj_shape"])
        ).tocoo()
        attr = sp.csr_matrix(
            (z["attr_data"], z["attr_indices"], z["attr_indptr"]), shape=tuple(z["attr_shape"])
        )
        labels = z["labels"].astype(np.int64)
    except (KeyError, ValueError) as exc:
        raise _corrupt(path, exc) from exc
    data = Data(
        x=torch.from_numpy(attr.toarray().astype(np.float32)),
        edge_index=torch.from_numpy(np.vstack([adj.row, adj.col]).astype(np.int64)),
        y=torch.from_numpy(labels),
    )
    data.notes = []
    return data

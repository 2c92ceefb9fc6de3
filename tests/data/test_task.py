"""check_task / prepare_data: a graph that is not a usable classification task is refused with a
message naming the problem (and the split), on every path (Data, PreparedData, npz, registry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from graff.data import (
    GraphDataError,
    PreparedData,
    check_task,
    csbm,
    load_dataset,
    load_prepared,
    prepare_data,
    row_normalize,
)


def _ring(n: int = 12, classes: int = 2, splits: int = 2) -> Data:
    """Ring graph, labels i mod classes, split s: train {0..3}, val {4..7}, test {8..}, shifted."""
    src = torch.arange(n)
    ei = torch.stack([torch.cat([src, (src + 1) % n]), torch.cat([(src + 1) % n, src])])
    masks = [torch.zeros(n, splits, dtype=torch.bool) for _ in range(3)]
    for s in range(splits):
        order = torch.roll(torch.arange(n), s)
        masks[0][order[:4], s] = True
        masks[1][order[4:8], s] = True
        masks[2][order[8:], s] = True
    d = Data(x=torch.randn(n, 3, generator=torch.Generator().manual_seed(0)), edge_index=ei)
    d.y = torch.arange(n) % classes
    d.train_mask, d.val_mask, d.test_mask = masks
    d.name, d.metric = "ring", "accuracy"
    return d


def test_clean_task_passes_on_data_and_prepared() -> None:
    d = _ring()
    check_task(d)
    check_task(prepare_data(d))
    check_task(d, splits=[1])


def test_single_class_is_refused() -> None:
    d = _ring()
    d.y = torch.zeros_like(d.y)
    with pytest.raises(GraphDataError, match=r"needs at least 2 classes.*class 0 \(12 nodes\)"):
        prepare_data(d)
    d.y = torch.full_like(d.y, -1)
    with pytest.raises(GraphDataError, match="no node is labelled"):
        check_task(d)


@pytest.mark.parametrize(
    ("key", "pattern"),
    [
        ("train_mask", r"split 1 has an empty training set"),
        ("val_mask", r"split 1 has an empty validation set.*val_frac > 0"),
        ("test_mask", r"split 1 has an empty test set.*train_frac \+ val_frac < 1"),
    ],
)
def test_empty_split_names_split_and_fix(key: str, pattern: str) -> None:
    d = _ring(n=40, splits=3)
    d[key][:, 1] = False
    with pytest.raises(GraphDataError, match=pattern):
        prepare_data(d)
    check_task(d, splits=[0, 2])  # a run that skips split 1 is fine


def test_two_node_graph_is_too_small_to_split(tmp_path: Path) -> None:
    path = tmp_path / "two.npz"
    np.savez(path, x=np.ones((2, 2)), y=np.array([0, 1]), edges=np.array([[0, 1]]))
    with pytest.raises(
        GraphDataError, match=r"split 0 has an empty training set: too few labelled nodes"
    ):
        load_prepared(f"npz:{path}")


def test_user_mask_with_all_false_column(tmp_path: Path) -> None:
    n = 30
    tr = np.zeros((n, 3), bool)
    va = np.zeros((n, 3), bool)
    te = np.zeros((n, 3), bool)
    for s in range(3):
        tr[s : s + 10, s] = True
        te[s + 20 :, s] = True
        if s != 2:
            va[s + 10 : s + 20, s] = True
    path = tmp_path / "g.npz"
    y = np.arange(n) % 2
    edges = np.stack([np.arange(n), (np.arange(n) + 1) % n], 1)
    np.savez(path, x=np.ones((n, 2)), y=y, edges=edges, train_mask=tr, val_mask=va, test_mask=te)
    with pytest.raises(GraphDataError, match=r"split 2 has an empty validation set"):
        load_prepared(f"npz:{path}")


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        ({"val_frac": 0.0}, r"val_frac=0.0 leaves no validation nodes"),
        ({"val_frac": "0"}, r"val_frac=0.0 leaves no validation nodes"),
        ({"train_frac": 0.6, "val_frac": 0.4}, r"leaves no test nodes"),
        ({"train_frac": 0.0}, r"train_frac must be in \(0, 1\)"),
        ({"num_splits": 0}, r"num_splits must be 1\.\.1000"),
        ({"seed": 2**64}, r"seed must be an integer in \[0, 2\*\*63\)"),
        ({"seed": "abc"}, r"parameter seed must be an integer, got 'abc'"),
        ({"val_frac": float("nan")}, r"val_frac must be a finite number"),
    ],
)
def test_random_split_params_are_checked(
    tmp_path: Path, params: dict[str, Any], pattern: str
) -> None:
    path = tmp_path / "g.npz"
    np.savez(path, x=np.ones((20, 2)), y=np.arange(20) % 2, edges=np.array([[0, 1], [1, 2]]))
    with pytest.raises(GraphDataError, match=pattern):
        load_dataset(f"npz:{path}", **params)
    with pytest.raises(GraphDataError, match=pattern):
        load_dataset("csbm", num_nodes=40, num_classes=2, **params)


def test_csbm_params_from_text_are_parsed() -> None:
    a = load_dataset("csbm", num_nodes="60", num_classes="2", val_frac="0.3", num_splits=2)
    b = load_dataset("csbm", num_nodes=60, num_classes=2, val_frac=0.3, num_splits=2)
    assert torch.equal(a.x, b.x) and torch.equal(a.val_mask, b.val_mask)
    with pytest.raises(GraphDataError, match="num_nodes must be an integer"):
        load_dataset("csbm", num_nodes=60.5)
    with pytest.raises(GraphDataError, match="homophily must be a finite number"):
        load_dataset("csbm", homophily=10**400)
    with pytest.raises(GraphDataError, match="too large to generate"):
        load_dataset("csbm", num_nodes=10**12)


def test_duplicate_splits_are_refused() -> None:
    d = _ring(splits=3)
    for k in ("train_mask", "val_mask", "test_mask"):
        d[k][:, 2] = d[k][:, 0]
    with pytest.raises(GraphDataError, match=r"splits 0 and 2 are identical"):
        prepare_data(d)
    check_task(d, splits=[0, 1])
    d = _ring(splits=3)
    with pytest.raises(GraphDataError, match=r"split\(s\) \[1\] listed more than once"):
        check_task(d, splits=[1, 1])
    with pytest.raises(GraphDataError, match=r"split indices \[3\] out of range"):
        check_task(d, splits=[0, 3])


def test_splits_graff_drew_that_repeat_say_to_draw_fewer(tmp_path: Path) -> None:
    """A small file without masks: the random splits graff draws repeat. The fix named is
    the number of distinct ones (or masks), not "drop the duplicate mask columns" (there
    are none), and that number loads."""
    path = tmp_path / "tiny.npz"
    np.savez(path, x=np.ones((3, 2)), y=np.array([0, 1, 1]), edges=np.array([[0, 1], [1, 2]]))
    with pytest.raises(GraphDataError) as err:
        load_prepared(f"npz:{path}")
    said = str(err.value)
    assert "the file has no masks and graff drew 10 seeded stratified random splits" in said
    assert "3 labelled nodes (class sizes {0: 1, 1: 2})" in said
    assert "drop the duplicate" not in said
    distinct = int(said.split("--set data.params.num_splits=")[1].split(")")[0])
    assert 2 <= distinct < 10
    data = load_prepared(f"npz:{path}", {"num_splits": distinct})
    assert data.train_mask.size(1) == distinct


def test_same_train_other_val_is_not_a_duplicate() -> None:
    d = _ring(n=24, splits=2)
    d.train_mask[:, 1] = d.train_mask[:, 0]
    d.val_mask[:, 1] = d.val_mask[:, 0]
    d.test_mask[:, 1] = d.test_mask[:, 0]
    v, t = d.val_mask[:, 1].clone(), d.test_mask[:, 1].clone()
    d.val_mask[:, 1], d.test_mask[:, 1] = t, v  # swap val and test of split 1
    check_task(d)


def test_roc_auc_only_for_binary_tasks() -> None:
    d = _ring(classes=3)
    d.metric = "roc_auc"
    with pytest.raises(GraphDataError, match=r"'roc_auc' is for binary tasks.*3 classes"):
        prepare_data(d)
    d = _ring(classes=2)
    d.metric = "roc_auc"
    check_task(d)
    d.y[d.test_mask[:, 0]] = 0  # split 0's test set is one class: ROC-AUC undefined
    with pytest.raises(GraphDataError, match=r"split 0's test set holds only class 0"):
        check_task(d)
    d.metric = "f1"
    with pytest.raises(GraphDataError, match="metric must be one of"):
        check_task(d)
    d = _ring(classes=3)
    d.y[d.y == 0] = -1  # classes 1 and 2: binary, but not the 0/1 that ROC-AUC scores
    for k in ("train_mask", "val_mask", "test_mask"):
        d[k] &= (d.y >= 0).unsqueeze(1)
    d.metric = "roc_auc"
    with pytest.raises(GraphDataError, match=r"classes are \[1, 2\]; relabel them 0 and 1"):
        check_task(d)


def test_roc_auc_on_multiclass_npz(tmp_path: Path) -> None:
    path = tmp_path / "g.npz"
    np.savez(path, x=np.ones((30, 2)), y=np.arange(30) % 3, edges=np.array([[0, 1]]))
    with pytest.raises(GraphDataError, match="'roc_auc' is for binary tasks"):
        load_prepared(f"npz:{path}", {"metric": "roc_auc"})


def test_masks_missing_overlapping_or_unlabelled() -> None:
    d = _ring()
    del d.train_mask, d.val_mask, d.test_mask
    with pytest.raises(GraphDataError, match="has no train_mask, val_mask, test_mask"):
        prepare_data(d)
    d = _ring()
    d.val_mask[0, 0] = True  # node 0 is in train of split 0
    with pytest.raises(GraphDataError, match="split 0's training, validation and test sets"):
        check_task(d)
    d = _ring()
    d.y[0] = -1
    with pytest.raises(GraphDataError, match="unlabelled nodes"):
        check_task(d)


def test_prepare_data_tensors() -> None:
    raw = csbm(num_nodes=80, num_classes=3, num_features=6, num_splits=2, seed=1)
    p = prepare_data(raw)
    assert p.x.dtype == torch.float32 and p.y.dtype == torch.int64
    assert torch.equal(p.x, raw.x) and p.edge_index is raw.edge_index
    assert torch.equal(p.y, raw.y) and p.num_classes == 3 and p.num_splits == 2
    assert p.metric == "accuracy" and p.notes == raw.notes and p.notes is not raw.notes
    raw.x = raw.x.abs()  # row normalisation takes non-negative features
    assert torch.equal(prepare_data(raw, normalize_features=True).x, row_normalize(raw.x))


def test_prepared_data_to_moves_every_tensor() -> None:
    p = prepare_data(csbm(num_nodes=60, num_classes=2, num_features=4, num_splits=2, seed=0))
    q = p.to("cpu")
    assert isinstance(q, PreparedData) and q is not p
    for k in ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask"):
        assert getattr(q, k).device.type == "cpu" and torch.equal(getattr(q, k), getattr(p, k))
    q.notes.append("only in q")
    assert "only in q" not in p.notes
    meta = torch.device("meta")
    m = p.to(meta)
    assert all(getattr(m, k).device == meta for k in ("x", "edge_index", "y", "test_mask"))
    assert (m.name, m.num_classes, m.metric) == (p.name, p.num_classes, p.metric)


@pytest.mark.parametrize(
    ("edge_index", "says"),
    [
        (lambda ei: ei.numpy(), r"edge_index must be a torch\.Tensor \[2, E\], got ndarray"),
        (lambda ei: ei + 5, r"edge_index has \d+ edges with node ids outside \[0, 12\)"),
        (lambda ei: ei.t(), r"looks like \[E, 2\]: transpose it"),
        (lambda ei: ei.float(), r"must be an integer tensor"),
    ],
)
def test_a_graph_given_to_a_run_has_its_edges_checked(edge_index: Any, says: str) -> None:
    """prepare_data (what graff.train.run does with a Data) checks edge_index as the loaders
    do (a NumPy edge list said "'int' object is not callable")."""
    d = _ring()
    d.edge_index = edge_index(d.edge_index)
    with pytest.raises(GraphDataError, match=says):
        prepare_data(d)


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_sparse_features_are_read_as_their_dense_values(layout: str) -> None:
    """x as a sparse COO or CSR tensor: the same prepared features as the dense x (a COO x
    crashed in the run with aten's NotImplementedError, a CSR one in the feature check)."""
    d = _ring()
    dense = prepare_data(d).x
    d.x = d.x.to_sparse() if layout == "coo" else d.x.to_sparse_csr()
    assert torch.equal(prepare_data(d).x, dense)


def test_edge_weights_are_said_to_be_unused() -> None:
    """A weighted graph (edge_weight or edge_attr): a GraphDataWarning that the models train on
    the unweighted graph, instead of dropping the weights silently."""
    from graff.data import GraphDataWarning

    d = _ring()
    d.edge_weight = torch.rand(d.edge_index.size(1))
    with pytest.warns(GraphDataWarning, match=r"has edge_weight: .* unweighted graph"):
        prepare_data(d)


def test_masks_given_as_node_indices_say_how_to_make_a_mask() -> None:
    """Index tensors (OGB's split_idx style) where masks belong: the error names them as
    indices and shows the bool mask to build."""
    d = _ring()
    d.train_mask = d.train_mask[:, 0].nonzero().flatten()
    says = r"train_mask holds 4 node indices .*mask\[idx\] = True"
    with pytest.raises(GraphDataError, match=says):
        check_task(d)


def test_a_directed_graph_given_as_it_is_is_said_to_be_directed() -> None:
    """A user's Data with one-way edges (not through validate_graph, which symmetrises): a
    GraphDataWarning that the models train on it as given (GRAFF's Ā not symmetric); the
    same graph after validate_graph: no warning."""
    import warnings

    from graff.data import GraphDataWarning, validate_graph

    d = _ring()
    d.edge_index = d.edge_index[:, : d.edge_index.size(1) // 2]  # i → i+1 only
    with pytest.warns(GraphDataWarning, match=r"edge_index is directed .*validate_graph"):
        prepare_data(d)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GraphDataWarning)
        prepare_data(validate_graph(d))

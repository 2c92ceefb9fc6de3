"""validate_graph repairs and errors, graph_stats, row_normalize and user .npz graphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from graff.data import (
    DataFileCorruptError,
    GraphDataError,
    graph_stats,
    load_dataset,
    prepare_data,
    row_normalize,
    validate_graph,
)


def _path_graph(n: int = 4) -> Data:
    """Undirected path 0-1-…-(n-1), two classes alternating, one split."""
    src = torch.arange(n - 1)
    ei = torch.stack([torch.cat([src, src + 1]), torch.cat([src + 1, src])])
    y = torch.arange(n) % 2
    return Data(x=torch.eye(n), edge_index=ei, y=y)


def test_clean_graph_passes_unchanged() -> None:
    d = validate_graph(_path_graph())
    assert d.notes == []
    assert d.edge_index.tolist() == [[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]]
    assert d.num_label_classes == 2


def test_directed_edges_symmetrised() -> None:
    d = Data(
        x=torch.ones(3, 1), edge_index=torch.tensor([[0, 1], [1, 2]]), y=torch.tensor([0, 1, 0])
    )
    out = validate_graph(d)
    assert out.edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    assert any("symmetrised" in n for n in out.notes)
    d2 = Data(
        x=torch.ones(3, 1), edge_index=torch.tensor([[0, 1], [1, 2]]), y=torch.tensor([0, 1, 0])
    )
    with pytest.raises(GraphDataError, match=r"directed.*to_undirected"):
        validate_graph(d2, repair=False)


@pytest.mark.parametrize("value", ["no", 0, None])
def test_repair_takes_a_bool(value: object) -> None:
    """``repair="no"`` counted as true: the graph was repaired where an error was asked for."""
    d = _path_graph()
    d.edge_index = torch.cat([d.edge_index, torch.tensor([[2], [2]])], dim=1)
    with pytest.raises(TypeError, match=r"repair must be True or False, got"):
        validate_graph(d, repair=value)  # type: ignore[arg-type]
    assert d.edge_index.size(1) == 7  # untouched


def test_self_loops_and_duplicates_removed() -> None:
    d = _path_graph()
    d.edge_index = torch.cat([d.edge_index, torch.tensor([[0, 2, 0], [1, 2, 1]])], dim=1)
    out = validate_graph(d)
    assert out.edge_index.tolist() == [[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]]
    assert any("1 self-loop" in n for n in out.notes)
    assert any("2 duplicate" in n for n in out.notes)
    d = _path_graph()
    d.edge_index = torch.cat([d.edge_index, torch.tensor([[2], [2]])], dim=1)
    with pytest.raises(GraphDataError, match="self-loops"):
        validate_graph(d, repair=False)


def test_isolated_nodes_noted() -> None:
    d = _path_graph()
    d.x = torch.eye(6)
    d.y = torch.tensor([0, 1, 0, 1, 0, 1])
    out = validate_graph(d)
    assert any("2 isolated" in n for n in out.notes)
    assert graph_stats(out)["isolated_nodes"] == 2


def test_nan_in_x() -> None:
    d = _path_graph()
    d.x[2, 1] = float("nan")
    d.x[3, 0] = float("inf")
    with pytest.raises(GraphDataError, match=r"2 NaN/inf.*first offending row: 2"):
        validate_graph(d)


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda d: setattr(d, "x", torch.ones(4)), "2-D"),
        (lambda d: setattr(d, "y", torch.tensor([0, 1, 0])), r"shape \[N\] = \[4\]"),
        (lambda d: setattr(d, "y", torch.tensor([0.5, 1, 0, 1])), "integer class ids"),
        (lambda d: setattr(d, "y", torch.tensor([0, 2, 0, 2])), "not contiguous.*remap"),
        (lambda d: setattr(d, "y", torch.tensor([0, -2, 0, 1])), "< -1"),
        (lambda d: setattr(d, "edge_index", d.edge_index.t()), r"\[2, E\].*transpose"),
        (lambda d: setattr(d, "edge_index", d.edge_index.float()), "integer"),
        (lambda d: setattr(d, "edge_index", torch.tensor([[0, 4], [4, 0]])), r"outside \[0, 4\)"),
        (lambda d: setattr(d, "edge_index", torch.tensor([[0, -1], [-1, 0]])), "outside"),
        (lambda d: setattr(d, "edge_index", torch.zeros(2, 0, dtype=torch.long)), "no edges; che"),
        (lambda d: setattr(d, "edge_index", torch.tensor([[1], [1]])), "no edges besides"),
    ],
)
def test_bad_input_errors(mutate: object, pattern: str) -> None:
    d = _path_graph()
    mutate(d)  # type: ignore[operator]
    with pytest.raises(GraphDataError, match=pattern):
        validate_graph(d)


def test_empty_graph() -> None:
    d = Data(
        x=torch.zeros(0, 3),
        edge_index=torch.zeros(2, 0, dtype=torch.long),
        y=torch.zeros(0, dtype=torch.long),
    )
    with pytest.raises(GraphDataError, match="empty"):
        validate_graph(d)


def test_masks() -> None:
    d = _path_graph()
    d.train_mask = torch.tensor([True, False, False, False])
    d.val_mask = torch.tensor([False, True, False, False])
    d.test_mask = torch.tensor([False, False, True, True])
    out = validate_graph(d)
    assert out.train_mask.shape == (4, 1)

    d = _path_graph()
    d.train_mask = torch.tensor([[True], [False], [True], [False]])
    d.val_mask = torch.tensor([[False], [True], [False], [False]])
    d.test_mask = torch.tensor([[False], [False], [True], [True]])
    with pytest.raises(GraphDataError, match=r"train and test masks overlap.*node 2 in split 0"):
        validate_graph(d)

    d = _path_graph()
    d.train_mask = torch.zeros(3, 2, dtype=torch.bool)
    d.val_mask = torch.zeros(4, 2, dtype=torch.bool)
    d.test_mask = torch.zeros(4, 2, dtype=torch.bool)
    with pytest.raises(GraphDataError, match=r"train_mask must have shape"):
        validate_graph(d)

    d = _path_graph()
    d.train_mask = torch.zeros(4, 2, dtype=torch.bool)
    d.val_mask = torch.zeros(4, 3, dtype=torch.bool)
    d.test_mask = torch.zeros(4, 2, dtype=torch.bool)
    with pytest.raises(GraphDataError, match="number of splits"):
        validate_graph(d)


def test_unlabelled_nodes_dropped_from_masks() -> None:
    d = _path_graph()
    d.y = torch.tensor([0, 1, -1, 1])
    d.train_mask = torch.tensor([[True], [False], [True], [False]])
    d.val_mask = torch.tensor([[False], [True], [False], [False]])
    d.test_mask = torch.tensor([[False], [False], [False], [True]])
    out = validate_graph(d)
    assert out.train_mask[:, 0].tolist() == [True, False, False, False]
    assert any("dropped unlabelled" in n for n in out.notes)
    assert graph_stats(out)["edge_homophily"] == 0.0  # edges touching node 2 are ignored
    d.train_mask = torch.tensor([[True], [False], [True], [False]])
    with pytest.raises(GraphDataError, match="unlabelled"):
        validate_graph(d, repair=False)


def test_graph_stats_small() -> None:
    d = _path_graph(5)
    d.y = torch.tensor([0, 0, 1, 1, 1])
    d.train_mask = torch.tensor([[1, 0], [0, 1], [0, 0], [1, 0], [0, 0]], dtype=torch.bool)
    d.val_mask = torch.tensor([[0, 1], [1, 0], [0, 0], [0, 0], [0, 0]], dtype=torch.bool)
    d.test_mask = torch.tensor([[0, 0], [0, 0], [1, 1], [0, 1], [1, 1]], dtype=torch.bool)
    s = graph_stats(validate_graph(d))
    assert s["nodes"] == 5 and s["undirected_edges"] == 4 and s["classes"] == 2
    assert s["class_counts"] == [2, 3]
    assert s["edge_homophily"] == pytest.approx(0.75)
    assert s["split_sizes"] == [(2, 1, 2), (1, 1, 3)] and s["num_splits"] == 2
    assert s["directed"] is False and s["isolated_nodes"] == 0


def test_row_normalize() -> None:
    x = torch.tensor([[1.0, 3.0], [0.0, 0.0], [2.0, 2.0]])
    out = row_normalize(x)
    assert out.tolist() == [[0.25, 0.75], [0.0, 0.0], [0.5, 0.5]]
    assert torch.equal(x, torch.tensor([[1.0, 3.0], [0.0, 0.0], [2.0, 2.0]]))


def test_row_normalize_refuses_signed_features_and_non_matrices() -> None:
    """Signed rows were divided by sums near zero (a row [1, -1.001] became [-1000, 1001])
    and a vector was divided by its total: both refused, naming what to do."""
    signed = torch.tensor([[1.0, -1.001], [2.0, 2.0], [0.5, 0.5]])
    with pytest.raises(GraphDataError, match=r"negative entries in 1 of 3 rows \(min -1\.001\)"):
        row_normalize(signed)
    with pytest.raises(GraphDataError, match=r"data\.normalize_features=false"):
        row_normalize(signed)
    with pytest.raises(GraphDataError, match=r"x \[N, F\] \(one row per node\), got shape \(5,\)"):
        row_normalize(torch.ones(5))
    graph = _path_graph(6)
    graph.x = torch.randn(6, 3)
    graph.x[0, 0] = -1.0  # at least one negative entry
    part = torch.arange(6) // 2  # two nodes each (both classes) for train, validation, test
    graph.train_mask, graph.val_mask, graph.test_mask = part == 0, part == 1, part == 2
    with pytest.raises(GraphDataError, match="needs non-negative features"):
        prepare_data(graph, normalize_features=True)


def test_user_npz_edges_and_random_splits(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 60
    edges = np.stack([np.arange(n), (np.arange(n) + 1) % n], axis=1)  # directed ring [E, 2]
    path = tmp_path / "ring.npz"
    np.savez(path, x=rng.standard_normal((n, 3)), y=np.arange(n) % 3, edges=edges)
    d = load_dataset(f"npz:{path}", num_splits=4)
    assert d.name == "npz:ring" and d.metric == "accuracy"
    assert d.edge_index.shape == (2, 2 * n) and d.x.dtype == torch.float32
    assert d.train_mask.shape == (n, 4)
    assert any("random splits" in s for s in d.notes)
    assert graph_stats(d)["edge_homophily"] == 0.0


def test_user_npz_with_masks_sn(tmp_path: Path) -> None:
    n = 6
    ei = np.array([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
    tr = np.zeros((2, n), dtype=bool)
    tr[:, 0] = True
    va = np.zeros((2, n), dtype=bool)
    va[:, 1] = True
    te = np.zeros((2, n), dtype=bool)
    te[:, 2:] = True
    path = tmp_path / "g.npz"
    np.savez(
        path,
        x=np.ones((n, 2), np.float32),
        y=np.array([0, 1, 0, 1, 0, 1]),
        edge_index=ei,
        train_mask=tr,
        val_mask=va,
        test_mask=te,
    )
    d = load_dataset(str(path))
    assert d.train_mask.shape == (n, 2) and d.test_mask[:, 0].sum() == 4


def test_user_npz_errors(tmp_path: Path) -> None:
    p = tmp_path / "noedges.npz"
    np.savez(p, x=np.ones((3, 2)), y=np.zeros(3, dtype=int))
    with pytest.raises(GraphDataError, match="edge_index"):
        load_dataset(f"npz:{p}")
    p = tmp_path / "nan.npz"
    np.savez(p, x=np.array([[1.0], [np.nan]]), y=np.array([0, 1]), edges=np.array([[0, 1]]))
    with pytest.raises(GraphDataError, match="NaN"):
        load_dataset(f"npz:{p}")
    p = tmp_path / "junk.npz"
    p.write_bytes(b"not a zip file at all")
    with pytest.raises(DataFileCorruptError, match=r"junk\.npz"):
        load_dataset(f"npz:{p}")
    with pytest.raises(GraphDataError, match="does not exist"):
        load_dataset(f"npz:{tmp_path / 'nope.npz'}")


def test_a_class_without_training_nodes_is_noted() -> None:
    """Validation or test nodes of a class that no training node of their split has can
    never be predicted right: the note names the splits and classes (and only those)."""
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    train = torch.tensor([[1, 1], [0, 0], [1, 0], [0, 0], [0, 0], [0, 0]]).bool()
    val = torch.tensor([[0, 0], [1, 0], [0, 0], [0, 1], [1, 0], [0, 0]]).bool()
    test = torch.tensor([[0, 0], [0, 1], [0, 1], [1, 0], [0, 0], [1, 1]]).bool()
    edges = torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
    data = Data(x=torch.randn(6, 3), edge_index=edges, y=y)
    data.train_mask, data.val_mask, data.test_mask = train, val, test
    notes = [n for n in validate_graph(data).notes if "no training node" in n]
    assert len(notes) == 1
    assert notes[0].endswith("split 0: class 2; split 1: classes 1, 2")
    data = Data(x=torch.randn(6, 3), edge_index=edges, y=y)
    data.train_mask = torch.tensor([1, 0, 1, 0, 1, 0]).bool()
    data.val_mask, data.test_mask = ~data.train_mask, torch.zeros(6, dtype=torch.bool)
    assert not [n for n in validate_graph(data).notes if "no training node" in n]

"""Bad input in a user's .npz graph: every class of problem ends in a clear GraphDataError (or a
correct load), never a traceback from numpy/torch, and never code run from the file."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from graff.data import (
    GraphDataError,
    GraphDataWarning,
    absolute_dataset,
    check_features,
    check_task,
    dataset_files_present,
    dataset_source,
    graph_stats,
    load_dataset,
    prepare_data,
    row_normalize,
    user_npz_path,
    validate_graph,
)

N = 30


def _graph(**over: Any) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    g: dict[str, Any] = {
        "x": rng.standard_normal((N, 4)),
        "y": np.arange(N) % 3,
        "edges": np.stack([np.arange(N), (np.arange(N) + 1) % N], axis=1),
    }
    g.update(over)
    return {k: v for k, v in g.items() if v is not None}


def _save(tmp_path: Path, name: str = "g", **over: Any) -> str:
    path = tmp_path / f"{name}.npz"
    np.savez(path, **_graph(**over))
    return f"npz:{path}"


@pytest.mark.parametrize(
    "y",
    [
        (np.arange(N) % 3).astype(np.float64),
        (np.arange(N) % 3).astype(np.float32),
        (np.arange(N) % 3).astype(np.uint8),
        (np.arange(N) % 3).astype(np.int32),
        (np.arange(N) % 3).astype(np.int16),
    ],
    ids=["float64", "float32", "uint8", "int32", "int16"],
)
def test_integer_valued_labels_of_any_numeric_dtype_load(tmp_path: Path, y: np.ndarray) -> None:
    d = load_dataset(_save(tmp_path, y=y))
    assert d.y.dtype == torch.int64 and d.y.tolist() == (np.arange(N) % 3).tolist()
    p = prepare_data(d)  # used to fail with AttributeError: float labels got no splits
    assert p.num_splits == 10 and p.num_classes == 3


def test_bool_labels_are_two_classes(tmp_path: Path) -> None:
    d = load_dataset(_save(tmp_path, y=(np.arange(N) % 2).astype(bool)))
    assert d.y.tolist() == (np.arange(N) % 2).tolist() and d.num_label_classes == 2
    assert any("bool labels" in n for n in d.notes)


def test_float_labels_equal_int_labels(tmp_path: Path) -> None:
    a = load_dataset(_save(tmp_path, "a", y=(np.arange(N) % 3).astype(float)))
    b = load_dataset(_save(tmp_path, "b"))
    for k in ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize(
    ("over", "pattern"),
    [
        ({"y": np.arange(N) % 3 + 0.5}, r"'y' must hold integer class ids.*non-integer.*0\.5"),
        ({"y": np.where(np.arange(N) == 3, np.nan, np.arange(N) % 3)}, r"'y' has NaN/inf.*-1"),
        ({"y": np.array([str(i % 3) for i in range(N)])}, r"'y'.*dtype <U1.*np\.unique"),
        ({"y": np.arange(N) % 3 + 0j}, r"'y'.*complex"),
        ({"x": np.zeros((N, 0))}, r"no feature columns.*constant feature"),
        ({"x": np.ones((N, 2)) + 1j}, r"'x' is complex.*x\.real, x\.imag"),
        ({"x": np.full((N, 2), 3e38)}, r"\|x\| = 3e\+38.*float32.*rescale"),
        ({"x": np.full((N, 2), 1e300)}, r"\|x\| = 1e\+300"),
        ({"x": np.array([f"f{i}" for i in range(N)])}, r"'x' must be numeric"),
        ({"edges": np.array([[0.5, 1.0]])}, r"edge ids must be integers"),
        (
            {"edges": None, "adj": np.eye(N)},
            r"'adj' looks like a dense adjacency \[N, N\].*np\.stack\(np\.nonzero\(adj\)\)",
        ),
    ],
    ids=[
        "fractional-y",
        "nan-y",
        "string-y",
        "complex-y",
        "zero-features",
        "complex-x",
        "huge-x",
        "beyond-float32-x",
        "string-x",
        "fractional-edges",
        "dense-adjacency",
    ],
)
def test_bad_arrays_are_clear_errors(tmp_path: Path, over: dict[str, Any], pattern: str) -> None:
    with pytest.raises(GraphDataError, match=pattern):
        prepare_data(load_dataset(_save(tmp_path, **over)))


@pytest.mark.parametrize(
    "masks",
    [
        {k: np.array(["yes"] * N) for k in ("train_mask", "val_mask", "test_mask")},
        {k: np.full(N, 2) for k in ("train_mask", "val_mask", "test_mask")},
        {k: np.full(N, np.nan) for k in ("train_mask", "val_mask", "test_mask")},
    ],
    ids=["strings", "not-0-1", "nan"],
)
def test_bad_masks_are_clear_errors(tmp_path: Path, masks: dict[str, Any]) -> None:
    with pytest.raises(GraphDataError, match=r"'train_mask' must be (a )?boolean"):
        load_dataset(_save(tmp_path, **masks))


def test_integer_valued_float_edges_and_01_masks_load(tmp_path: Path) -> None:
    tr = np.zeros(N)
    tr[:15] = 1
    va = np.zeros(N)
    va[15:22] = 1
    te = 1 - tr - va
    d = load_dataset(
        _save(
            tmp_path,
            edges=np.stack([np.arange(N), (np.arange(N) + 1) % N], 1).astype(float),
            train_mask=tr,
            val_mask=va.astype(np.int8),
            test_mask=te.astype(np.float32),
        )
    )
    assert d.edge_index.dtype == torch.int64 and d.edge_index.size(1) == 2 * N
    assert d.train_mask.dtype == torch.bool and int(d.train_mask.sum()) == 15
    assert int(d.test_mask.sum()) == N - 22


def test_a_file_in_platonov_et_al_format_loads_under_their_array_names(tmp_path: Path) -> None:
    """Their .npz (node_features, node_labels, edges [E, 2], *_masks [S, N]) read as npz:PATH is
    the same graph as ours under x, y, edges and *_mask; a file mixing both namings is not
    guessed at (its x/y win, their names are left unread)."""
    g = _graph()
    rng = np.random.default_rng(1)
    r = rng.random((10, N))
    masks = {"train": r < 0.5, "val": (r >= 0.5) & (r < 0.75), "test": r >= 0.75}
    theirs = tmp_path / "theirs.npz"
    np.savez(
        theirs, node_features=g["x"], node_labels=g["y"], edges=g["edges"],
        **{f"{k}_masks": m for k, m in masks.items()},
    )  # fmt: skip
    ours = _save(tmp_path, "ours", **{f"{k}_mask": m.T for k, m in masks.items()})
    a, b = load_dataset(f"npz:{theirs}"), load_dataset(ours)
    for key in ("x", "y", "edge_index", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(a[key], b[key]), key
    assert a.train_mask.shape == (N, 10)
    assert any("Platonov" in n for n in a.notes) and not any("Platonov" in n for n in b.notes)
    mixed = tmp_path / "mixed.npz"
    np.savez(mixed, **g, node_features=g["x"][:, :2], node_labels=g["y"])
    assert load_dataset(f"npz:{mixed}").x.shape == (N, 4)


class _Boom:
    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (Path(self.target),))

    target = ""


def test_object_arrays_are_refused_and_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    _Boom.target = str(marker)
    path = tmp_path / "evil.npz"
    np.savez(path, **_graph(y=np.array([_Boom()] + [0] * (N - 1), dtype=object)))
    with pytest.raises(GraphDataError, match=r"'y' holds Python objects.*never unpickles"):
        load_dataset(f"npz:{path}")
    assert not marker.exists()
    # the same file does run code when unpickled: the test would notice if we did
    with np.load(path, allow_pickle=True) as z:
        z["y"]
    assert marker.exists()


def _gnn_benchmark(path: Path, **extra: Any) -> dict[str, Any]:
    """A graph saved in the gnn-benchmark format (CSR parts of adjacency and features)."""
    import scipy.sparse as sp

    g = _graph()
    e = g["edges"]
    adj = sp.csr_matrix((np.ones(len(e), np.float32), (e[:, 0], e[:, 1])), shape=(N, N))
    attr = sp.csr_matrix(g["x"].astype(np.float32))
    parts = {f"{name}_{k}": getattr(m, k) for name, m in (("adj", adj), ("attr", attr))
             for k in ("data", "indices", "indptr")}  # fmt: skip
    np.savez(path, **parts, adj_shape=adj.shape, attr_shape=attr.shape, labels=g["y"], **extra)
    return g


def test_a_file_in_the_gnn_benchmark_format_loads(tmp_path: Path) -> None:
    """The format of PyG's Amazon / Coauthor / CitationFull files (Shchur et al. 2018): the
    same graph as the plain arrays, also when the file carries pickled name lists beside
    them (never unpickled: an array of objects is refused only where the graph needs it)."""
    marker = tmp_path / "code-ran"
    _Boom.target = str(marker)
    theirs = tmp_path / "amazon.npz"
    names = np.array([_Boom()] * 3, dtype=object)
    g = _gnn_benchmark(theirs, class_names=names)
    a, b = load_dataset(f"npz:{theirs}"), load_dataset(_save(tmp_path, "ours"))
    for key in ("x", "y", "edge_index"):
        assert torch.equal(a[key], b[key]), key
    assert any("gnn-benchmark" in n for n in a.notes) and not marker.exists()
    assert a.x.shape == g["x"].shape
    # PyG's reader of the format: the same graph and labels (its positive features set to 1)
    from torch_geometric.io import read_npz

    ref = read_npz(str(theirs))
    assert torch.equal(ref.y, a.y) and torch.equal(ref.x, torch.where(a.x > 0, 1.0, a.x))
    assert sorted(map(tuple, ref.edge_index.t().tolist())) == sorted(
        map(tuple, a.edge_index.t().tolist())
    )
    # an array the graph needs holding objects: refused, naming it, still never unpickled
    bad = tmp_path / "bad.npz"
    _gnn_benchmark(bad, labels_data=np.ones(3))
    with np.load(bad) as z:
        arrays = {k: z[k] for k in z.files if k != "labels"}
    np.savez(bad, **arrays, labels=np.array([_Boom()] * N, dtype=object))
    with pytest.raises(GraphDataError, match=r"'labels' holds Python objects"):
        load_dataset(f"npz:{bad}")
    assert not marker.exists()
    np.savez(bad, **{k: v for k, v in arrays.items() if not k.startswith("attr")}, labels=g["y"])
    with pytest.raises(GraphDataError, match=r"gnn-benchmark format but no node features"):
        load_dataset(f"npz:{bad}")


def test_not_an_npz_archive(tmp_path: Path) -> None:
    single = tmp_path / "one.npz"
    with single.open("wb") as fh:
        np.save(fh, np.ones(3))
    with pytest.raises(GraphDataError, match=r"single array, not an \.npz archive"):
        load_dataset(f"npz:{single}")
    pick = tmp_path / "pickle.npz"
    pick.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(GraphDataError, match=r"is a pickle, not an \.npz archive.*never unpickles"):
        load_dataset(f"npz:{pick}")
    text = tmp_path / "text.npz"  # numpy reads anything it does not know as a pickle
    text.write_text("source,target\n0,1\n")
    with pytest.raises(GraphDataError, match=r"not an \.npz archive \(it starts with b'source,t'"):
        load_dataset(f"npz:{text}")
    with pytest.raises(GraphDataError, match="is a directory"):
        load_dataset(f"npz:{tmp_path}")


def test_user_file_errors_never_advise_copying_shared_data(tmp_path: Path) -> None:
    """The shared/data advice is for manifest files only; a user's npz is theirs to fix."""
    good = tmp_path / "good.npz"
    np.savez(good, **_graph())
    raw = good.read_bytes()
    cases = {
        "junk.npz": b"not a zip file at all",
        "truncated.npz": raw[: len(raw) // 2],
    }
    broken = bytearray(raw)
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("x.npy")
    start = info.header_offset + 30 + len(info.filename) + 80
    broken[start : start + 40] = b"\xff" * 40  # damaged member data: CRC mismatch on read
    cases["damaged.npz"] = bytes(broken)
    for name, content in cases.items():
        p = tmp_path / name
        p.write_bytes(content)
        with pytest.raises(GraphDataError) as err:
            load_dataset(f"npz:{p}")
        msg = str(err.value)
        assert str(p) in msg and "shared/data" not in msg, (name, msg)


def test_validate_graph_refuses_the_same_feature_classes() -> None:
    """The Python API gets the same checks as the npz reader."""
    base = {
        "edge_index": torch.tensor([[0, 1], [1, 0]]),
        "y": torch.tensor([0, 1]),
    }
    from torch_geometric.data import Data

    for x, pattern in (
        (torch.zeros(2, 0), "no feature columns"),
        (torch.ones(2, 2, dtype=torch.complex64), "complex"),
        (torch.full((2, 2), 3e38), r"\|x\| = 3e\+38"),
        (torch.full((2, 2), 1e200, dtype=torch.float64), r"\|x\| = 1e\+200"),
    ):
        with pytest.raises(GraphDataError, match=pattern):
            validate_graph(Data(x=x, **base))
    d = validate_graph(Data(x=torch.ones(2, 2), **{**base, "y": torch.tensor([0.0, 1.0])}))
    assert d.y.dtype == torch.int64  # integer-valued float labels are cast (with a note)
    with pytest.raises(GraphDataError, match="NaN/inf labels"):
        validate_graph(Data(x=torch.ones(2, 2), **{**base, "y": torch.tensor([0.0, np.nan])}))


def test_large_features_warn_naming_the_scale() -> None:
    check_features(torch.full((3, 2), 1e5))  # below the warning level: silent
    with pytest.warns(GraphDataWarning, match=r"\|x\| = 2e\+07.*Rescale"):
        check_features(torch.full((3, 2), 2e7), name="g")
    check_features(torch.full((3, 2), 2e7), warn=False)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ("cora", r"got str 'cora'; load it first: graff\.data\.load_dataset\('cora'\)"),
        (Path("cora.npz"), r"got PosixPath|got WindowsPath"),
        (42, r"with x, y and edge_index .* got int 42"),
        (None, r"with x, y and edge_index .* got NoneType"),
    ],
)
def test_prepare_data_of_a_name_or_non_graph_says_to_load_it(bad: Any, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        prepare_data(bad)
    # the other functions of graff.data that take a graph say the same, naming themselves
    for fn in (validate_graph, graph_stats, check_task):
        with pytest.raises(TypeError, match=rf"^{fn.__name__} takes a loaded graph.*" + match):
            fn(bad)


def test_a_graph_where_a_name_or_features_go_is_named() -> None:
    """A loaded graph given to a function taking a dataset's name or the features crashed
    on ``'GlobalStorage' object has no attribute 'strip'`` / ``'sum'``."""
    g = load_dataset("csbm", num_nodes=60, num_classes=2, num_features=3)
    for fn in (dataset_files_present, dataset_source, user_npz_path, absolute_dataset):
        with pytest.raises(GraphDataError, match=r"dataset name must be a string, got Data.*not a"):
            fn(g)  # type: ignore[arg-type]
    with pytest.raises(GraphDataError, match=r"dataset name must be a string, got int 3"):
        load_dataset(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"row_normalize takes node features .* got Data; pass"):
        row_normalize(g)  # type: ignore[arg-type]
    assert torch.allclose(row_normalize(g.x.abs()).sum(dim=1), torch.ones(60))
    with pytest.raises(TypeError, match=r"normalize_features must be True or False, got 'no'"):
        prepare_data(g, normalize_features="no")  # type: ignore[arg-type]


def test_arrays_a_file_holds_but_graff_does_not_read_are_named(tmp_path: Path) -> None:
    """An ``edge_weight`` (or a misspelt ``train_msk``) in a user file was dropped silently:
    a note now names every array not read, and says that edge weights are not used. The
    gnn-benchmark format's own arrays (its pickled name lists included) are not listed."""
    data = load_dataset(_save(tmp_path, "w", edge_weight=np.ones(N), train_msk=np.ones(N)))
    (note,) = [n for n in data.notes if n.startswith("arrays not read")]
    assert note == (
        "arrays not read: edge_weight, train_msk (edge_weight: graff's models use the graph "
        "unweighted)"
    )
    assert not any("not read" in n for n in load_dataset(_save(tmp_path, "plain")).notes)
    theirs = tmp_path / "amazon.npz"
    _gnn_benchmark(theirs, class_names=np.array(["a", "b"], dtype=object), extra=np.ones(2))
    assert [n for n in load_dataset(f"npz:{theirs}").notes if "not read" in n] == [
        "arrays not read: extra"
    ]


def test_a_multi_label_target_is_named_as_such() -> None:
    """A [N, C] multi-hot y was told to take the argmax of a one-hot matrix."""
    base = _graph()
    y = np.zeros((N, 3), dtype=np.int64)
    y[:, 0] = 1
    y[0, 1] = 1  # one node with two labels
    for target, pattern in (
        (y, "multi-label target"),
        (np.eye(3)[base["y"]], "argmax of a one-hot"),
    ):
        g = Data(
            x=torch.tensor(base["x"]),
            edge_index=torch.tensor(base["edges"].T),
            y=torch.tensor(target),
        )
        with pytest.raises(GraphDataError, match=pattern):
            validate_graph(g)


def test_two_edge_arrays_that_disagree_or_ids_that_overflow_are_refused(tmp_path: Path) -> None:
    """A file with both ``edge_index`` and ``edges`` was read from ``edge_index`` alone,
    ``edges`` silently dropped even when it was another graph; float or uint64 ids beyond
    int64 wrapped to negative ids in the cast (a RuntimeWarning, then a node id of
    -9223372036854775808)."""
    ring = _graph()["edges"]
    same = load_dataset(_save(tmp_path, "same", edge_index=ring.T.copy()))
    assert same.edge_index.size(1) == 2 * N  # the same ring, symmetrised
    with pytest.raises(GraphDataError, match=r"both 'edge_index' .* and 'edges' .* not the same"):
        load_dataset(_save(tmp_path, "differ", edge_index=ring[: N // 2].T.copy()))
    big = ring.T.astype(np.float64)
    big[0, 0] = 1e20
    huge = ring.T.astype(np.uint64)
    huge[0, 0] = 2**63 + 5
    edge = ring.T.astype(np.float64)
    edge[0, 0] = 2.0**63  # int64's maximum rounds up to it as a float
    low = ring.T.astype(np.float64)
    low[1, 3] = -1e20
    for name, ids in (("float", big), ("uint64", huge), ("edge", edge), ("low", low)):
        with pytest.raises(GraphDataError, match=r"edge id .* does not fit int64"):
            load_dataset(_save(tmp_path, name, edges=None, edge_index=ids))

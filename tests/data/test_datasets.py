"""Real benchmark datasets: statistics against shared/data/README.md, quirks, processed cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, is_undirected

from graff.data import (
    DATASET_SIZES,
    GraphDataWarning,
    cache_dir,
    graph_stats,
    list_datasets,
    load_dataset,
)

pytestmark = pytest.mark.shared_data

_LOADED: dict[tuple[str, tuple[tuple[str, Any], ...]], Data] = {}


def _load(data_dir: Path, name: str, **params: Any) -> Data:
    key = (name, tuple(sorted(params.items())))
    if key not in _LOADED:
        _LOADED[key] = load_dataset(name, data_dir, download=False, **params)
    return _LOADED[key]


# name: (nodes, undirected edges, features, classes, class counts or None,
#        split-0 sizes or None (= not fixed), homophily, metric)
EXPECTED: dict[
    str, tuple[int, int, int, int, list[int] | None, tuple[int, int, int] | None, float, str]
] = {
    "cora": (
        2708,
        5278,
        1433,
        7,
        [351, 217, 418, 818, 426, 298, 180],
        (1192, 796, 497),
        0.810,
        "accuracy",
    ),
    "citeseer": (3327, 4552, 3703, 6, None, None, 0.738, "accuracy"),
    "pubmed": (19717, 44324, 500, 3, [4103, 7739, 7875], (9463, 6310, 3944), 0.802, "accuracy"),
    "chameleon": (
        2277,
        31371,
        2325,
        5,
        [456, 460, 453, 521, 387],
        (1092, 729, 456),
        0.230,
        "accuracy",
    ),
    "squirrel": (
        5201,
        198353,
        2089,
        5,
        [1042, 1040, 1039, 1040, 1040],
        (2496, 1664, 1041),
        0.222,
        "accuracy",
    ),
    "film": (
        7600,
        26659,
        932,
        5,
        [853, 1337, 1630, 1815, 1965],
        (3648, 2432, 1520),
        0.217,
        "accuracy",
    ),
    "texas": (183, 279, 1703, 5, [33, 1, 18, 101, 30], (87, 59, 37), 0.061, "accuracy"),
    "cornell": (183, 277, 1703, 5, [38, 16, 30, 82, 17], (87, 59, 37), 0.123, "accuracy"),
    "cornell_old": (183, 277, 1703, 5, [33, 1, 18, 101, 30], (87, 59, 37), 0.296, "accuracy"),
    "wisconsin": (251, 450, 1703, 5, [10, 70, 118, 32, 21], (120, 80, 51), 0.178, "accuracy"),
    "minesweeper": (10000, 39402, 7, 2, [8000, 2000], (5000, 2500, 2500), 0.683, "roc_auc"),
    "tolokers": (11758, 519000, 10, 2, [9192, 2566], (5879, 2939, 2940), 0.595, "roc_auc"),
    "chameleon-filtered": (890, 8854, 2325, 5, [242, 134, 209, 164, 141], None, 0.236, "accuracy"),
    "squirrel-filtered": (2223, 46998, 2089, 5, [756, 516, 397, 321, 233], None, 0.207, "accuracy"),
}


def _check_convention(d: Data) -> None:
    n = d.num_nodes
    assert d.x.dtype == torch.float32 and d.x.dim() == 2 and d.x.size(0) == n
    assert d.edge_index.dtype == torch.int64 and d.edge_index.size(0) == 2
    assert d.y.dtype == torch.int64 and d.y.shape == (n,)
    ei = d.edge_index
    assert not bool((ei[0] == ei[1]).any()), "self-loops present"
    assert is_undirected(ei, num_nodes=n)
    assert torch.equal(coalesce(ei, num_nodes=n), ei), "not coalesced"
    for k in ("train_mask", "val_mask", "test_mask"):
        m = d[k]
        assert m.dtype == torch.bool and m.dim() == 2 and m.size(0) == n
        assert not bool((m & (d.y < 0).unsqueeze(1)).any()), f"{k} selects unlabelled nodes"
    assert not bool((d.train_mask & d.test_mask).any())
    assert not bool((d.train_mask & d.val_mask).any())
    assert not bool((d.val_mask & d.test_mask).any())
    assert int(d.y.max()) + 1 == d.num_label_classes
    assert isinstance(d.notes, list) and all(isinstance(s, str) for s in d.notes)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_benchmark_statistics(shared_data_dir: Path, name: str) -> None:
    nodes, edges, feats, classes, counts, split0, h, metric = EXPECTED[name]
    d = _load(shared_data_dir, name)
    _check_convention(d)
    s = graph_stats(d)
    assert (s["nodes"], s["undirected_edges"], s["features"], s["classes"]) == (
        nodes,
        edges,
        feats,
        classes,
    )
    if counts is not None:
        assert s["class_counts"] == counts
    assert round(s["edge_homophily"], 3) == pytest.approx(h, abs=1e-9)
    assert s["num_splits"] == 10 and not s["directed"]
    if split0 is not None:
        assert all(sz == split0 for sz in s["split_sizes"]), s["split_sizes"]
    assert d.name == name and d.metric == metric
    # the registry's size (read by graff reproduce's cost model) is the graph as loaded
    assert DATASET_SIZES[name] == (d.num_nodes, d.edge_index.size(1), d.x.size(1))


@pytest.mark.parametrize("name", ["chameleon-filtered", "squirrel-filtered"])
def test_filtered_splits_are_the_shipped_masks(shared_data_dir: Path, name: str) -> None:
    d = _load(shared_data_dir, name)
    with np.load(shared_data_dir / "heterophilous-graphs" / f"{name.replace('-', '_')}.npz") as z:
        for k in ("train", "val", "test"):
            assert torch.equal(d[f"{k}_mask"], torch.from_numpy(z[f"{k}_masks"].T.copy()))


def test_citeseer_unlabelled_nodes_dropped_from_masks(shared_data_dir: Path) -> None:
    d = _load(shared_data_dir, "citeseer")
    unl = (d.y < 0).nonzero().flatten()
    assert unl.numel() == 15
    assert float(d.x[unl].abs().sum()) == 0.0
    deg = torch.bincount(d.edge_index[0], minlength=d.num_nodes)
    # README calls them isolated, but ind.citeseer.graph gives each 1-2 neighbours (e.g. 3212)
    assert bool((deg[unl] >= 1).all()) and int(deg[3212]) == 2
    raw_sizes = []
    for s in range(10):
        with np.load(shared_data_dir / f"geom-gcn/splits/citeseer_split_0.6_0.2_{s}.npz") as z:
            raw = {
                k: torch.from_numpy(z[f"{k}_mask"].astype(bool)) for k in ("train", "val", "test")
            }
        raw_sizes.append(tuple(int(raw[k].sum()) for k in ("train", "val", "test")))
        for k in ("train", "val", "test"):
            # the geom-gcn files DO put the 15 label-less nodes into masks; we drop exactly those
            assert torch.equal(d[f"{k}_mask"][:, s], raw[k] & (d.y >= 0))
    assert raw_sizes == [(1596, 1065, 666)] * 4 + [(1017, 679, 424)] * 2 + [(1596, 1065, 666)] * 4
    assert any("dropped unlabelled" in n for n in d.notes)
    s0 = graph_stats(d)["split_sizes"]
    assert s0[0] == (1586, 1061, 665) and s0[4] == (1009, 677, 424)


def test_cora_nodes_outside_masks(shared_data_dir: Path) -> None:
    d = _load(shared_data_dir, "cora")
    in_any = (d.train_mask | d.val_mask | d.test_mask).any(dim=1)
    assert int((~in_any).sum()) == 223


def test_film_rows_placed_by_node_id(shared_data_dir: Path) -> None:
    d = _load(shared_data_dir, "film")
    path = shared_data_dir / "geom-gcn/new_data/film/out1_node_feature_label.txt"
    lines = path.read_text().splitlines()[1:4]
    assert lines[0].split("\t")[0] != "0", "the file's first row is not node 0"
    for ln in lines:
        nid, feats, label = ln.split("\t")
        cols = sorted(int(c) for c in feats.split(","))
        assert d.x[int(nid)].nonzero().flatten().tolist() == cols
        assert int(d.y[int(nid)]) == int(label)
    assert d.x.size(1) == 932


@pytest.mark.parametrize(
    ("h", "expected"),
    [(0.0, 0.000), (0.1, 0.103), (0.3, 0.300), (0.5, 0.512), (0.9, 0.889), (1.0, 1.000)],
)
def test_syn_cora(shared_data_dir: Path, h: float, expected: float) -> None:
    d = _load(shared_data_dir, "syn-cora", homophily=h, replica=1)
    _check_convention(d)
    s = graph_stats(d)
    assert (s["nodes"], s["features"], s["classes"]) == (1490, 1433, 5)
    assert s["undirected_edges"] == (2965 if h == 1.0 else 2968)
    # README rounds from 4 decimals (0.5115 -> 0.512), so allow one unit in the last place
    assert s["edge_homophily"] == pytest.approx(expected, abs=1.0e-3)
    assert s["num_splits"] == 10 and s["split_sizes"][0] == (715, 475, 300)


def test_syn_cora_bad_params(shared_data_dir: Path) -> None:
    from graff.data import GraphDataError

    with pytest.raises(GraphDataError, match="homophily"):
        load_dataset("syn-cora", shared_data_dir, homophily=0.25)
    with pytest.raises(GraphDataError, match="replica"):
        load_dataset("syn-cora", shared_data_dir, homophily=0.2, replica=4)


def test_aliases(shared_data_dir: Path) -> None:
    a = load_dataset("Actor", shared_data_dir)
    assert a.name == "film"
    b = load_dataset("chameleon_filtered", shared_data_dir)
    assert b.name == "chameleon-filtered"


def test_processed_cache_is_used(
    shared_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAFF_CACHE", str(tmp_path / "c"))
    first = load_dataset("texas", shared_data_dir)
    files = list((cache_dir() / "processed").glob("texas-*.pt"))
    assert len(files) == 1 and cache_dir() == tmp_path / "c"
    second = load_dataset("texas", shared_data_dir)
    assert any("processed cache" in n for n in second.notes)
    for k in ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(first[k], second[k])
    assert (second.name, second.metric, second.num_label_classes) == ("texas", "accuracy", 5)
    files[0].write_bytes(b"garbage")  # a damaged cache is discarded (with a warning) and rebuilt
    with pytest.warns(GraphDataWarning, match="damaged"):
        third = load_dataset("texas", shared_data_dir)
    assert torch.equal(third.x, first.x)
    assert not any("processed cache" in n for n in third.notes)
    assert files[0].stat().st_size > 100
    assert not any(p.suffix == ".pt" for p in shared_data_dir.rglob("*.pt"))


def test_every_registered_file_is_in_the_shared_data(shared_data_dir: Path) -> None:
    """All but the upstream-only files (pinned by git blob, no sha256) are in shared/data; the
    OGB datasets are not (downloaded on demand, tested in test_ogb.py)."""
    from graff.data import dataset_files_present
    from graff.data._fetch import manifest

    upstream_only = {"roman-empire", "amazon-ratings", "questions"}
    for info in list_datasets():
        if info.family == "ogb":
            assert not dataset_files_present(info.name, shared_data_dir)[0], info.name
            continue
        ok, missing = dataset_files_present(info.name, shared_data_dir)
        assert ok != (info.name in upstream_only), (info.name, missing)
        assert all(not manifest()[f].in_shared_data for f in missing), missing

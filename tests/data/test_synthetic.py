"""csbm generator and random_splits."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.utils import is_undirected

from graff.data import GraphDataError, csbm, graph_stats, load_dataset, random_splits


@pytest.mark.parametrize("h", [0.0, 0.2, 0.5, 0.8, 1.0])
def test_csbm_homophily_and_degree(h: float) -> None:
    d = csbm(num_nodes=600, num_classes=4, homophily=h, avg_degree=8.0, num_features=8, seed=1)
    s = graph_stats(d)
    assert abs(s["edge_homophily"] - h) <= 0.05
    assert s["undirected_edges"] == 600 * 8 // 2
    assert s["class_counts"] == [150] * 4
    ei = d.edge_index
    assert is_undirected(ei) and not bool((ei[0] == ei[1]).any())
    assert torch.unique(ei, dim=1).size(1) == ei.size(1)


def test_csbm_deterministic_and_seed_sensitive() -> None:
    a = csbm(num_nodes=200, seed=3)
    b = csbm(num_nodes=200, seed=3)
    c = csbm(num_nodes=200, seed=4)
    for k in ("x", "y", "edge_index", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(a[k], b[k])
    assert not torch.equal(a.edge_index, c.edge_index)


def test_csbm_feature_signal() -> None:
    d = csbm(num_nodes=2000, num_classes=2, num_features=16, feature_signal=4.0, seed=0)
    mu = torch.stack([d.x[d.y == c].mean(0) for c in range(2)])
    assert mu.norm(dim=1).tolist() == pytest.approx([4.0, 4.0], abs=0.25)
    flat = csbm(num_nodes=2000, num_classes=2, num_features=16, feature_signal=0.0, seed=0)
    assert flat.x.mean(0).norm() < 0.25


def test_csbm_via_registry() -> None:
    d = load_dataset("csbm", num_nodes=300, homophily=0.9, num_splits=3)
    assert d.name == "csbm" and d.train_mask.shape == (300, 3)
    assert d.num_label_classes == 5
    with pytest.raises(GraphDataError):
        csbm(num_nodes=20, num_classes=2, avg_degree=30.0)


def test_random_splits_stratified_disjoint() -> None:
    y = torch.tensor([0] * 50 + [1] * 25 + [2] * 100 + [-1] * 5)
    tr, va, te = random_splits(y, num_splits=3, seed=7)
    assert tr.shape == (180, 3)
    assert not bool((tr & va).any() | (tr & te).any() | (va & te).any())
    assert bool(((tr | va | te).sum(0) == 175).all())
    assert not bool((tr | va | te)[y < 0].any())
    for c, n in ((0, 50), (1, 25), (2, 100)):
        assert (tr[y == c].sum(0) == round(0.48 * n)).all()
        assert (va[y == c].sum(0) == round(0.32 * n)).all()
    assert not torch.equal(tr[:, 0], tr[:, 1])
    tr2, _, _ = random_splits(y, num_splits=3, seed=7)
    assert torch.equal(tr, tr2)
    labeled = torch.ones(180, dtype=torch.bool)
    labeled[:10] = False
    tr3, va3, te3 = random_splits(y, num_splits=1, seed=0, labeled=labeled)
    assert not bool((tr3 | va3 | te3)[:10].any())
    with pytest.raises(GraphDataError):
        random_splits(y, train_frac=0.8, val_frac=0.3)


def test_random_splits_refuse_labels_and_arguments_they_would_misread() -> None:
    """A one-hot y was flattened into N·C "nodes", fractional labels truncated to classes,
    and a seed given as text ended in int()'s message."""
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    with pytest.raises(GraphDataError, match=r"vector y \[N\].*shape \(8, 3\).*y.argmax\(dim=1\)"):
        random_splits(torch.nn.functional.one_hot(y))
    with pytest.raises(GraphDataError, match="non-integer values"):
        random_splits(y.float() + 0.5)
    with pytest.raises(TypeError, match=r"seed must be an integer in \[0, 2\*\*63\), got 'a'"):
        random_splits(y, seed="a")  # type: ignore[arg-type]
    with pytest.raises(GraphDataError, match="seed must be an integer"):
        random_splits(y, seed=-1)
    with pytest.raises(TypeError, match=r"num_splits must be a positive integer, got 2\.5"):
        random_splits(y, num_splits=2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="train_frac must be a number"):
        random_splits(y, train_frac="0.5")  # type: ignore[arg-type]
    # the same labels as a column or as integral floats give the same splits
    for same in (y.view(-1, 1), y.double()):
        for a, b in zip(
            random_splits(same, num_splits=2), random_splits(y, num_splits=2), strict=True
        ):
            assert torch.equal(a, b)


def test_random_splits_of_a_graph_says_to_pass_its_labels_and_run_shows_the_call() -> None:
    """``random_splits(data)`` (as the missing-masks error suggested) failed with "'GlobalStorage'
    object has no attribute 'long'"; the error of a graph without masks now shows the call that
    gives them, and that call works."""
    from torch_geometric.data import Data

    from graff.train import RunConfig, run

    g = csbm(num_nodes=60, num_classes=2, num_features=4, num_splits=1, seed=0)
    data = Data(x=g.x, edge_index=g.edge_index, y=g.y)
    with pytest.raises(
        TypeError, match=r"takes the labels y \[N\], got Data.*random_splits\(data\.y\)"
    ):
        random_splits(data)  # type: ignore[arg-type]
    cfg = RunConfig()
    cfg.optim.epochs = 2
    with pytest.raises(GraphDataError, match=r"graff\.data\.random_splits\(data\.y\)") as err:
        run(cfg, data)
    call = str(err.value).split("draw stratified ones: ")[1].replace("graff.data.", "")
    exec(call, {"data": data, "random_splits": random_splits})
    assert run(cfg, data).splits == list(range(10))

"""Tests of graff.train.fit: metrics, best-validation selection, patience and divergence."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
import torch

from graff.data import csbm
from graff.nn import GRAFF, MLPClassifier
from graff.train import (
    DivergenceError,
    ModelConfig,
    OptimConfig,
    PreparedData,
    build_model,
    evaluate,
    prepare_data,
    train_split,
)
from graff.train.fit import accuracy, roc_auc


@pytest.fixture(scope="module")
def small() -> PreparedData:
    """A small heterophilic csbm graph with 2 splits."""
    return prepare_data(
        csbm(num_nodes=150, num_classes=3, num_features=8, num_splits=2, avg_degree=4.0, seed=1)
    )


@pytest.fixture(scope="module")
def easy() -> PreparedData:
    """A csbm whose classes are well separated by the features alone."""
    return prepare_data(
        csbm(
            num_nodes=300,
            num_classes=3,
            num_features=16,
            feature_signal=8.0,
            num_splits=2,
            avg_degree=4.0,
            seed=2,
        )
    )


def _train(model: torch.nn.Module, d: PreparedData, optim: OptimConfig, k: int = 0, **kw: Any):
    return train_split(
        model,
        d.x,
        d.edge_index,
        d.y,
        d.train_mask[:, k],
        d.val_mask[:, k],
        d.test_mask[:, k],
        optim,
        split=k,
        **kw,
    )


# -- metrics ------------------------------------------------------------------------------------
def test_accuracy_counts_argmax_matches() -> None:
    """accuracy is the fraction of rows whose arg-max equals the label."""
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 5.0], [1.0, 0.0, 0.0]])
    y = torch.tensor([0, 1, 0, 2])
    assert accuracy(logits, y) == pytest.approx(0.5)
    assert accuracy(logits, torch.tensor([0, 1, 2, 0])) == 1.0
    assert accuracy(logits, torch.tensor([1, 0, 0, 1])) == 0.0


def test_accuracy_empty_is_nan() -> None:
    """accuracy of an empty set is NaN (not a ZeroDivisionError or 0)."""
    assert math.isnan(accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)))


def _naive_auc(scores: np.ndarray, y: np.ndarray) -> float:
    pos, neg = scores[y == 1], scores[y == 0]
    total = 0.0
    for a, b in itertools.product(pos, neg):
        total += 1.0 if a > b else 0.5 if a == b else 0.0
    return total / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_matches_pairwise_reference(seed: int) -> None:
    """roc_auc equals the O(n²) pairwise definition, ties counting ½."""
    rng = np.random.default_rng(seed)
    n = 60
    y = rng.integers(0, 2, size=n)
    y[:2] = [0, 1]
    # few distinct values: many ties, within and across classes
    scores = np.round(rng.random(n) + 0.3 * y, 1).astype(np.float32)
    got = roc_auc(torch.from_numpy(scores), torch.from_numpy(y))
    assert got == pytest.approx(_naive_auc(scores, y), abs=1e-12)


def test_roc_auc_all_tied_is_half() -> None:
    """All scores equal gives AUC ½."""
    y = torch.tensor([0, 1, 1, 0, 1])
    assert roc_auc(torch.full((5,), 0.3), y) == pytest.approx(0.5)


def test_roc_auc_perfect_and_reversed() -> None:
    """Perfectly separated scores give 1.0 and reversed ones 0.0."""
    y = torch.tensor([0, 0, 1, 0, 1, 1, 0])
    s = y.float() * 2.0 + torch.linspace(0, 1, 7)
    assert roc_auc(s, y) == 1.0
    assert roc_auc(-s, y) == 0.0


def test_roc_auc_one_class_is_nan() -> None:
    """AUC with only one class present is undefined (NaN)."""
    assert math.isnan(roc_auc(torch.rand(4), torch.ones(4, dtype=torch.long)))


def test_evaluate_roc_auc_uses_class_one_probability() -> None:
    """evaluate with metric roc_auc scores nodes by the softmax probability of class 1."""

    class Fixed(torch.nn.Module):
        def __init__(self, logits: torch.Tensor) -> None:
            super().__init__()
            self.logits = logits

        def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
            return self.logits

    y = torch.tensor([1, 0, 1, 0])
    # class-1 logit minus class-0 logit orders nodes 0 > 2 > 1 > 3: perfect ranking
    logits = torch.tensor([[0.0, 3.0], [1.0, 0.5], [0.0, 1.0], [2.0, 0.0]])
    mask = torch.ones(4, dtype=torch.bool)
    scores, out = evaluate(
        Fixed(logits), torch.zeros(4, 1), torch.zeros(2, 0), y, {"m": mask}, "roc_auc"
    )
    assert scores["m"] == 1.0
    assert torch.equal(out, logits)
    scores, _ = evaluate(
        Fixed(-logits), torch.zeros(4, 1), torch.zeros(2, 0), y, {"m": mask}, "roc_auc"
    )
    assert scores["m"] == 0.0


# -- best-validation selection ---------------------------------------------------------------------
def _graff(d: PreparedData, **kw: Any) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = ModelConfig(hidden=16, T=2.0, step_size=1.0, dropout=0.3, **kw)
    return build_model(cfg, d.x.size(1), d.num_classes)


def test_train_split_reports_test_at_best_validation(small: PreparedData) -> None:
    """The result's scores are those of the first epoch with the highest validation score."""
    history: list[dict[str, float]] = []
    model = _graff(small)
    res = _train(
        model,
        small,
        OptimConfig(lr=0.02, epochs=25),
        on_epoch=lambda e, s: history.append({"epoch": e, **s}),
    )
    assert [h["epoch"] for h in history] == list(range(1, 26))
    vals = [h["val"] for h in history]
    best = int(np.argmax(vals))  # first maximum: ties keep the earliest epoch
    assert res.best_epoch == best + 1
    assert res.val == history[best]["val"]
    assert res.test == history[best]["test"]
    assert res.train == history[best]["train"]
    assert res.epochs_run == 25
    assert res.metric == "accuracy"
    assert res.split == 0
    # the selection must not simply be the last epoch (else the test above proves little)
    assert any(h["test"] != res.test for h in history)


def test_train_split_state_dict_is_best_epoch_model(small: PreparedData) -> None:
    """The returned state_dict reproduces the best epoch's scores when loaded in a fresh model."""
    model = _graff(small)
    res = _train(model, small, OptimConfig(lr=0.02, epochs=25))
    fresh = _graff(small)
    fresh.load_state_dict(res.state_dict)
    masks = {
        "train": small.train_mask[:, 0],
        "val": small.val_mask[:, 0],
        "test": small.test_mask[:, 0],
    }
    scores, _ = evaluate(fresh, small.x, small.edge_index, small.y, masks, "accuracy")
    assert scores == {"train": res.train, "val": res.val, "test": res.test}


def test_train_split_ties_keep_earliest() -> None:
    """With a validation score that never improves after epoch 1, epoch 1 is the best."""
    d = prepare_data(csbm(num_nodes=120, num_classes=2, num_features=8, num_splits=2, seed=3))
    history: list[dict[str, float]] = []
    torch.manual_seed(0)
    model = MLPClassifier(8, 8, 2)
    # lr so small that predictions (hence accuracies) do not change over a few epochs
    res = _train(model, d, OptimConfig(lr=1e-9, epochs=6), on_epoch=lambda e, s: history.append(s))
    assert len({h["val"] for h in history}) == 1
    assert res.best_epoch == 1
    assert res.test == history[0]["test"]


def test_patience_stops_early(small: PreparedData) -> None:
    """With patience p, training stops p epochs after the last improvement of validation."""
    epochs: list[int] = []
    model = _graff(small)
    res = _train(
        model,
        small,
        OptimConfig(lr=0.05, epochs=500, patience=3),
        on_epoch=lambda e, s: epochs.append(e),
    )
    assert res.epochs_run < 500
    assert res.epochs_run == res.best_epoch + 3
    assert epochs == list(range(1, res.epochs_run + 1))


def test_no_patience_runs_all_epochs(small: PreparedData) -> None:
    """Without patience every epoch runs even when validation stops improving."""
    torch.manual_seed(0)
    model = MLPClassifier(small.x.size(1), 8, small.num_classes)
    res = _train(model, small, OptimConfig(lr=1e-9, epochs=12))
    assert res.epochs_run == 12
    assert res.best_epoch == 1


def test_split_result_to_json(small: PreparedData) -> None:
    """SplitResult.to_json holds the scores (as fractions) and no model weights."""
    model = _graff(small)
    res = _train(model, small, OptimConfig(epochs=3), k=1)
    rec = res.to_json()
    assert rec["split"] == 1
    assert rec["test"] == res.test and 0.0 <= rec["test"] <= 1.0
    assert "state_dict" not in rec


# -- divergence -----------------------------------------------------------------------------------
def test_exploding_graff_raises_divergence_error(small: PreparedData) -> None:
    """A GRAFF whose evolution blows up raises DivergenceError with advice on step_size."""
    torch.manual_seed(0)
    model = build_model(
        ModelConfig(hidden=8, w_type="sum", T=50.0, step_size=1.0), small.x.size(1), 3
    )
    assert isinstance(model, GRAFF)
    with torch.no_grad():
        for name, p in model.conv.named_parameters():
            if name.startswith("ws"):
                p.fill_(10.0)
    with pytest.raises(DivergenceError) as err:
        _train(model, small, OptimConfig(epochs=5), k=1)
    msg = str(err.value)
    assert "step_size" in msg
    assert "split 1" in msg
    assert "epoch 1" in msg


def test_nan_mlp_raises_divergence_error(small: PreparedData) -> None:
    """Non-finite values from a non-GRAFF model raise DivergenceError too (hint code skipped)."""
    torch.manual_seed(0)
    model = MLPClassifier(small.x.size(1), 8, small.num_classes)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    with pytest.raises(DivergenceError, match="non-finite"):
        _train(model, small, OptimConfig(epochs=3))


def test_large_lr_blowup_raises_divergence_error(small: PreparedData) -> None:
    """A huge learning rate on a long, coarse evolution blows up the output after one step.

    Adam's first step moves every weight by about ``lr``, so W gets entries of size ~10 and 20
    Euler steps of τ = 5 overflow: the post-step evaluation (not the loss) must catch it.
    """
    torch.manual_seed(0)
    model = build_model(
        ModelConfig(hidden=8, w_type="sum", T=100.0, step_size=5.0), small.x.size(1), 3
    )
    with pytest.raises(DivergenceError, match="step_size") as err:
        _train(model, small, OptimConfig(lr=10.0, epochs=5))
    assert "model output" in str(err.value)


# -- learning --------------------------------------------------------------------------------------
def test_mlp_learns_separable_problem(easy: PreparedData) -> None:
    """An MLP reaches > 0.9 test accuracy when the features separate the classes."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(name="mlp", hidden=16), easy.x.size(1), easy.num_classes)
    res = _train(model, easy, OptimConfig(lr=0.01, epochs=100))
    assert res.test > 0.9
    assert res.train > 0.9


def test_graff_learns_separable_problem(easy: PreparedData) -> None:
    """GRAFF (DD) fits a feature-separable graph well above chance."""
    model = _graff(easy)
    res = _train(model, easy, OptimConfig(lr=0.01, epochs=80))
    assert res.test > 0.6

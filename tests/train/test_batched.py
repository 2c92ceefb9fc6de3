"""Tests of K splits trained side by side: graff.nn.stacked and graff.train.batched.

The stacked pass must be K independent models: outputs and gradients of every member equal
those of the member alone (float64), an elementwise Adam on the stacked parameters is K
Adams, and without dropout (the only randomness drawn during training) a stacked run gives
every split the numbers of the per-split path, early stopping included.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
import torch.nn.functional as F

from graff.data import csbm
from graff.errors import ConfigError
from graff.nn import GCN, GRAFF, MLPClassifier
from graff.nn.models.residual import (
    ResidualGAT,
    ResidualGATSep,
    ResidualGCN,
    ResidualGT,
    ResidualGTSep,
    ResidualMLP,
    ResidualSAGE,
)
from graff.nn.sparse import to_csr
from graff.nn.stacked import GCNStack, GRAFFStack, MLPStack, ModelStack, ResidualStack
from graff.train import MODELS, ModelConfig, OptimConfig, PreparedData, RunConfig, prepare_data
from graff.train.batched import train_stack
from graff.train.config import DataConfig
from graff.train.fit import build_model, train_split
from graff.train.models import euler_step_count, register_model
from graff.train.runner import (
    estimate_memory_bytes,
    fit_splits,
    members_per_pass,
    run,
    split_chunks,
)

GRAFF_VARIANTS = [
    {"w_type": "dd"},
    {"w_type": "sum", "omega_type": "sym", "encoder_layers": 2, "output_relu": True},
    {"w_type": "diag", "omega_type": "const", "nonlinear": True},
    {"w_type": "prod", "omega_type": "zero", "step_norm": True, "learn_beta": False, "beta": 0.5},
    {"w_type": "neg_prod", "time_dependent": True, "T": 2.5, "step_size": 0.5},
    {"residual": False},
    {"reorder": True},
    {"checkpoint": True, "T": 4.0},
]


def _graph(n: int = 40, p: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, p, generator=g) < 0.3).double() * torch.rand(n, p, generator=g)
    return x, torch.randint(0, n, (2, 5 * n), generator=g)


def _members(cls: type, k: int, *args: int, **kw: object) -> list[torch.nn.Module]:
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        out.append(cls(*args, **kw).double())
    return out


def _check_side_by_side(
    stack_cls: type[ModelStack], members: list[torch.nn.Module], x: torch.Tensor, ei: torch.Tensor
) -> None:
    """The stack of ``members`` gives each member's logits (eval) and, after one train step
    (no dropout drawn), each member's gradients in its slice of the stacked parameters, its
    buffers (BatchNorm's running statistics) and then its logits again."""
    y = torch.randint(0, 3, (x.size(0),), generator=torch.Generator().manual_seed(1))
    stack = stack_cls(copy.deepcopy(members))  # consumes its members: copies
    want = torch.stack([m.eval()(x, ei) for m in members], 1)
    assert torch.allclose(stack.eval()(x, ei), want, atol=1e-12)
    grads, states = [], []
    for m in members:  # train mode without dropout: deterministic
        m.train().zero_grad()
        F.cross_entropy(m(x, ei), y).backward()
        grads.append({n: p.grad.clone() for n, p in m.named_parameters()})
        states.append(dict(m.named_buffers()))
    out = stack.train()(x, ei)
    sum(F.cross_entropy(out[:, j], y) for j in range(len(members))).backward()
    linear = stack.linear_weights(stack.model)
    for j in range(len(members)):
        for name, g in grads[j].items():
            got = stack.stacked(name).grad[j]
            assert torch.allclose(got.t() if name in linear else got, g, atol=1e-12), name
        for name, b in states[j].items():
            assert torch.allclose(stack.member_state(j)[name], b, atol=1e-12), name
    want = torch.stack([m.eval()(x, ei) for m in members], 1)
    assert torch.allclose(stack.eval()(x, ei), want, atol=1e-12)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("kw", GRAFF_VARIANTS, ids=lambda kw: ",".join(kw))
def test_graff_stack_is_its_members_side_by_side(kw: dict[str, object], sparse: bool) -> None:
    x, ei = _graph()
    members = _members(GRAFF, 3, x.size(1), 6, 3, **kw)
    _check_side_by_side(GRAFFStack, members, to_csr(x) if sparse else x, ei)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("layers", [1, 3])
def test_gcn_stack_is_its_members_side_by_side(layers: int, sparse: bool) -> None:
    x, ei = _graph()
    members = _members(GCN, 3, x.size(1), 6, 3, num_layers=layers)
    _check_side_by_side(GCNStack, members, to_csr(x) if sparse else x, ei)


RESIDUAL = [
    (ResidualMLP, {}),
    (ResidualGCN, {}),
    (ResidualGCN, {"self_loops": False}),
    (ResidualSAGE, {}),
    (ResidualGAT, {"heads": 2}),
    (ResidualGATSep, {"heads": 2}),
    (ResidualGT, {"heads": 2}),
    (ResidualGTSep, {"heads": 1}),
]


@pytest.mark.parametrize("norm", ["none", "layer", "batch"])
@pytest.mark.parametrize(
    ("cls", "kw"), RESIDUAL, ids=lambda v: v.__name__ if isinstance(v, type) else str(v)
)
def test_residual_stack_is_its_members_side_by_side(
    cls: type[torch.nn.Module], kw: dict[str, object], norm: str
) -> None:
    """Platonov et al.'s recipe, every layer kind and normalisation, K = 3 members: their
    logits, gradients and BatchNorm statistics (two layers, ffn_multiplier 1.5, CSR input)."""
    x, ei = _graph()
    members = _members(
        cls, 3, x.size(1), 6, 3, num_layers=2, dropout=0.0, norm=norm, ffn_multiplier=1.5, **kw
    )
    _check_side_by_side(ResidualStack, members, to_csr(x), ei)


def test_member_state_loads_into_the_plain_model_and_select_keeps_members() -> None:
    x, _ = _graph()
    members = _members(MLPClassifier, 3, x.size(1), 5, 2, num_layers=3)
    want = torch.stack([m.eval()(x) for m in members], 1)
    states = [m.state_dict() for m in members]
    stack = MLPStack(members).eval()
    assert torch.allclose(stack(x), want, atol=1e-12)
    for j in range(3):
        got = stack.member_state(j)
        assert got.keys() == states[j].keys()
        assert all(torch.equal(got[k], states[j][k]) for k in got)
    torch.manual_seed(0)
    plain = MLPClassifier(x.size(1), 5, 2, num_layers=3).double().eval()
    plain.load_state_dict(stack.member_state(2))
    assert torch.allclose(plain(x), want[:, 2], atol=1e-12)
    opt = torch.optim.Adam(stack.parameters(), lr=0.1)
    stack.train()
    stack(x).sum().backward()
    opt.step()
    before = [stack.member_state(j) for j in range(3)]
    avg = [opt.state[p]["exp_avg"].clone() for p in stack.parameters()]
    keep = torch.tensor([2, 0])
    stack.select(keep, opt)
    assert stack.num_members == 2 and stack(x).shape == (x.size(0), 2, 2)
    for j, old in enumerate([2, 0]):
        now = stack.member_state(j)
        assert all(torch.equal(now[k], before[old][k]) for k in now)
    assert opt.param_groups[0]["params"] == list(stack.parameters())
    for p, a in zip(stack.parameters(), avg, strict=True):
        assert torch.equal(opt.state[p]["exp_avg"], a.index_select(0, keep))
    stack(x).sum().backward()  # the optimiser goes on with the selected members
    opt.step()


@pytest.fixture(scope="module")
def data4() -> PreparedData:
    d = prepare_data(
        csbm(num_nodes=120, num_classes=3, num_features=10, num_splits=4, avg_degree=4.0, seed=3)
    )
    return d.to(torch.device("cpu"))


def _cfg(patience: int | None, **model: object) -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="csbm"),
        model=ModelConfig(name="graff", hidden=8, T=2.0, step_size=0.5, **model),  # type: ignore[arg-type]
        optim=OptimConfig(lr=0.05, weight_decay=1e-3, epochs=25, patience=patience),
        seed=7,
    )


@pytest.mark.parametrize("patience", [None, 3])
def test_stacked_training_without_dropout_gives_the_per_split_results(
    data4: PreparedData, patience: int | None
) -> None:
    """No dropout: nothing random after initialisation, so each member must follow its split
    alone exactly (float64), best epoch and early stop included."""
    cfg = _cfg(patience, w_type="sum", encoder_layers=1)
    x, ei = data4.x.double(), data4.edge_index
    splits = [0, 1, 2, 3]
    members, alone = [], []
    for k in splits:
        torch.manual_seed(cfg.seed + k)
        model = build_model(cfg.model, x.size(1), data4.num_classes).double()
        members.append(build_model(cfg.model, x.size(1), data4.num_classes).double())
        members[-1].load_state_dict(model.state_dict())
        m = data4.train_mask[:, k], data4.val_mask[:, k], data4.test_mask[:, k]
        alone.append(train_split(model, x, ei, data4.y, *m, cfg.optim, split=k))
    done: list[int] = []
    got = train_stack(
        GRAFFStack(members),
        x,
        ei,
        data4.y,
        data4.train_mask,
        data4.val_mask,
        data4.test_mask,
        splits,
        cfg.optim,
        on_done=lambda r: done.append(r.split),
    )
    assert sorted(done) == splits
    for a, b in zip(alone, got, strict=True):
        assert (a.split, a.best_epoch, a.epochs_run) == (b.split, b.best_epoch, b.epochs_run)
        assert (a.val, a.test, a.train) == pytest.approx((b.val, b.test, b.train), abs=1e-12)
        for key, value in a.state_dict.items():
            assert torch.allclose(value, b.state_dict[key], atol=1e-9), key
    if patience is not None:
        assert len({r.epochs_run for r in got}) > 1  # members stopped at different epochs


def test_run_stacks_splits_and_says_so(data4: PreparedData, tmp_path) -> None:
    cfg = _cfg(None, dropout=0.2, input_dropout=0.1)
    chunks = split_chunks(cfg, data4, [0, 1, 2, 3])
    assert chunks == [[0, 1, 2, 3]]  # 120 × 8 floats per member: well inside STACK_BYTES
    assert split_chunks(cfg, data4, [0, 1, 2, 3], batch=1) == [[0], [1], [2], [3]]
    assert split_chunks(cfg, data4, [0, 1, 2, 3], batch=3) == [[0, 1, 2], [3]]
    with pytest.raises(Exception, match="batch must be a positive"):
        split_chunks(cfg, data4, [0, 1], batch=0)
    summary = run(cfg, data4, tmp_path / "r")
    rec = __import__("json").loads((tmp_path / "r" / "summary.json").read_text())
    assert rec["environment"]["splits_side_by_side"] == [4]
    assert len(summary.test) == 4 and all(0.0 <= t <= 100.0 for t in summary.test)
    again = run(cfg, data4)  # same chunks, threads and seed: the same digits
    assert again.test == summary.test and again.best_epochs == summary.best_epochs
    # chunks of two (as a tight memory estimate would make them): each split still draws
    # its own dropout masks, so the results are those of the single pass
    chunked = run(cfg, data4, batch=2)
    assert chunked.test == summary.test and chunked.best_epochs == summary.best_epochs
    # a checkpoint of a stacked split is the plain model's state dict at its best epoch
    state = torch.load(tmp_path / "r" / "split_2.pt", weights_only=True)
    model = build_model(cfg.model, data4.x.size(1), data4.num_classes)
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        pred = model(data4.x, data4.edge_index).argmax(-1)
    val = data4.val_mask[:, 2]
    assert 100 * float((pred[val] == data4.y[val]).float().mean()) == pytest.approx(summary.val[2])


def test_unlabelled_nodes_outside_the_splits_are_ignored(data4: PreparedData) -> None:
    """Nodes without a label (y = −1, as in CiteSeer) in no mask: the stacked loss skips them
    as the per-split one does."""
    y = data4.y.clone()
    free = ~(data4.train_mask | data4.val_mask | data4.test_mask).any(1)
    if not bool(free.any()):  # make one: drop node 0 from every split
        free[0] = True
    y[free] = -1
    keep = ~free.view(-1, 1)
    data = dataclasses.replace(
        data4,
        y=y,
        train_mask=data4.train_mask & keep,
        val_mask=data4.val_mask & keep,
        test_mask=data4.test_mask & keep,
    )
    cfg = _cfg(None, dropout=0.2)
    stacked = fit_splits(cfg, data, [0, 1])
    alone = fit_splits(cfg, data, [0, 1], batch=1)
    assert [r.test for r in stacked] == pytest.approx([r.test for r in alone])


def test_gcn_splits_side_by_side_follow_the_per_split_path(data4: PreparedData) -> None:
    cfg = _cfg(None)
    cfg.model = ModelConfig(name="gcn", hidden=8, num_layers=2, dropout=0.3, input_dropout=0.1)
    assert split_chunks(cfg, data4, [0, 1, 2, 3]) == [[0, 1, 2, 3]]
    stacked = fit_splits(cfg, data4, [0, 1, 2, 3])
    alone = fit_splits(cfg, data4, [0, 1, 2, 3], batch=1)
    assert [r.best_epoch for r in stacked] == [r.best_epoch for r in alone]
    assert [r.test for r in stacked] == pytest.approx([r.test for r in alone])


@pytest.mark.parametrize(
    ("name", "norm"),
    [("mlp", "batch"), ("gcn", "layer"), ("sage", "batch"), ("gat_sep", "layer"), ("gt", "none")],
)
def test_residual_splits_side_by_side_follow_the_per_split_path(
    data4: PreparedData, name: str, norm: str
) -> None:
    """Platonov et al.'s recipe trained K splits at once: each split's dropout masks drawn as
    alone, AdamW's undecayed group (biases, norms) the member's, so every split ends at the
    epoch and test score of its own run."""
    cfg = _cfg(None)
    cfg.model = ModelConfig(
        name=name, block="residual", hidden=8, num_layers=2, dropout=0.3, input_dropout=0.1,
        norm=norm, params={"heads": 2} if name in ("gat_sep", "gt") else {},
    )  # fmt: skip
    cfg.optim = dataclasses.replace(cfg.optim, optimizer="adamw", weight_decay=0.05)
    assert split_chunks(cfg, data4, [0, 1, 2, 3]) == [[0, 1, 2, 3]]
    stacked = fit_splits(cfg, data4, [0, 1, 2, 3])
    alone = fit_splits(cfg, data4, [0, 1, 2, 3], batch=1)
    assert [r.best_epoch for r in stacked] == [r.best_epoch for r in alone]
    assert [r.test for r in stacked] == pytest.approx([r.test for r in alone])


def test_fit_splits_reports_every_split_each_epoch(data4: PreparedData) -> None:
    cfg = _cfg(None, dropout=0.3)
    seen: list[tuple[int, list[int]]] = []
    res = fit_splits(cfg, data4, [3, 1], on_epoch=lambda e, s: seen.append((e, sorted(s))))
    assert [r.split for r in res] == [3, 1]
    assert seen == [(e, [1, 3]) for e in range(1, 26)]


class _EulerNet(GRAFF):
    """A step model registered under a name that does not start with "graff"."""


@pytest.fixture
def euler_net():
    register_model(
        "euler_net",
        _EulerNet,
        MODELS["graff"].fields,
        "test step model",
        stack=GRAFFStack,
        steps=euler_step_count,
    )
    yield "euler_net"
    del MODELS._entries["euler_net"]


def test_a_step_model_under_any_name_gets_its_abilities(euler_net, data4: PreparedData) -> None:
    cfg = _cfg(None)
    cfg.model.name = euler_net
    cfg.model.max_steps = 3
    with pytest.raises(Exception, match=r"4 Euler steps, more than model\.max_steps = 3"):
        cfg.validate()
    cfg.model.max_steps = 64
    cfg.validate()
    gcn = _cfg(None)
    gcn.model.name, gcn.model.num_layers = "gcn", 1
    one = estimate_memory_bytes(cfg, data4)
    assert one > estimate_memory_bytes(gcn, data4)  # depth 4 Euler steps, not 1 layer
    cfg.model.T = 4.0  # 8 steps: the estimate grows with the entry's step count
    assert estimate_memory_bytes(cfg, data4) > one
    assert estimate_memory_bytes(cfg, data4, 4) > estimate_memory_bytes(cfg, data4, 2)
    assert split_chunks(cfg, data4, [0, 1, 2, 3]) == [[0, 1, 2, 3]]
    gat = _cfg(None)
    gat.model.name = "gat"
    assert split_chunks(gat, data4, [0, 1]) == [[0], [1]]  # GAT has no stack: one by one
    res = fit_splits(cfg, data4, [0, 1])
    assert [r.split for r in res] == [0, 1]


def test_every_model_trains_batched_or_says_why() -> None:
    for name, spec in MODELS.items():
        assert (spec.stack is not None) != bool(spec.unbatched), name
    with pytest.raises(ValueError, match="give a stack"):
        register_model("nothing_said", MLPClassifier, ("num_layers",), "x")
    assert "nothing_said" not in MODELS


def test_members_per_pass_is_bounded_by_cache_and_memory(data4: PreparedData, monkeypatch) -> None:
    import graff.train.memory as memory

    cfg = _cfg(None)
    assert members_per_pass(cfg, data4, 10) == 10
    monkeypatch.setattr(memory, "STACK_BYTES", 3 * 120 * 8 * 4)  # three members' features
    assert members_per_pass(cfg, data4, 10) == 3
    assert members_per_pass(cfg, data4, 10, cache_bound=False) == 10
    need = estimate_memory_bytes(cfg, data4, 5)
    monkeypatch.setattr(memory, "available_memory", lambda: 2 * need)
    assert members_per_pass(cfg, data4, 10, cache_bound=False) == 5


def test_the_memory_check_counts_the_parameters(data4: PreparedData, monkeypatch) -> None:
    """hidden 10⁶ on a 120-node graph: the activations (N × hidden × depth) looked small and
    the run was left to the out-of-memory killer, while W alone is hidden² floats (4 TB);
    now the estimate counts the parameters (×5: weights, gradients, two Adam moments, the
    best state) and the run is refused before it starts, naming them."""
    import graff.train.memory as memory

    cfg = _cfg(None)
    small = estimate_memory_bytes(cfg, data4)
    assert memory.parameter_bytes(cfg, data4) == 5 * 4 * sum(
        p.numel() for p in build_model(cfg.model, 10, 3).parameters()
    )
    assert estimate_memory_bytes(cfg, data4, 2) - estimate_memory_bytes(cfg, data4) >= (
        memory.parameter_bytes(cfg, data4)
    )
    cfg.model.hidden = 10**6
    assert estimate_memory_bytes(cfg, data4) > 10**12 * 4 > 1000 * small
    monkeypatch.setattr(memory, "available_memory", lambda: 16 * 2**30)
    with pytest.raises(ConfigError, match=r"GiB of it for the parameters.*hidden 1000000"):
        memory.check_memory(cfg, data4, torch.device("cpu"))

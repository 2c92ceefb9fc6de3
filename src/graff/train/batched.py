"""Full-batch training of K splits together: one stacked model, one pass per epoch.

:func:`train_stack` is :func:`graff.train.fit.train_split` for the K members of a
:class:`~graff.nn.stacked.ModelStack`: every member has its own parameters (initialised as
the per-split path initialises them: seed ``cfg.seed + k``), its own masks, its own Adam
state, best-validation epoch and early stopping, but the forward and backward passes of all
members are one batched computation over the shared graph. The loss is the sum of the
members' mean cross-entropies, so each member's slice of the stacked gradient is its own
gradient; Adam is elementwise, so the stacked optimiser is K independent ones. A member that
stops early (patience) leaves the stack: it stops costing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from graff.errors import DivergenceError
from graff.nn.sparse import widen
from graff.nn.stacked import ModelStack
from graff.train.config import OptimConfig
from graff.train.fit import (
    SplitResult,
    autocast,
    diverged,
    make_optimizer,
    no_decay_names,
    require_training_nodes,
    score,
)

__all__ = ["StackEpochHook", "stack_optimizer", "train_stack"]

#: ``f(epoch, scores)`` after each epoch: the scores (``loss``, ``train``, ``val``, ``test``,
#: fractions) of every member still training, by split.
StackEpochHook = Callable[[int, dict[int, dict[str, float]]], None]


@dataclass
class _Member:
    split: int
    best: dict[str, float] = field(
        default_factory=lambda: {"train": float("nan"), "val": -float("inf"), "test": float("nan")}
    )
    best_epoch: int = 0
    since_best: int = 0
    seconds: float = 0.0
    state: dict[str, Tensor] = field(default_factory=dict)

    def result(self, metric: str, epochs_run: int) -> SplitResult:
        return SplitResult(
            split=self.split,
            metric=metric,
            train=self.best["train"],
            val=self.best["val"],
            test=self.best["test"],
            best_epoch=self.best_epoch,
            epochs_run=epochs_run,
            seconds=self.seconds,
            state_dict=self.state,
        )


def _member_losses(logits: Tensor, y: Tensor, train: Tensor) -> Tensor:
    """Each member's mean cross-entropy over its training nodes, [K]. Unlabelled nodes
    (y = −1, in no split) are gathered as class 0 and masked out."""
    target = y.clamp(min=0).view(-1, 1, 1).expand(-1, logits.size(1), 1)
    nll = -torch.log_softmax(logits, dim=-1).gather(-1, target)
    nll = torch.where(train, nll.squeeze(-1), 0.0)
    return nll.sum(0) / train.sum(0)


def _scores(
    metric: str, logits: Tensor, y: Tensor, masks: dict[str, Tensor]
) -> list[dict[str, float]]:
    """Every member's scores on its masks ([N, K] each), one dict per member."""
    k = logits.size(1)
    if metric == "accuracy":
        correct = logits.argmax(dim=-1) == y.view(-1, 1)  # [N, K]
        per = {
            name: ((correct & m).sum(0).float() / m.sum(0).float()).tolist()
            for name, m in masks.items()
        }
        return [{name: float(v[j]) for name, v in per.items()} for j in range(k)]
    return [
        {name: score(metric, logits[m[:, j], j], y[m[:, j]]) for name, m in masks.items()}
        for j in range(k)
    ]


def stack_optimizer(stack: ModelStack, optim: OptimConfig) -> torch.optim.Optimizer:
    """``optim.optimizer`` over the stacked parameters (:func:`~graff.train.fit.make_optimizer`).
    A stacked tensor keeps its member parameter's name (:meth:`ModelStack.tensors`), so
    AdamW's undecayed group is the member model's; Adam(W) is elementwise, so it is K
    independent optimisers."""
    named = [(n, t) for n, t in stack.tensors().items() if isinstance(t, torch.nn.Parameter)]
    return make_optimizer(named, no_decay_names(stack.model), optim)


def train_stack(
    stack: ModelStack,
    x: Tensor,
    edge_index: Tensor,
    y: Tensor,
    train_masks: Tensor,
    val_masks: Tensor,
    test_masks: Tensor,
    splits: Sequence[int],
    optim: OptimConfig,
    *,
    metric: str = "accuracy",
    on_epoch: StackEpochHook | None = None,
    on_done: Callable[[SplitResult], None] | None = None,
) -> list[SplitResult]:
    """Train the members of ``stack`` (member j on split ``splits[j]``, masks [N, K]);
    return each member's scores at its best-validation epoch, in the order of ``splits``.

    Same protocol as :func:`~graff.train.fit.train_split` for every member: Adam(W), test
    metric read at the epoch of best validation score (ties keep the earlier epoch),
    ``optim.patience`` epochs without improvement stop the member, ``state_dict`` is the
    member's model at its best epoch. ``on_done(result)`` is called as each member ends.
    """
    for j, s in enumerate(splits):
        require_training_nodes(train_masks[:, j], s)
    opt = stack_optimizer(stack, optim)
    members = [_Member(s) for s in splits]
    for j, mem in enumerate(members):
        mem.state = stack.member_state(j)
    active = list(range(len(members)))  # indices into members, in stack order
    masks = {"train": train_masks, "val": val_masks, "test": test_masks}
    results: dict[int, SplitResult] = {}

    def finish(member: _Member, epochs_run: int) -> None:
        res = member.result(metric, epochs_run)
        results[res.split] = res
        if on_done is not None:
            on_done(res)

    epoch = 0
    tick = time.perf_counter()
    for epoch in range(1, optim.epochs + 1):
        stack.train()
        opt.zero_grad(set_to_none=True)
        with autocast(optim.precision, x.device):
            losses = _member_losses(widen(stack(x, edge_index)), y, masks["train"])
        bad = (~torch.isfinite(losses)).nonzero()
        if bad.numel():
            j = int(bad[0])
            raise _stack_diverged(
                "the training loss", stack, j, epoch, splits, active, x, epoch > 1
            )
        losses.sum().backward()
        opt.step()
        stack.eval()
        with torch.no_grad(), autocast(optim.precision, x.device):
            logits = widen(stack(x, edge_index))
        finite = torch.isfinite(logits).flatten(2).all(-1).all(0)
        if not bool(finite.all()):
            j = int((~finite).nonzero()[0])
            raise _stack_diverged("the model output", stack, j, epoch, splits, active, x, True)
        scores = _scores(metric, logits, y, masks)
        now = time.perf_counter()
        share = (now - tick) / len(active)
        tick = now
        loss_values = losses.detach().tolist()
        stopped: list[int] = []
        for j, i in enumerate(active):
            mem = members[i]
            mem.seconds += share
            sc = scores[j]
            if sc["val"] > mem.best["val"]:
                mem.best, mem.best_epoch, mem.since_best = sc, epoch, 0
                mem.state = stack.member_state(j)
            else:
                mem.since_best += 1
                if optim.patience is not None and mem.since_best >= optim.patience:
                    stopped.append(j)
        if on_epoch is not None:
            on_epoch(
                epoch,
                {
                    members[i].split: {"loss": loss_values[j], **scores[j]}
                    for j, i in enumerate(active)
                },
            )
        for j in stopped:
            finish(members[active[j]], epoch)
        if stopped:
            keep_pos = [j for j in range(len(active)) if j not in stopped]
            if not keep_pos:
                active = []
                break
            keep = torch.tensor(keep_pos, device=train_masks.device)
            stack.select(keep, opt)
            masks = {k: m.index_select(1, keep) for k, m in masks.items()}
            active = [active[j] for j in keep_pos]
    for i in active:
        finish(members[i], epoch)
    return [results[s] for s in splits]


def _stack_diverged(
    where: str,
    stack: ModelStack,
    j: int,
    epoch: int,
    splits: Sequence[int],
    active: list[int],
    x: Tensor,
    stepped: bool,
) -> DivergenceError:
    """The per-split path's error for member ``j`` (its own model rebuilt for the hint)."""
    import copy

    model = copy.deepcopy(stack.model).to_empty(device=x.device)
    model.load_state_dict(stack.member_state(j))
    return diverged(where, model, epoch, splits[active[j]], x, stepped)

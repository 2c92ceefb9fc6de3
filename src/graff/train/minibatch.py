r"""Node mini-batch training on precomputed propagations (``optim.mode: precomputed``).

Linear GRAFF's output on a node needs only that node's rows of S_k = Ā^k [X, 1]
(:mod:`graff.scale`), so an optimiser step on a batch of training nodes reads those rows and
nothing else: no neighbourhood sampling, no graph in memory while training. One split
follows the protocol of :func:`graff.train.fit.train_split` (Adam(W), the test metric at the
best-validation epoch, ``optim.patience``), with one optimiser step per batch of
``optim.batch_size`` training nodes, drawn in a fresh random order every epoch from a
generator seeded with the split's seed.

**Several processes** (``torchrun``, :func:`torch.distributed.init_process_group` with gloo
on CPUs, nccl on GPUs): every process draws the same global batches and takes its share of
each (every ``world``-th node), its rows of S only; the model is wrapped in
:class:`torch.nn.parallel.DistributedDataParallel`, whose averaged gradient of the loss
``world · Σ_{own nodes} CE / |global batch|`` is the gradient of the global batch's mean
loss, so the run equals a one-process run with the same global batch up to floating-point
summation order (dropout aside: each process draws its own masks). Evaluation is sharded the
same way and the logits gathered, so every process takes the same early-stopping decisions.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, Protocol

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.weak import WeakTensorKeyDictionary

from graff.data import PreparedData
from graff.errors import ConfigError
from graff.nn.sparse import widen
from graff.train.config import OptimConfig, RunConfig
from graff.train.fit import (
    BestEpoch,
    SplitResult,
    autocast,
    build_model,
    diverged,
    make_optimizer,
    no_decay_names,
    require_training_nodes,
    score,
    seeded,
)
from graff.train.models import spec_for

__all__ = [
    "EVAL_ROWS",
    "Rows",
    "fit_precomputed",
    "precompute_for",
    "propagations",
    "train_precomputed",
    "world",
]

#: Rows of S evaluated per forward pass in eval mode (bounds the memory of evaluation).
EVAL_ROWS = 65_536


class Rows(Protocol):
    """S, in memory (a tensor [n, steps + 1, p + 1]) or on disk
    (:class:`graff.scale.StoredPropagation`): indexing with node ids gives their rows."""

    def __getitem__(self, rows: Any) -> Tensor: ...

    def __len__(self) -> int: ...


def world() -> tuple[int, int]:
    """``(rank, world size)`` of the default process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _gather(s: Rows, rows: Tensor, device: torch.device) -> Tensor:
    """S[rows] on ``device`` (rows read in increasing order: a memory map reads them
    sequentially), in the order of ``rows``."""
    if rows.numel() == 0:
        return s[rows.cpu()].to(device)
    order = torch.argsort(rows)
    out = s[rows[order].cpu()].to(device)
    return out[torch.argsort(order)]


@torch.no_grad()
def _logits(model: nn.Module, s: Rows, idx: Tensor, device: torch.device) -> Tensor:
    """Eval-mode logits of the nodes ``idx``: this process computes its share (every
    ``world``-th node), the shares are gathered, so every process returns all of them."""
    rank, size = world()
    mine = idx[rank::size]
    parts = [
        model(_gather(s, mine[lo : lo + EVAL_ROWS], device))
        for lo in range(0, len(mine), EVAL_ROWS)
    ]
    out = widen(torch.cat(parts)) if parts else torch.empty(0, 0, device=device)
    if size == 1:
        return out
    classes = torch.tensor([out.size(1) if out.numel() else 0], device=device)
    dist.all_reduce(classes, op=dist.ReduceOp.MAX)
    width = int(classes)
    longest = (len(idx) + size - 1) // size
    dtype = next(model.parameters()).dtype  # the same on every process, shares or not
    padded = torch.zeros(longest, width, device=device, dtype=dtype)
    if out.numel():
        padded[: out.size(0)] = out
    shares = [torch.empty_like(padded) for _ in range(size)]
    dist.all_gather(shares, padded)
    full = torch.empty(len(idx), width, device=device, dtype=padded.dtype)
    for r, share in enumerate(shares):
        n = len(idx[r::size])
        full[r::size] = share[:n]
    return full


def _evaluate(
    model: nn.Module, s: Rows, y: Tensor, idx: dict[str, Tensor], metric: str, device: torch.device
) -> tuple[dict[str, float], bool]:
    """Scores on each node set in eval mode, and whether every logit is finite."""
    model.eval()
    every = torch.cat(list(idx.values()))
    logits = _logits(model, s, every, device)
    out, at = {}, 0
    for name, nodes in idx.items():
        part = logits[at : at + len(nodes)]
        at += len(nodes)
        out[name] = score(metric, part, y[nodes.to(y.device)])
    return out, bool(torch.isfinite(logits).all())


def train_precomputed(
    model: nn.Module,
    s: Rows,
    y: Tensor,
    train_mask: Tensor,
    val_mask: Tensor,
    test_mask: Tensor,
    optim: OptimConfig,
    *,
    metric: str = "accuracy",
    split: int = 0,
    seed: int = 0,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> SplitResult:
    """Train a precomputed model (:class:`graff.scale.PrecomputedGRAFF`) on one split with
    node mini-batches of ``optim.batch_size`` training nodes (None: all, one step per epoch);
    return the scores at the epoch of best validation score (ties keep the earlier epoch)
    and the model's state at that epoch.

    ``s`` holds the rows of S of every node (:meth:`PrecomputedGRAFF.precompute` or
    :func:`graff.scale.open_precomputed`); ``y`` and the masks cover every node. ``seed``
    seeds the order of the training nodes (the same on every process). Under an initialised
    :mod:`torch.distributed` process group every process takes its share of each batch (see
    the module docstring); call it on every process with the same arguments.

    ``on_epoch(epoch, scores)`` gets the mean training loss of the epoch and the ``train``,
    ``val`` and ``test`` scores (fractions); raising from it stops the split.
    """
    start = time.perf_counter()
    require_training_nodes(train_mask, split)
    device = next(model.parameters()).device
    rank, size = world()
    net: nn.Module = model
    if size > 1:
        net = nn.parallel.DistributedDataParallel(model)
    opt = make_optimizer(model.named_parameters(), no_decay_names(model), optim)
    masks = {"train": train_mask, "val": val_mask, "test": test_mask}
    idx = {name: m.nonzero().flatten().cpu() for name, m in masks.items()}
    train_idx = idx["train"]
    batch = optim.batch_size or len(train_idx)
    order = torch.Generator().manual_seed(seed)
    best, epoch = BestEpoch(net, optim.patience), 0
    for epoch in range(1, optim.epochs + 1):
        net.train()
        perm = train_idx[torch.randperm(len(train_idx), generator=order)]
        total = torch.zeros((), device=device, dtype=torch.float64)
        for lo in range(0, len(perm), batch):
            rows = perm[lo : lo + batch]
            mine = rows[rank::size]
            s_rows = _gather(s, mine, device)
            opt.zero_grad(set_to_none=True)
            target = y[mine.to(y.device)].to(device)
            with autocast(optim.precision, device):
                logits = widen(net(s_rows))
                loss = F.cross_entropy(logits, target, reduction="sum") * (size / len(rows))
            if not torch.isfinite(loss):
                stepped = epoch > 1 or lo > 0
                raise diverged("the training loss", model, epoch, split, s_rows, stepped)
            loss.backward()
            opt.step()
            total += loss.detach().double() * len(rows) / size
        if size > 1:
            dist.all_reduce(total)
        with autocast(optim.precision, device):
            scores, finite = _evaluate(net, s, y, idx, metric, device)
        if not finite:
            raise diverged("the model output", model, epoch, split, s_rows, True)
        if on_epoch is not None:
            on_epoch(epoch, {"loss": float(total) / len(train_idx), **scores})
        if best.stop(epoch, scores, net):
            break
    return best.result(split, metric, epoch, time.perf_counter() - start)


#: S in a folder, built or checked by this process, per graph (its feature tensor) and per
#: (folder, steps, self-loops, dtype): ``graff train`` precomputes S before ``run()`` (for the
#: progress bar) and ``run()`` takes it from here instead of checking the folder again (which
#: rebuilds Ā and hashes the graph: about a minute each at 5M nodes).
_STORED = WeakTensorKeyDictionary()  # {x: {(folder, …): S}}


def propagations(
    model: Any, data: PreparedData, folder: str | os.PathLike[str] | None, progress: bool
) -> Rows:
    """S = Ā^k [X, 1] of ``data`` for ``model`` (a :class:`graff.scale.PrecomputedGRAFF`):
    in memory, or in ``folder`` (written by rank 0 of a process group, resumable, then read
    by every process; :func:`graff.scale.precompute_on_disk`). A folder this process has
    already filled or checked for the same graph and model is not checked again."""
    if folder is None:
        return model.precompute(data.x, data.edge_index)
    key = (
        str(os.path.realpath(folder)),
        id(data.edge_index),
        model.num_steps,
        model.self_loops,
        model.encoder.weight.dtype,
    )
    made: dict[tuple[Any, ...], Rows] = _STORED.setdefault(data.x, {})
    if key not in made:
        made[key] = _propagations_on_disk(model, data, folder, progress)
    return made[key]


def _propagations_on_disk(
    model: Any, data: PreparedData, folder: str | os.PathLike[str], progress: bool
) -> Rows:
    rank, size = world()
    if rank == 0:
        stored = model.precompute_on_disk(data.x, data.edge_index, folder, progress=progress)
    if size > 1:
        torch.distributed.barrier()
        if rank != 0:
            from graff.scale import open_precomputed

            stored = open_precomputed(folder)
    return stored


def _twin(cfg: RunConfig, data: PreparedData) -> nn.Module:
    """The precomputed twin (registry entry) of a freshly built model of ``cfg``, initialised
    from torch's current random state as the full model would be."""
    twin = spec_for(cfg.model).precomputed
    if twin is None:
        raise ConfigError(f"model {cfg.model.name!r} has no precomputed form (optim.mode)")
    full = build_model(cfg.model, data.x.size(1), data.num_classes).to(data.x.device)
    return twin.from_model(full)  # type: ignore[attr-defined]


def precompute_for(
    cfg: RunConfig,
    data: PreparedData,
    folder: str | os.PathLike[str] | None,
    *,
    progress: bool = True,
) -> Rows:
    """S = Ā^k [X, 1] for the model of ``cfg`` (its steps, self-loops and dtype) on ``data``:
    :func:`propagations` of the model's precomputed twin. ``graff train`` calls it before
    training when S goes to a folder, so the long precomputation has its progress bar; the
    run then reuses the finished folder."""
    return propagations(_twin(cfg, data), data, folder, progress)


def fit_precomputed(
    cfg: RunConfig,
    data: PreparedData,
    k: int,
    on_epoch: Callable[[int, dict[str, float]], None] | None,
    cache: dict[str, Rows],
    folder: str | os.PathLike[str] | None,
) -> SplitResult:
    """Split ``k`` in ``optim.mode: precomputed``: the model's precomputed twin (its registry
    entry), initialised as :func:`_fit` initialises the full model (seed ``cfg.seed + k``),
    trained on node mini-batches (:func:`train_precomputed`). S is
    computed once per run, in ``cache``."""
    with seeded(cfg.seed + k, data.x.device):
        model = _twin(cfg, data)
        if "s" not in cache:
            cache["s"] = propagations(model, data, folder, progress=False)
        return train_precomputed(
            model,
            cache["s"],
            data.y,
            data.train_mask[:, k],
            data.val_mask[:, k],
            data.test_mask[:, k],
            cfg.optim,
            metric=data.metric,
            split=k,
            seed=cfg.seed + k,
            on_epoch=on_epoch,
        )

"""How much memory a run needs, and how many splits train side by side within it.

:func:`estimate_memory_bytes` is a rough upper estimate of a training step (features, graph,
the activations every layer or Euler step keeps for the backward pass, the parameters with
their gradients and optimiser state); :func:`check_memory` refuses a run that cannot fit
before it starts (a clear error rather than the out-of-memory killer), and
:func:`members_per_pass` picks how many splits train side by side on the CPU.
"""

from __future__ import annotations

import warnings

import torch

from graff.data import PreparedData
from graff.device import available_memory
from graff.errors import ConfigError
from graff.train.config import RunConfig
from graff.train.models import build_model, spec_for

__all__ = [
    "STACK_BYTES",
    "check_memory",
    "estimate_memory_bytes",
    "members_per_pass",
    "parameter_bytes",
]


def estimate_memory_bytes(cfg: RunConfig, data: PreparedData, members: int = 1) -> int:
    """A rough upper estimate of a training step's memory: the features, the graph, and the
    N × hidden tensors every layer or Euler step keeps for the backward pass (the model's
    registry entry says how many: :meth:`~graff.train.models.ModelSpec.memory_depth`), for
    ``members`` models trained side by side (each also keeps its dropped copy of the input
    features' non-zeros, values and mask, for the backward pass)."""
    m = cfg.model
    n, e = data.x.size(0), data.edge_index.size(1)
    weights = members * parameter_bytes(cfg, data)
    if cfg.optim.mode == "precomputed":  # S in memory; a batch's rows are a small part of it
        steps = spec_for(m).steps
        s_rows = n * ((steps(m) if steps is not None else 0) + 1) * (data.x.size(1) + 1)
        return int(data.x.numel() * 4 + e * 24 + s_rows * 4 + weights)
    depth = spec_for(m).memory_depth(m)
    per_layer = 4 * n * m.hidden * 4  # features, increment, dropout mask, gradient
    nnz = int((data.x != 0).sum()) if members > 1 else 0
    stacked_input = members * nnz * 5  # each member's dropped values (float32) and mask
    activations = members * (depth + 2) * per_layer
    return int(data.x.numel() * 4 * 3 + e * 24 + stacked_input + activations + weights)


def parameter_bytes(cfg: RunConfig, data: PreparedData) -> int:
    """The memory of one model's parameters while it trains: the weights, their gradients,
    the optimiser's two moment buffers and the copy of the best-validation state, float32
    (five copies). Counted on a model built on the meta device (no memory, no arithmetic):
    a W of hidden × hidden at hidden 10⁶ is 4 TB, which the activations alone never showed."""
    with torch.random.fork_rng(devices=[]), torch.device("meta"):
        model = build_model(cfg.model, data.x.size(1), data.num_classes)
    return 5 * 4 * sum(p.numel() for p in model.parameters())


#: Members side by side on the CPU while their features, K × N × hidden floats, stay within
#: this many bytes (the L2 caches of this machine). Measured (``benchmarks/splits.py``, one
#: thread): Texas (N·d = 47k floats) trains 10 splits 1.6× faster all side by side and 1.4×
#: in two passes of 5; Chameleon (146k) gains nothing (1.04× all side by side); Pubmed (1.3M)
#: and a 100k-node graph get slower (0.5×, 0.8× at K = 10): the elementwise passes over
#: [N, K, d] leave the cache and become memory-bound, where one split's fit better.
STACK_BYTES = 2 << 20


def members_per_pass(
    cfg: RunConfig, data: PreparedData, wanted: int, *, cache_bound: bool = True
) -> int:
    """How many splits to train side by side, at most ``wanted``: on the CPU, no more than
    fit in :data:`STACK_BYTES` (unless ``cache_bound`` is False) and no more than the memory
    estimate allows in half the memory available; at least one."""
    if data.x.device.type != "cpu":
        return max(1, wanted)
    k = max(1, wanted)
    if cache_bound:
        block = data.x.size(0) * cfg.model.hidden * data.x.element_size()
        k = max(1, min(k, STACK_BYTES // max(1, block)))
    have = available_memory()
    while have is not None and k > 1 and estimate_memory_bytes(cfg, data, k) > have / 2:
        k -= 1
    return k


def check_memory(
    cfg: RunConfig, data: PreparedData, device: torch.device, members: int = 1
) -> None:
    if device.type != "cpu":
        return
    need, have = estimate_memory_bytes(cfg, data, members), available_memory()
    if have is None:
        return
    if need > have:
        weights = members * parameter_bytes(cfg, data)
        what = (
            f", {weights / 2**30:.1f} GiB of it for the parameters with their gradients and "
            f"optimiser state (hidden {cfg.model.hidden}, {data.x.size(1)} input features),"
            if weights > need / 2
            else f" ({data.x.size(0)} nodes × hidden {cfg.model.hidden} × its depth)"
        )
        raise ConfigError(
            f"this run needs about {need / 2**30:.1f} GiB{what} but {have / 2**30:.1f} GiB of "
            "memory is available; reduce model.hidden or the depth (model.T / model.step_size, "
            "model.num_layers)"
        )
    if need > have / 2:
        warnings.warn(
            f"this run may need about {need / 2**30:.1f} GiB of the {have / 2**30:.1f} GiB "
            "of memory available",
            ResourceWarning,
            stacklevel=3,
        )

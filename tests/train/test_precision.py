"""optim.precision: bf16 mixed precision (torch.autocast) for every model and training path,
with graff.nn.sparse keeping its products in float32 inside autocast."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.overrides import TorchFunctionMode

from graff.data import csbm
from graff.device import available_devices
from graff.errors import ConfigError
from graff.nn.adjacency import edge_structure, gcn_adjacency
from graff.nn.sparse import (
    edge_dot,
    edge_softmax,
    edge_values_mm,
    sparse_dropout_linear,
    spmm_add,
    to_csr,
    widen,
)
from graff.train import OptimConfig, PreparedData, RunConfig, build_model, prepare_data, run
from graff.train.config import ModelConfig, apply_overrides
from graff.train.fit import autocast, evaluate, train_split
from graff.train.models import MODELS

RESIDUAL = ["mlp", "gcn", "sage", "gat", "gt"]


@pytest.fixture(scope="module")
def data() -> PreparedData:
    return prepare_data(
        csbm(
            num_nodes=120,
            num_classes=3,
            num_features=16,
            num_splits=2,
            avg_degree=4.0,
            homophily=0.8,
            seed=4,
        )
    )


def _graph(n: int = 30, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, 4 * n), generator=g)
    return torch.cat([ei, ei.flip(0)], dim=1)


# -- graff.nn.sparse under autocast ---------------------------------------------------------------
def test_widen_only_touches_low_precision() -> None:
    for dtype in (torch.bfloat16, torch.float16):
        assert widen(torch.ones(2, dtype=dtype)).dtype == torch.float32
    for dtype in (torch.float32, torch.float64, torch.int64):
        t = torch.ones(2, dtype=dtype)
        assert widen(t) is t


def test_sparse_products_run_in_float32_under_autocast() -> None:
    """Each product of graff.nn.sparse, given bfloat16 inputs under CPU autocast, returns the
    float32 result of its float32 inputs (PyTorch's CSR kernels have no bfloat16 path on the
    CPU: without the guard these raise), and gradients reach bfloat16 leaves."""
    n, d = 30, 8
    ei = _graph(n)
    adj = gcn_adjacency(ei, n)
    s = edge_structure(ei, n)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, d, generator=g).bfloat16().requires_grad_()
    vals = torch.rand(s.col.numel(), generator=g).bfloat16().requires_grad_()
    scores = torch.randn(s.col.numel(), 2, generator=g).bfloat16()
    feats = to_csr((torch.rand(n, d, generator=g) > 0.6).float())
    weight = torch.randn(4, d, generator=g)
    expected = {
        "spmm": adj @ x.float(),
        "edge_values_mm": edge_values_mm(vals.float(), x.float(), s),
        "edge_dot": edge_dot(x.float(), x.float(), s),
        "edge_softmax": edge_softmax(scores.float(), s),
        "sparse_linear": feats @ weight.t(),
    }
    base = torch.ones(n, d, dtype=torch.bfloat16)  # a keyword argument is widened too
    expected["spmm_add"] = base.float() + 0.5 * (adj @ x.float())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = {
            "spmm_add": spmm_add(adj, x, base=base, alpha=0.5),
            "spmm": spmm_add(adj, x),
            "edge_values_mm": edge_values_mm(vals, x, s),
            "edge_dot": edge_dot(x, x, s),
            "edge_softmax": edge_softmax(scores, s),
            "sparse_linear": sparse_dropout_linear(feats, weight, None, 0.0, False),
        }
        # a dense product beside them does run in bfloat16: autocast is on
        assert (x.float() @ weight.t()).dtype == torch.bfloat16
    for name, out in got.items():
        assert out.dtype == torch.float32, name
        torch.testing.assert_close(out, expected[name], msg=name)
    (got["spmm"].sum() + got["edge_values_mm"].sum() + got["edge_dot"].sum()).backward()
    assert x.grad is not None and x.grad.dtype == torch.bfloat16
    assert vals.grad is not None and torch.isfinite(vals.grad.float()).all()


def test_sparse_backward_inside_autocast_stays_float32() -> None:
    """A backward pass called inside the autocast block (not PyTorch's advice, but users do)
    still multiplies by the sparse transpose in float32."""
    n = 25
    adj = gcn_adjacency(_graph(n, seed=3), n)
    x = torch.randn(n, 4, requires_grad=True)
    w = torch.randn(4, 4, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        spmm_add(adj, x @ w).sum().backward()
    assert x.grad is not None and w.grad is not None
    assert x.grad.dtype == torch.float32 and torch.isfinite(x.grad).all()


class _Dtypes(TorchFunctionMode):
    """Records the dtype of every tensor a torch function returns inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.dtypes: set[torch.dtype] = set()

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if isinstance(out, Tensor):
            self.dtypes.add(out.dtype)
        return out


# -- training -----------------------------------------------------------------------------------
def _cases() -> list[tuple[str, str]]:
    return [(name, "plain") for name in MODELS] + [(name, "residual") for name in RESIDUAL]


@pytest.mark.parametrize(("name", "block"), _cases(), ids=lambda v: str(v))
def test_every_model_trains_in_bf16(name: str, block: str, data: PreparedData) -> None:
    """Every registered model (and each residual build) trains with optim.precision=bf16: its
    dense layers output bfloat16 while training, its parameters stay float32, the training
    loss falls and validation beats chance (1/3)."""
    cfg = ModelConfig(name=name, hidden=16)
    if block == "residual":
        cfg.block = "residual"
    torch.manual_seed(0)
    model = build_model(cfg, data.x.size(1), 3)
    tm = data.train_mask[:, 0]
    optim = OptimConfig(lr=0.01, weight_decay=0.0, epochs=40, precision="bf16")
    with torch.no_grad(), autocast("bf16", data.x.device):
        before = float(F.cross_entropy(widen(model(data.x, data.edge_index)[tm]), data.y[tm]))
    with _Dtypes() as seen:
        res = train_split(
            model,
            data.x,
            data.edge_index,
            data.y,
            tm,
            data.val_mask[:, 0],
            data.test_mask[:, 0],
            optim,
        )
    assert torch.bfloat16 in seen.dtypes
    assert all(p.dtype == torch.float32 for p in model.parameters())
    model.load_state_dict(res.state_dict)
    masks = {"train": tm}
    _, logits = evaluate(model, data.x, data.edge_index, data.y, masks, "accuracy", "bf16")
    assert logits.dtype == torch.float32
    after = float(F.cross_entropy(logits[tm], data.y[tm]))
    assert after < before
    assert res.val > 0.5


@pytest.mark.parametrize(("name", "block"), _cases(), ids=lambda v: str(v))
def test_a_model_cast_to_bf16_on_the_cpu_runs_or_names_autocast(
    name: str, block: str, data: PreparedData
) -> None:
    """model.to(torch.bfloat16) outside autocast reached PyTorch's CPU sparse kernels, which
    have no bfloat16 version (a NotImplementedError or RuntimeError naming an MKL routine):
    each model now runs (no sparse product: MLPs) or says to use autocast instead."""
    cfg = ModelConfig(name=name, hidden=16)
    if block == "residual":
        cfg.block = "residual"
    model = build_model(cfg, data.x.size(1), 3).to(torch.bfloat16).eval()
    x = data.x.to(torch.bfloat16)
    try:
        out = model(x, data.edge_index)
    except TypeError as err:
        assert "no kernel for them: keep the model in float32" in str(err)
        assert "optim.precision=bf16" in str(err)
    else:
        assert out.dtype == torch.bfloat16 and out.shape == (x.size(0), 3)


def _run_cfg(*overrides: str) -> RunConfig:
    cfg = RunConfig()
    cfg.model.hidden, cfg.model.T = 16, 2.0
    cfg.optim.epochs, cfg.optim.lr = 30, 0.02
    return apply_overrides(cfg, list(overrides)).validate()


@pytest.mark.parametrize("device", available_devices())
def test_bf16_scores_follow_fp32(data: PreparedData, device: str) -> None:
    """The same GRAFF run in fp32 and bf16 (splits side by side, the batched path): the
    bfloat16 run ends within a few points of the float32 one on every split."""
    if device.startswith("cuda") and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    full = run(_run_cfg(f"device={device}"), data, batch=2)
    half = run(_run_cfg(f"device={device}", "optim.precision=bf16"), data, batch=2)
    assert len(half.val) == len(full.val) == 2
    for a, b in zip(full.val, half.val, strict=True):
        assert abs(a - b) <= 8.0  # percentage points; 36 validation nodes a split


def test_bf16_in_the_precomputed_mode(data: PreparedData) -> None:
    cfg = _run_cfg(
        "model.w_type=dd",
        "model.dropout=0",
        "model.input_dropout=0",
        "optim.mode=precomputed",
        "optim.batch_size=16",
        "optim.precision=bf16",
    )
    summary = run(cfg, data)
    assert all(v > 100 / 3 for v in summary.val)


@pytest.mark.parametrize("value", ["fp16", "float32", "BF16 "])
def test_an_unknown_precision_is_refused_naming_the_choices(value: str) -> None:
    cfg = RunConfig()
    cfg.optim.precision = value
    with pytest.raises(ConfigError, match=r"optim\.precision.*fp32, bf16"):
        cfg.validate()


def test_autocast_is_a_no_op_for_fp32() -> None:
    with autocast("fp32", torch.device("cpu")):
        assert not torch.is_autocast_enabled("cpu")
    with autocast("bf16", torch.device("cpu")):
        assert torch.is_autocast_enabled("cpu")
    with pytest.raises(ConfigError, match="fp32 or bf16"):
        autocast("half", torch.device("cpu"))

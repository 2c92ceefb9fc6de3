"""Devices: --device / RunConfig.device, parametrised over the devices present (CPU in CI;
cuda:0 / mps join where a machine has them, as in PyG's ``withDevice``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from graff.data import csbm
from graff.device import available_devices, resolve_device
from graff.errors import ConfigError
from graff.train import PreparedData, RunConfig, fit_split, prepare_data, read_summary, run

DEVICES = available_devices()


@pytest.fixture(scope="module")
def data() -> PreparedData:
    return prepare_data(
        csbm(num_nodes=90, num_classes=3, num_features=6, num_splits=2, avg_degree=4.0, seed=2)
    )


def _cfg(device: str) -> RunConfig:
    cfg = RunConfig()
    cfg.model.hidden, cfg.model.T, cfg.model.dropout = 8, 2.0, 0.2
    cfg.optim.epochs = 3
    cfg.device = device
    return cfg.validate()


def test_cpu_comes_first_and_auto_picks_a_present_device() -> None:
    assert DEVICES[0] == "cpu"
    assert resolve_device("CPU") == torch.device("cpu")
    assert str(resolve_device("auto")).split(":")[0] in {d.split(":")[0] for d in DEVICES}


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "", "gpu0"])
def test_bad_device_names(spec: str) -> None:
    with pytest.raises(ConfigError, match="cpu, cuda, cuda:N, mps or auto"):
        resolve_device(spec if spec else "  ")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="CUDA is not available here"):
        resolve_device("cuda")


@pytest.mark.parametrize("device", DEVICES)
def test_prepared_data_moves(data: PreparedData, device: str) -> None:
    moved = data.to(device)
    assert moved.x.device.type == torch.device(device).type
    assert moved.train_mask.device == moved.x.device and moved.name == data.name
    assert data.x.device.type == "cpu"  # a copy, the original untouched


@pytest.mark.parametrize("device", DEVICES)
def test_run_on_each_device(data: PreparedData, device: str, tmp_path: Path) -> None:
    """Training runs on the device; on the CPU the numbers equal the default run's, and the
    device is recorded but is not part of the run's identity (a run started elsewhere resumes)."""
    summary = run(_cfg(device), data, tmp_path / "run")
    saved = read_summary(tmp_path / "run")
    assert saved["environment"]["device"].split(":")[0] == torch.device(device).type
    if device == "cpu":
        assert summary.test == run(_cfg("cpu"), data).test
        one = fit_split(_cfg("cpu"), data, 1)
        assert 100.0 * one.test == summary.test[1]
    out = tmp_path / "resume"
    run(_cfg(device), data, out)
    (out / "summary.json").unlink()
    again = run(_cfg("auto" if device == "cpu" and DEVICES == ["cpu"] else device), data, out)
    assert again.test == summary.test

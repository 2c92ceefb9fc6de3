"""Two processes under ``torchrun`` (gloo on this CPU) train ``optim.mode: precomputed`` as
one process does with the same global batch: each process takes every second node of each
batch, DistributedDataParallel averages the gradients of ``world · Σ CE / |batch|``, so the
parameters after every step are the one-process parameters up to summation order.

The batch (41 of 180 training nodes) splits unevenly (21 + 20, and a last batch of 16), so
a wrong weighting of the two shares (a mean per process, say) changes the numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from graff.train.config import load_config
from graff.train.runner import run

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="torch built without torch.distributed"
)


def test_two_processes_equal_one_with_the_same_global_batch(tmp_path: Path) -> None:
    out = tmp_path / "two"
    args = [
        "train",
        "--dataset",
        "csbm",
        "--set",
        "data.params.num_nodes=300",
        "--set",
        "data.params.num_splits=2",
        "--set",
        "model.input_dropout=0",
        "--set",
        "model.dropout=0",
        "--set",
        "model.encoder_layers=0",
        "--set",
        "optim.epochs=12",
        "--set",
        "optim.batch_size=41",
        "--mode",
        "precomputed",
        "--no-progress",
        "--threads",
        "1",
        "--out",
        str(out),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    proc = subprocess.run(
        [*torchrun, "--nproc_per_node", "2", "-m", "graff", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["environment"]["processes"] == 2

    cfg = load_config(out / "config.yaml")
    assert cfg.optim.mode == "precomputed" and cfg.optim.batch_size == 41
    alone = run(cfg)  # one process, the same config and global batch
    assert alone.best_epochs == summary["best_epochs"]
    assert alone.test == pytest.approx(summary["test"])
    assert alone.val == pytest.approx(summary["val"])
    from graff.train.runner import fit_split

    for k in range(2):
        mine = fit_split(cfg, None, k).state_dict
        theirs = torch.load(out / f"split_{k}.pt", weights_only=True)
        assert mine.keys() == theirs.keys()
        for key in mine:
            torch.testing.assert_close(mine[key], theirs[key], rtol=1e-5, atol=1e-6)


def _csbm_train(out: Path) -> list[str]:
    args = ["train", "--dataset", "csbm", "--no-progress", "--out", str(out)]
    for item in ("data.params.num_nodes=120", "data.params.num_splits=1", "optim.epochs=2"):
        args += ["--set", item]
    return args


@pytest.mark.parametrize("already", [False, True])
def test_graff_train_destroys_the_process_group_it_joined_and_only_that(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, already: bool
) -> None:
    """A process group ``graff train`` joined is destroyed when the run ends well (left to
    the interpreter's exit, gloo can abort the process: "terminate called without an active
    exception"); one the caller had initialised before is left to the caller."""
    import torch.distributed as dist

    from graff.cli import _commands, main

    def init() -> None:
        dist.init_process_group(
            "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
        )

    def join(cfg: object) -> int:  # as under torchrun, with a world of one
        if not dist.is_initialized():
            init()
        return 0

    monkeypatch.setattr(_commands, "_join_process_group", join)
    if already:
        init()
    try:
        assert main(_csbm_train(tmp_path / "run")) == 0
        assert (tmp_path / "run" / "summary.json").is_file()
        assert dist.is_initialized() == already
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()

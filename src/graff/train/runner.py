"""Multi-split runs with an atomic, resumable run directory.

Layout of a run directory::

    config.yaml        resolved configuration (+ versions), written first
    split_<k>.pt       best-validation model of split k
    split_<k>.json     scores of split k (written after its model: marks the split done)
    summary.json       written last, atomically: a run is complete iff this file exists

An interrupted run leaves no ``summary.json``; running the same command again resumes it,
skipping the splits whose ``split_<k>.json`` exists. Metrics in JSON are percentages.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor

import graff
from graff.nn.sparse import to_csr
from graff.train.config import ConfigError, RunConfig, config_to_dict
from graff.train.fit import SplitResult, build_model, train_split

__all__ = [
    "PreparedData",
    "RunDirError",
    "Summary",
    "atomic_write",
    "fit_split",
    "prepare_data",
    "published_results",
    "read_summary",
    "run",
]


class RunDirError(RuntimeError):
    """The output directory cannot be used for this run."""


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class PreparedData:
    """Tensors a run needs, preprocessed once per dataset."""

    name: str
    x: Tensor
    edge_index: Tensor
    y: Tensor
    train_mask: Tensor  # [N, S]
    val_mask: Tensor
    test_mask: Tensor
    num_classes: int
    metric: str
    notes: list[str]

    @property
    def num_splits(self) -> int:
        return int(self.train_mask.size(1))


def _as_2d(mask: Tensor) -> Tensor:
    return mask.unsqueeze(1) if mask.dim() == 1 else mask


def prepare_data(data: Any, *, normalize_features: bool = False) -> PreparedData:
    """Turn a loaded graph (``graff.data`` convention) into the tensors a run uses."""
    from graff.data import row_normalize

    x = data.x.float()
    if normalize_features:
        x = row_normalize(x)
    y = data.y.long()
    num_classes = int(getattr(data, "num_label_classes", int(y.max()) + 1))
    return PreparedData(
        name=str(getattr(data, "name", "graph")),
        x=x,
        edge_index=data.edge_index,
        y=y,
        train_mask=_as_2d(data.train_mask).bool(),
        val_mask=_as_2d(data.val_mask).bool(),
        test_mask=_as_2d(data.test_mask).bool(),
        num_classes=num_classes,
        metric=str(getattr(data, "metric", "accuracy")),
        notes=list(getattr(data, "notes", [])),
    )


@dataclass
class Summary:
    """Result of a multi-split run. Metrics in percent; ``std`` is the sample std (n − 1)."""

    dataset: str
    model: str
    metric: str
    mean: float
    std: float
    std_population: float
    test: list[float]
    val: list[float]
    splits: list[int]
    best_epochs: list[int]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "model": self.model,
            "metric": self.metric,
            "mean": self.mean,
            "std": self.std,
            "std_kind": "sample standard deviation over splits (n-1)",
            "std_population": self.std_population,
            "n_splits": len(self.splits),
            "splits": self.splits,
            "test": self.test,
            "val": self.val,
            "best_epochs": self.best_epochs,
            "seconds": self.seconds,
        }

    @classmethod
    def from_results(
        cls, dataset: str, model: str, results: list[SplitResult], seconds: float
    ) -> Summary:
        test = [100.0 * r.test for r in results]
        return cls(
            dataset=dataset,
            model=model,
            metric=results[0].metric,
            mean=statistics.fmean(test),
            std=statistics.stdev(test) if len(test) > 1 else 0.0,
            std_population=statistics.pstdev(test),
            test=test,
            val=[100.0 * r.val for r in results],
            splits=[r.split for r in results],
            best_epochs=[r.best_epoch for r in results],
            seconds=seconds,
        )


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    """Read ``summary.json`` of a complete run (RunDirError if the run is incomplete)."""
    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        raise RunDirError(f"{run_dir} holds no complete run (no summary.json)")
    return dict(json.loads(path.read_text()))


def _config_record(cfg: RunConfig) -> dict[str, Any]:
    return config_to_dict(cfg)


def _open_run_dir(out_dir: Path, cfg: RunConfig, overwrite: bool) -> set[int]:
    """Create or reopen ``out_dir``; return the split indices already finished."""
    record = _config_record(cfg)
    cfg_path = out_dir / "config.yaml"
    if (out_dir / "summary.json").exists() and not overwrite:
        raise RunDirError(
            f"{out_dir} already holds a complete run; choose another --out or pass --overwrite"
        )
    if overwrite and out_dir.exists():
        for p in out_dir.iterdir():
            if p.name == "summary.json" or p.name.startswith("split_") or p.name == "config.yaml":
                p.unlink()
    if cfg_path.exists():
        old = yaml.safe_load(cfg_path.read_text()) or {}
        if old.get("config") != record:
            raise RunDirError(
                f"{out_dir} holds an unfinished run with a different configuration; "
                "resume it with the same options, pass --overwrite, or choose another --out"
            )
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise RunDirError(
            f"{out_dir} exists and is not a graff run directory; choose another --out"
        )
    else:
        meta = {
            "config": record,
            "versions": {
                "graff": graff.__version__,
                "torch": str(torch.__version__),
                "python": platform.python_version(),
            },
        }
        atomic_write(cfg_path, yaml.safe_dump(meta, sort_keys=False))
    done = set()
    for p in out_dir.glob("split_*.json"):
        try:
            done.add(int(json.loads(p.read_text())["split"]))
        except (ValueError, KeyError, json.JSONDecodeError):
            p.unlink()  # unreadable: the split is simply run again
    return done


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.set_rng_state(state)


#: Features denser than this stay dense; sparser ones go to the model as CSR when it accepts
#: them (dropout and the encoder then touch only the non-zeros).
SPARSE_DENSITY = 0.25


def model_features(model: object, x: Tensor) -> Tensor:
    """``x`` as CSR when the model (instance or class) accepts sparse features and ``x`` is
    sparse enough; else ``x`` unchanged. The rule of :func:`run`, for every caller."""
    density = float((x != 0).sum()) / max(1, x.numel())
    if getattr(model, "accepts_sparse_features", False) and density < SPARSE_DENSITY:
        return to_csr(x)
    return x


EpochHook = Callable[[int, int, dict[str, float]], None]


def _fit(
    cfg: RunConfig,
    data: PreparedData,
    k: int,
    on_epoch: Callable[[int, dict[str, float]], None] | None,
    x: Tensor | None,
) -> tuple[SplitResult, Tensor]:
    with _seeded(cfg.seed + k):
        model = build_model(cfg.model, data.x.size(1), data.num_classes)
        if x is None:
            x = model_features(model, data.x)
        res = train_split(
            model,
            x,
            data.edge_index,
            data.y,
            data.train_mask[:, k],
            data.val_mask[:, k],
            data.test_mask[:, k],
            cfg.optim,
            metric=data.metric,
            split=k,
            on_epoch=on_epoch,
        )
    return res, x


def fit_split(
    cfg: RunConfig,
    data: PreparedData,
    split: int,
    *,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> SplitResult:
    """Train split ``split`` of ``data`` exactly as :func:`run` does (seed ``cfg.seed + split``,
    the model of ``cfg.model``, the test metric at the best-validation epoch); no files.

    ``on_epoch(epoch, scores)`` is called after every epoch with ``loss``, ``train``, ``val``
    and ``test`` (fractions); raising from it stops the split (e.g. a pruned search trial).
    """
    cfg.validate()
    if not 0 <= split < data.num_splits:
        raise ConfigError(
            f"split {split} out of range: {data.name} has {data.num_splits} splits "
            f"(0..{data.num_splits - 1})"
        )
    return _fit(cfg, data, split, on_epoch, None)[0]


def run(
    cfg: RunConfig,
    data: PreparedData,
    out_dir: str | Path | None = None,
    *,
    overwrite: bool = False,
    on_split_start: Callable[[int, int], None] | None = None,
    on_epoch: EpochHook | None = None,
) -> Summary:
    """Train ``cfg.model`` on every selected split of ``data``; return the summary.

    With ``out_dir``, results go to a resumable run directory (module docstring).
    Split k is trained from seed ``cfg.seed + k``: the same command gives the same numbers.
    """
    cfg.validate()
    splits = list(range(data.num_splits)) if cfg.data.splits is None else list(cfg.data.splits)
    bad = [s for s in splits if s >= data.num_splits]
    if bad:
        raise ConfigError(
            f"data.splits {bad} out of range: {data.name} has {data.num_splits} splits "
            f"(0..{data.num_splits - 1})"
        )
    x: Tensor | None = None  # data.x as the model takes it, converted once for all splits
    out = Path(out_dir) if out_dir is not None else None
    done = _open_run_dir(out, cfg, overwrite) if out is not None else set()
    start = time.perf_counter()
    results: list[SplitResult] = []
    for k in splits:
        if out is not None and k in done:
            rec = json.loads((out / f"split_{k}.json").read_text())
            results.append(
                SplitResult(**{**rec, **{m: rec[m] / 100.0 for m in ("train", "val", "test")}})
            )
            continue
        if on_split_start is not None:
            on_split_start(k, len(splits))
        hook = None if on_epoch is None else (lambda e, s, k=k: on_epoch(k, e, s))
        res, x = _fit(cfg, data, k, hook, x)
        results.append(res)
        if out is not None:
            buf = io.BytesIO()
            torch.save(res.state_dict, buf)
            atomic_write(out / f"split_{k}.pt", buf.getvalue())
            rec = res.to_json()
            rec.update({m: 100.0 * rec[m] for m in ("train", "val", "test")})
            atomic_write(out / f"split_{k}.json", json.dumps(rec, indent=2))
    summary = Summary.from_results(data.name, cfg.model.name, results, time.perf_counter() - start)
    if out is not None:
        payload = summary.to_json()
        payload["config"] = _config_record(cfg)
        payload["notes"] = data.notes
        atomic_write(out / "summary.json", json.dumps(payload, indent=2))
    return summary


def published_results() -> list[dict[str, Any]]:
    """The paper's Table 1 (arXiv v1) as rows: model, dataset, mean, std, source."""
    path = Path(__file__).with_name("published.csv")
    with path.open() as fh:
        return [
            {**row, "mean": float(row["mean"]), "std": float(row["std"])}
            for row in csv.DictReader(fh)
        ]

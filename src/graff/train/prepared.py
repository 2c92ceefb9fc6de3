"""The tensors a run trains on, loaded and preprocessed once per dataset."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from graff.data import GraphDataError

__all__ = ["PreparedData", "load_prepared", "prepare_data"]


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

    def to(self, device: torch.device | str) -> PreparedData:
        """A copy with every tensor on ``device``."""
        moved = {
            f.name: getattr(self, f.name).to(device)
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), Tensor)
        }
        return dataclasses.replace(self, **moved)

    def check_task(self) -> None:
        """Raise :class:`GraphDataError` where the task cannot give a meaningful score."""
        if self.metric == "roc_auc" and self.num_classes != 2:
            raise GraphDataError(
                f"{self.name}: ROC-AUC needs a binary task, but the labels have "
                f"{self.num_classes} classes; use the accuracy metric"
            )


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


def load_prepared(cfg: Any, data_dir: str | None = None) -> PreparedData:
    """The dataset of ``cfg`` (a RunConfig) loaded from ``data_dir``, else ``$GRAFF_DATA``,
    else the user cache, and preprocessed as ``cfg.data`` says."""
    from graff.data import load_dataset

    data = load_dataset(cfg.data.dataset, data_dir, **cfg.data.params)
    return prepare_data(data, normalize_features=cfg.data.normalize_features)

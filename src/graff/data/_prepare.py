"""From a loaded graph to the tensors a run uses: :class:`PreparedData`, :func:`prepare_data`,
:func:`load_prepared`.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data, Dataset
from torch_geometric.utils import is_undirected

from graff.nn.checks import check_flags

from ._errors import GraphDataWarning
from ._registry import load_dataset
from ._task import check_features, check_task
from ._validate import check_edges, require_graph, row_normalize

__all__ = ["PreparedData", "as_prepared", "load_prepared", "prepare_data"]


@dataclass
class PreparedData:
    """Tensors a run needs, preprocessed once per dataset.

    Attributes:
        name: dataset name. x: float32 features ``[N, F]`` (row-normalised if asked).
        edge_index: int64 ``[2, E]``. y: int64 labels ``[N]`` (``-1`` = unlabelled).
        train_mask, val_mask, test_mask: bool ``[N, S]``. num_classes: ``C``.
        metric: ``accuracy`` or ``roc_auc``. notes: the loader's notes, in words.
    """

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
        """A copy with every tensor on ``device`` (tensors already there are shared)."""
        moved = {
            f.name: getattr(self, f.name).to(device)
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), Tensor)
        }
        return dataclasses.replace(self, **moved, notes=list(self.notes))


def _as_2d(mask: Tensor) -> Tensor:
    return mask.unsqueeze(1) if mask.dim() == 1 else mask


def prepare_data(data: Any, *, normalize_features: bool = False) -> PreparedData:
    """Turn a loaded graph (``graff.data`` convention) into the tensors a run uses.

    First checks that the graph is a usable task (:func:`check_task`: ≥ 2 classes, a metric
    that fits, every split non-empty, disjoint and distinct) and that its features are usable
    (:func:`check_features`: real, finite, at least one column, magnitude ≤ 1e18; a
    :class:`~graff.data.GraphDataWarning` above 1e6 unless ``normalize_features``).

    Args:
        data: a :class:`~torch_geometric.data.Data` from :func:`load_dataset` (or any graph
            that passes :func:`validate_graph`).
        normalize_features: row-normalise ``x`` (:func:`row_normalize`).

    Raises:
        GraphDataError: the graph is not a usable classification task (message says why).
    """
    try:
        require_graph(data, "prepare_data")
    except TypeError as err:
        both = ", or graff.data.load_prepared for both" if isinstance(data, str) else ""
        raise TypeError(f"{err}{both}") from None
    check_flags(normalize_features=normalize_features)
    name = str(getattr(data, "name", "graph"))
    check_task(data)
    check_features(data.x, name=name, warn=not normalize_features)
    edge_index = check_edges(data.edge_index, data.x.size(0))
    if getattr(data, "num_label_classes", None) is None and not is_undirected(
        edge_index, num_nodes=data.x.size(0)
    ):  # a graph that did not come through validate_graph (the loaders' repairs)
        warnings.warn(
            f"{name}'s edge_index is directed (some edges lack their reverse): the models train "
            "on it as given, so GRAFF's Ā is not symmetric and its energy view (an undirected "
            "graph) does not hold; graff's loaders symmetrise, as graff.data.validate_graph(data) "
            "does",
            GraphDataWarning,
            stacklevel=2,
        )
    weighted = [k for k in ("edge_weight", "edge_attr") if getattr(data, k, None) is not None]
    if weighted:
        warnings.warn(
            f"{name} has {' and '.join(weighted)}: graff's models train on the unweighted "
            "graph (its edge_index); scale or drop edges beforehand if their weights matter",
            GraphDataWarning,
            stacklevel=2,
        )
    # sparse features (COO or CSR) as a dense matrix; the run turns it back into CSR for the
    # models that take sparse features, when it is sparse enough (graff.train.model_features)
    x = (data.x.to_dense() if data.x.layout != torch.strided else data.x).float()
    if normalize_features:
        x = row_normalize(x)
    y = data.y.long()
    num_classes = int(getattr(data, "num_label_classes", int(y.max()) + 1))
    return PreparedData(
        name=name,
        x=x,
        edge_index=edge_index,
        y=y,
        train_mask=_as_2d(data.train_mask).bool(),
        val_mask=_as_2d(data.val_mask).bool(),
        test_mask=_as_2d(data.test_mask).bool(),
        num_classes=num_classes,
        metric=str(getattr(data, "metric", "accuracy")),
        notes=list(getattr(data, "notes", [])),
    )


def load_prepared(
    dataset: str,
    params: Mapping[str, Any] | None = None,
    normalize_features: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
) -> PreparedData:
    """:func:`load_dataset` then :func:`prepare_data`: a dataset by name, ready for a run.

    Args:
        dataset: a registered name or ``npz:PATH`` (see :func:`load_dataset`).
        params: dataset parameters (``data.params`` of a run config).
        normalize_features: row-normalise the features.
        data_dir: searched first for raw files, then ``$GRAFF_DATA``, then the user cache.
    """
    data = load_dataset(dataset, data_dir, **dict(params or {}))
    return prepare_data(data, normalize_features=normalize_features)


def as_prepared(data: Any, *, normalize_features: bool = False) -> PreparedData | None:
    """``data`` as a :class:`PreparedData`: as it is, or a loaded graph (a PyG ``Data``, e.g.
    from :func:`load_dataset`) through :func:`prepare_data`; None stays None. Anything else
    is a ``TypeError`` naming what a graph may be."""
    if data is None or isinstance(data, PreparedData):
        return data
    if isinstance(data, Data):
        return prepare_data(data, normalize_features=normalize_features)
    hint = ""
    if isinstance(data, Dataset):
        hint = (
            f" (a PyG dataset of {len(data)} graph{'s' if len(data) != 1 else ''}: pass one "
            "graph, e.g. dataset[0])"
        )
    raise TypeError(
        f"data must be a graph: a torch_geometric.data.Data (e.g. graff.data.load_dataset(name)), "
        f"a graff.train.PreparedData (graff.train.prepare_data(graph)) or None (cfg.data.dataset "
        f"is loaded); got {type(data).__name__} {data!r:.60}{hint}"
    )

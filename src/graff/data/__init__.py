"""Datasets for graff: registry, raw-format loaders, splits, synthetic graphs, checksums.

Every loader returns a :class:`torch_geometric.data.Data` in one convention (see
:func:`load_dataset`): float32 ``x [N, F]`` with raw features, undirected coalesced
``edge_index [2, E]`` without self-loops, int64 ``y [N]`` (``-1`` = unlabelled), bool masks
``[N, S]``, and ``name``, ``metric``, ``num_label_classes``, ``notes``.

Raw files are looked up (:func:`resolve_data_dir`) in ``data_dir``, ``$GRAFF_DATA`` and
``($XDG_CACHE_HOME or ~/.cache)/graff/data``, verified against the pinned ``manifest.csv``
(size + sha256) and downloaded from their pinned upstream commit when missing and the network
is reachable. Processed graphs are cached in ``cache_dir()/processed`` (``$GRAFF_CACHE``).

User graphs: ``load_dataset("npz:PATH")`` reads an ``.npz`` with ``x`` ``[N, F]``, ``y``
``[N]`` and ``edge_index`` ``[2, E]`` or ``edges`` ``[E, 2]``, optional
``train_mask``/``val_mask``/``test_mask`` (``[N]``, ``[S, N]`` or ``[N, S]``); without masks,
seeded stratified random splits are drawn.
"""

from ._catalog import EXAMPLE_PARAMS, dataset_records
from ._errors import DataFileCorruptError, DataFileMissingError, GraphDataError
from ._fetch import cache_dir, fetch_file, resolve_data_dir
from ._registry import (
    LOADER_VERSION,
    DatasetInfo,
    dataset_files_present,
    list_datasets,
    load_dataset,
)
from ._splits import random_splits
from ._synthetic import csbm
from ._validate import graph_stats, row_normalize, validate_graph

__all__ = [
    "EXAMPLE_PARAMS",
    "LOADER_VERSION",
    "DataFileCorruptError",
    "DataFileMissingError",
    "DatasetInfo",
    "GraphDataError",
    "cache_dir",
    "csbm",
    "dataset_files_present",
    "dataset_records",
    "fetch_file",
    "graph_stats",
    "list_datasets",
    "load_dataset",
    "random_splits",
    "resolve_data_dir",
    "row_normalize",
    "validate_graph",
]

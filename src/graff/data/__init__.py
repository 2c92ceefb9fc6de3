"""Datasets for graff: registry, raw-format loaders, splits, synthetic graphs, checksums, and
the preparation of a graph for a run.

Every loader returns a :class:`torch_geometric.data.Data` in one convention (see
:func:`load_dataset`): float32 ``x [N, F]`` with raw features, undirected coalesced
``edge_index [2, E]`` without self-loops, int64 ``y [N]`` (``-1`` = unlabelled), bool masks
``[N, S]``, and ``name``, ``metric``, ``num_label_classes``, ``notes``.

Raw files are looked up (:func:`resolve_data_dir`) in ``data_dir``, ``$GRAFF_DATA`` and
``($XDG_CACHE_HOME or ~/.cache)/graff/data``, verified against the pinned ``manifest.csv``
(size + sha256; the git blob SHA-1 for the three graphs shared/data lacks: roman-empire,
amazon-ratings, questions) and downloaded from their pinned upstream commit when missing and
the network is reachable. OGB's ogbn-arxiv and ogbn-products (:mod:`graff.data._ogb`) are
fetched on demand from OGB's zips, for which no checksum is published: graff records the sha256
of the first copy it reads and verifies later loads against it. Processed graphs are cached
in ``cache_dir()/processed`` (``$GRAFF_CACHE``); each entry records the checksums of what it
was built from and of itself, and is verified before use (a damaged entry is rebuilt with a
:class:`GraphDataWarning`).

User graphs: ``load_dataset("npz:PATH")`` reads an ``.npz`` with ``x`` ``[N, F]``, ``y``
``[N]`` and ``edge_index`` ``[2, E]`` or ``edges`` ``[E, 2]``, optional
``train_mask``/``val_mask``/``test_mask`` (``[N]``, ``[S, N]`` or ``[N, S]``); without masks,
seeded stratified random splits are drawn. Object arrays are refused, never unpickled. A run
records where its graph came from (:func:`dataset_source`; :func:`absolute_dataset` makes a
user graph's path absolute).

For a run: :func:`prepare_data` (or :func:`load_prepared`, by name) checks the task
(:func:`check_task`: two or more classes, a fitting metric, non-empty distinct splits) and the
features (:func:`check_features`) and returns a :class:`PreparedData` (:func:`as_prepared`:
a graph either way, as the runner takes it). Dataset facts for
``graff reproduce``: :data:`PAPER_DATASETS`, :data:`EXTRA_DATASETS`, :func:`dataset_groups`,
:data:`DATASET_SIZES`, :data:`EXAMPLE_PARAMS` (all read from the :data:`DATASETS` registry).

Errors are :class:`GraphDataError` (a :class:`ValueError`) or its subclasses
:class:`DataFileMissingError` and :class:`DataFileCorruptError`.
"""

from ._cache import notable_notes
from ._catalog import dataset_records
from ._errors import DataFileCorruptError, DataFileMissingError, GraphDataError, GraphDataWarning
from ._fetch import cache_dir, fetch_file, resolve_data_dir
from ._groups import (
    DATASET_SIZES,
    EXAMPLE_PARAMS,
    EXTRA_DATASETS,
    PAPER_DATASETS,
    canonical_dataset,
    dataset_groups,
)
from ._prepare import PreparedData, as_prepared, load_prepared, prepare_data
from ._registry import (
    DATASETS,
    LOADER_VERSION,
    DatasetInfo,
    dataset_files_present,
    list_datasets,
    load_dataset,
)
from ._source import absolute_dataset, dataset_source, user_npz_path
from ._splits import random_splits
from ._synthetic import csbm
from ._task import check_features, check_task
from ._validate import graph_stats, row_normalize, validate_graph

__all__ = [
    "DATASETS",
    "DATASET_SIZES",
    "EXAMPLE_PARAMS",
    "EXTRA_DATASETS",
    "LOADER_VERSION",
    "PAPER_DATASETS",
    "DataFileCorruptError",
    "DataFileMissingError",
    "DatasetInfo",
    "GraphDataError",
    "GraphDataWarning",
    "PreparedData",
    "absolute_dataset",
    "as_prepared",
    "cache_dir",
    "canonical_dataset",
    "check_features",
    "check_task",
    "csbm",
    "dataset_files_present",
    "dataset_groups",
    "dataset_records",
    "dataset_source",
    "fetch_file",
    "graph_stats",
    "list_datasets",
    "load_dataset",
    "load_prepared",
    "notable_notes",
    "prepare_data",
    "random_splits",
    "resolve_data_dir",
    "row_normalize",
    "user_npz_path",
    "validate_graph",
]

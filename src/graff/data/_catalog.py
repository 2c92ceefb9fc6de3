"""The catalogue behind ``graff datasets``: every registered dataset, its files and statistics."""

from __future__ import annotations

import os
from typing import Any

from ._errors import GraphDataError
from ._ogb import OGB_DATASETS
from ._registry import dataset_files_present, list_datasets, load_dataset
from ._validate import graph_stats

__all__ = ["dataset_records"]


def dataset_records(
    data_dir: str | os.PathLike[str] | None = None, *, stats: bool = True
) -> list[dict[str, Any]]:
    """One record per registered dataset: name, family, metric, file presence (``present``,
    ``missing``), ``on_demand`` (the URL a missing dataset is downloaded from when first
    loaded: the OGB datasets), the example ``params`` where it needs some, and (``stats``,
    files present) the statistics of :func:`graph_stats` measured on the loaded graph, or
    ``error``."""
    records = []
    for info in list_datasets():
        present, missing = dataset_files_present(info.name, data_dir)
        rec: dict[str, Any] = {
            "name": info.name,
            "family": info.family,
            "generated": not info.files,
            "present": present,
            "missing": missing,
            "metric": info.metric,
        }
        if info.family == "ogb":  # not in shared/data; fetched from OGB when first loaded
            rec["on_demand"] = OGB_DATASETS[info.name].url
        params = dict(info.example_params or {})
        if params:
            rec["params"] = params
        if present and stats:
            try:
                rec.update(graph_stats(load_dataset(info.name, data_dir, download=False, **params)))
            except GraphDataError as err:  # shown in the listing, not fatal for it
                rec["error"] = str(err)
        records.append(rec)
    return records

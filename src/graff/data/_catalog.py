"""The catalogue behind ``graff datasets``: every registered dataset, its files and statistics."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from ._errors import GraphDataError
from ._ogb import OGB_DATASETS
from ._registry import DatasetInfo, _resolve, dataset_files_present, list_datasets, load_dataset
from ._source import user_npz_path
from ._validate import graph_stats

__all__ = ["dataset_records"]


def dataset_records(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    stats: bool = True,
    names: Sequence[str] | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """One record per registered dataset (or per name of ``names``, in that order: registered
    names and aliases, and ``npz:PATH`` files): name, family, metric, file presence
    (``present``, ``missing``), ``on_demand`` (the URL a missing dataset is downloaded from
    when first loaded: the OGB datasets), the example ``params`` where it needs some, and
    (``stats``, files present) the statistics of :func:`graph_stats` measured on the loaded
    graph, or ``error``. ``on_record`` is called with each record as it is made (a progress
    bar: loading every graph takes a while).

    Raises:
        GraphDataError: a name of ``names`` that is not registered (with the close ones), or an
            ``npz:PATH`` file that cannot be read as a graph.
    """
    if names is None:
        infos: list[DatasetInfo | str] = list(list_datasets())
    else:
        infos = [name if user_npz_path(name) is not None else _resolve(name) for name in names]
    records = []
    for info in infos:
        rec = _file_record(info, stats) if isinstance(info, str) else _record(info, data_dir, stats)
        if on_record is not None:
            on_record(rec)
        records.append(rec)
    return records


def _record(info: DatasetInfo, data_dir: str | os.PathLike[str] | None, stats: bool) -> dict:
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
    return rec


def _file_record(name: str, stats: bool) -> dict[str, Any]:
    """The record of a user's ``.npz`` graph; loading it checks it (an unusable file raises)."""
    data = load_dataset(name)
    rec: dict[str, Any] = {
        "name": name.strip(),
        "family": "npz",
        "generated": False,
        "present": True,
        "missing": [],
        "metric": data.metric,
    }
    if stats:
        rec.update(graph_stats(data))
    return rec

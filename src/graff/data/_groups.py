"""Dataset groups, sizes and example parameters (the facts ``graff reproduce`` and
``graff datasets`` read), all derived from the dataset registry where the registry knows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ._errors import GraphDataError
from ._registry import DATASETS, _resolve
from ._source import user_npz_path

__all__ = [
    "DATASET_SIZES",
    "EXAMPLE_PARAMS",
    "EXTRA_DATASETS",
    "PAPER_DATASETS",
    "canonical_dataset",
    "dataset_groups",
]

#: The paper's 9 datasets (Geom-GCN splits); cornell_old = the pre-July-2022 Cornell files the
#: paper used, cornell = the current files.
PAPER_DATASETS = (
    "texas",
    "wisconsin",
    "cornell",
    "cornell_old",
    "film",
    "squirrel",
    "chameleon",
    "citeseer",
    "pubmed",
    "cora",
)
#: Platonov et al. 2023: squirrel/chameleon without their duplicated nodes, and two
#: heterophilous graphs with ROC-AUC; columns that keep the leaky unfiltered ones company.
#: Platonov's roman-empire, amazon-ratings and questions are registered but in no group: their
#: files are not in shared/data (and they have no shipped configs), so ``graff reproduce`` with
#: its default groups must not need them; name them explicitly once their files are present.
EXTRA_DATASETS = ("chameleon-filtered", "squirrel-filtered", "minesweeper", "tolokers")

#: (nodes, directed edges, features) as loaded, per dataset that has a ``size`` in the registry
#: (:attr:`DatasetInfo.size`, the one home of these numbers). Read-only.
DATASET_SIZES: Mapping[str, tuple[int, int, int]] = MappingProxyType(
    {name: info.size for name, info in DATASETS.items() if info.size is not None}
)

#: Parameters that make one loadable instance of a dataset with a required parameter
#: (:attr:`DatasetInfo.example_params`), e.g. ``{"syn-cora": {"homophily": 0.5, "replica": 1}}``.
EXAMPLE_PARAMS: Mapping[str, dict[str, Any]] = MappingProxyType(
    {name: dict(info.example_params) for name, info in DATASETS.items() if info.example_params}
)


def dataset_groups(spec: str | None) -> list[str]:
    """``paper``, ``extra``, ``all`` (None) or a comma-separated list of names and groups (an
    empty one names none: ``[]``, which the caller refuses, not every dataset).

    Groups (any case) expand to :data:`PAPER_DATASETS` / :data:`EXTRA_DATASETS` / both; a
    registered name or alias becomes its canonical name (``Texas``, ``actor`` → ``texas``,
    ``film``); ``npz:PATH`` files are kept as given; duplicates are dropped, first occurrence
    kept.

    Raises:
        GraphDataError: a name that is neither a group, a registered dataset nor a file (with
            the close names).
    """
    names: list[str] = []
    for part in ("all" if spec is None else spec).split(","):
        part = part.strip()
        group = part.lower()
        if group == "paper":
            names += PAPER_DATASETS
        elif group == "extra":
            names += EXTRA_DATASETS
        elif group == "all":
            names += PAPER_DATASETS + EXTRA_DATASETS
        elif user_npz_path(part) is not None:
            names.append(part)
        elif part:
            names.append(_resolve(part).name)
    return list(dict.fromkeys(names))


def canonical_dataset(name: str, *, strict: bool = False) -> str:
    """The registry's name of a registered dataset named any way :func:`load_dataset`
    accepts (any case, ``_``/``-``, aliases: ``Texas``, ``actor`` → ``texas``, ``film``);
    any other name (a file, an unknown name: checked when loaded) unchanged, or, with
    ``strict``, an unknown name refused now (:class:`GraphDataError`, naming the close match)."""
    if user_npz_path(name) is not None:
        return name
    try:
        return _resolve(name).name
    except GraphDataError:
        if strict:
            raise
        return name

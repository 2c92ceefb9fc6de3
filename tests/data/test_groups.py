"""Dataset facts owned by graff.data: groups, sizes, example parameters, the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from graff.data import (
    DATASET_SIZES,
    DATASETS,
    EXAMPLE_PARAMS,
    EXTRA_DATASETS,
    PAPER_DATASETS,
    DatasetInfo,
    GraphDataError,
    dataset_files_present,
    dataset_groups,
    list_datasets,
    load_dataset,
)
from graff.registry import Registry


def test_groups() -> None:
    assert dataset_groups("paper") == list(PAPER_DATASETS)
    assert dataset_groups("extra") == list(EXTRA_DATASETS)
    assert dataset_groups(None) == dataset_groups("all") == list(PAPER_DATASETS + EXTRA_DATASETS)
    assert dataset_groups("texas, extra,texas,,cora") == ["texas", *EXTRA_DATASETS, "cora"]
    assert dataset_groups("syn-cora") == ["syn-cora"]
    assert len(PAPER_DATASETS) == 10 and "cornell_old" in PAPER_DATASETS


def test_groups_take_any_case_and_names_become_canonical() -> None:
    """``Texas`` or ``actor`` were kept as given, so ``graff reproduce --datasets Texas``
    found no shipped config and ``texas,Texas`` ran the cell twice; ``PAPER`` was a name."""
    assert dataset_groups("PAPER") == list(PAPER_DATASETS)
    assert dataset_groups("Texas,actor,texas, Cornell-Old") == ["texas", "film", "cornell_old"]
    assert dataset_groups("npz:my/Graph.npz,texas") == ["npz:my/Graph.npz", "texas"]
    with pytest.raises(GraphDataError, match=r"unknown dataset 'texsa'\. Did you mean 'texas'"):
        dataset_groups("texsa")


def test_an_empty_list_names_no_dataset() -> None:
    """``""`` (an empty ``--datasets``, or ``datasets=[]`` joined) meant every dataset, so
    ``reproduce(datasets=[])`` set off all 14 graphs' cells silently; only None is the default."""
    assert dataset_groups("") == dataset_groups(" , ") == []
    assert dataset_groups(None) == list(PAPER_DATASETS + EXTRA_DATASETS)


def test_every_grouped_dataset_is_registered_with_a_size() -> None:
    for name in PAPER_DATASETS + EXTRA_DATASETS:
        assert name in DATASETS, name
        assert DATASETS[name].size == DATASET_SIZES[name]
    assert set(DATASET_SIZES) == set(PAPER_DATASETS + EXTRA_DATASETS)
    n, e, f = DATASET_SIZES["cora"]
    assert (n, f) == (2708, 1433) and e % 2 == 0
    with pytest.raises(TypeError):
        DATASET_SIZES["cora"] = (1, 2, 3)  # type: ignore[index]


def test_registry_is_the_one_list() -> None:
    assert isinstance(DATASETS, Registry) and DATASETS.kind == "dataset"
    assert list_datasets() == list(DATASETS.values())
    assert all(isinstance(i, DatasetInfo) for i in list_datasets())
    with pytest.raises(ValueError, match="already registered"):
        DATASETS.register("cora", DATASETS["cora"])


def test_example_params_cover_required_params() -> None:
    """Every dataset with a parameter lacking a default has example parameters, and only they."""
    needs = {i.name for i in list_datasets() if any(v is None for v in i.params.values())}
    assert needs == set(EXAMPLE_PARAMS) == {"syn-cora"}
    assert EXAMPLE_PARAMS["syn-cora"] == {"homophily": 0.5, "replica": 1}
    for name, params in EXAMPLE_PARAMS.items():
        assert set(params) <= set(DATASETS[name].params)


@pytest.mark.shared_data
def test_example_params_load(shared_data_dir: Path) -> None:
    for name, params in EXAMPLE_PARAMS.items():
        ok, missing = dataset_files_present(name, shared_data_dir, **params)
        assert ok and not missing
        d = load_dataset(name, shared_data_dir, **params)
        assert d.name == name and d.num_nodes > 0

"""graff.train.resolve_config: where a run's settings come from."""

from __future__ import annotations

import yaml

from graff.configs import default_config, shipped_config
from graff.train import RunConfig, resolve_config


def test_shipped_config_wins_for_a_known_dataset() -> None:
    cfg, source = resolve_config("texas")
    assert "shipped config graff/texas.yaml" in source
    shipped = yaml.safe_load(shipped_config("graff", "texas").read_text())  # type: ignore[union-attr]
    assert cfg.model.w_type == shipped["model"]["w_type"]


def test_a_graph_without_a_config_gets_the_documented_defaults() -> None:
    """An unknown graph uses graff/defaults/graff.yaml (taken from the shipped searches and
    measured on graphs they did not see, its provenance says), not the bare schema defaults."""
    path = default_config("graff")
    assert path is not None
    raw = yaml.safe_load(path.read_text())
    cfg, source = resolve_config("csbm")
    assert "defaults for a graph without a shipped config" in source
    for section in ("model", "optim"):
        for key, value in raw[section].items():
            assert getattr(getattr(cfg, section), key) == value, key
    assert "graff tune" in cfg.provenance and "none of those searches saw" in cfg.provenance
    assert cfg.model.w_type != RunConfig().model.w_type  # the file changes something


def test_other_models_keep_the_schema_defaults() -> None:
    cfg, source = resolve_config("csbm", "mlp")
    assert source == "defaults" and cfg.model.hidden == RunConfig().model.hidden


def test_overrides_and_seed_apply_on_top() -> None:
    cfg, _ = resolve_config("csbm", overrides=["model.hidden=16"], seed=5)
    assert cfg.model.hidden == 16 and cfg.seed == 5


def test_a_dataset_named_in_another_case_or_by_alias_gets_its_shipped_config() -> None:
    """``graff train --dataset Texas`` (or ``actor`` for film) trained the defaults for an
    unknown graph, silently: the shipped config was looked up by the name as typed."""
    for typed, name in (("Texas", "texas"), ("actor", "film"), ("Cornell-Old", "cornell_old")):
        cfg, source = resolve_config(dataset=typed)
        assert source == f"shipped config graff/{name}.yaml", typed
        assert cfg.data.dataset == name
        assert cfg == resolve_config(dataset=name)[0]
    assert resolve_config(dataset="npz:My.npz")[0].data.dataset == "npz:My.npz"


def test_a_model_named_in_another_case_gets_its_shipped_config() -> None:
    """``--model GRAFF`` was refused as unknown, and ``--set model.name=GRAFF`` beside
    ``--model graff`` was called a disagreement whose advice (``--model GRAFF``) failed too;
    datasets were already read in any case."""
    cfg, source = resolve_config("texas", "GRAFF")
    assert source == "shipped config graff/texas.yaml" and cfg.model.name == "graff"
    assert resolve_config("minesweeper", "GAT-Sep")[0].model.name == "gat_sep"
    cfg, _ = resolve_config("texas", "graff", overrides=["model.name=GRAFF"])
    assert cfg == resolve_config("texas", "graff")[0]
    from graff.tune._args import check_tune_arguments

    args = {"counts": {}, "sampler_seed": 0, "timeout": None, "pruner": "median", "flags": {}}
    assert check_tune_arguments("csbm", "GRAFF", **args) == "graff"


def test_an_override_of_a_key_the_model_does_not_read_is_refused() -> None:
    """``--set model.num_layers=8`` on GRAFF (whose depth is T / step_size) trained the
    unchanged model without a word; reproduce, which sets keys for every model, still may."""
    import pytest

    from graff.train import ConfigError

    with pytest.raises(ConfigError, match=r"model.num_layers is not read by model 'graff'"):
        resolve_config("texas", overrides=["model.num_layers=8"])
    with pytest.raises(ConfigError, match=r"model.w_type is not read by model 'gcn'"):
        resolve_config("texas", "gcn", overrides=["w_type=sum"])  # the section omitted
    strict_free, _ = resolve_config("texas", overrides=["model.num_layers=8"], strict=False)
    assert strict_free.model.num_layers == 8
    cfg, _ = resolve_config("texas", "gcn", overrides=["model.block=residual", "model.norm=layer"])
    assert cfg.model.norm == "layer"  # read by the residual build the overrides chose
    assert resolve_config("texas", overrides=["model.T=2.0"])[0].model.T == 2.0


def test_a_config_run_on_another_graph_or_model_says_so() -> None:
    """``--config texas.yaml --dataset cornell`` runs texas's settings on cornell, as asked;
    the source (printed as ``config: …``) now says whose settings they are."""
    path = shipped_config("graff", "texas")
    assert path is not None
    cfg, source = resolve_config("cornell", config=path)
    assert cfg.data.dataset == "cornell"
    assert source == f"{path} (its data.dataset 'texas' replaced by --dataset cornell)"
    _, source = resolve_config("cornell", "graff_nores", config=path)
    assert source.endswith(
        "(its data.dataset 'texas' replaced by --dataset cornell; "
        "its model.name 'graff' replaced by --model graff_nores)"
    )
    # the same graph named another way, or no --dataset at all: nothing to say
    for dataset in ("Texas", None):
        assert resolve_config(dataset, config=path)[1] == str(path)

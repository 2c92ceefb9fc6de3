"""The residual recipe through the config, the registry and training: model.block, model.norm,
model.sep, model.ffn_multiplier and optim.optimizer (AdamW's parameter groups)."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from graff.data import csbm
from graff.nn import (
    GAT,
    GCN,
    GraphSAGE,
    MLPClassifier,
    ResidualGAT,
    ResidualGCN,
    ResidualGT,
    ResidualMLP,
    ResidualSAGE,
)
from graff.nn.stacked import GCNStack, MLPStack, ResidualStack
from graff.train import ConfigError, PreparedData, RunConfig, build_model, prepare_data, run
from graff.train.batched import stack_optimizer
from graff.train.config import ModelConfig, OptimConfig, config_from_dict, config_to_dict
from graff.train.fit import make_optimizer, no_decay_names
from graff.train.models import MODELS, RECIPE_FIELDS, config_for_file, spec_for
from graff.train.runner import split_chunks

RESIDUAL = {"mlp": ResidualMLP, "gcn": ResidualGCN, "sage": ResidualSAGE, "gat": ResidualGAT}
PLAIN = {"mlp": MLPClassifier, "gcn": GCN, "sage": GraphSAGE, "gat": GAT}


@pytest.fixture(scope="module")
def data2() -> PreparedData:
    return prepare_data(
        csbm(num_nodes=120, num_classes=3, num_features=8, num_splits=2, avg_degree=4.0, seed=2)
    )


def _cfg(*overrides: str) -> RunConfig:
    from graff.train.config import apply_overrides

    cfg = RunConfig()
    cfg.model.hidden = 16
    return apply_overrides(cfg, list(overrides)).validate()


# -- registry: one build per model.block --------------------------------------------------------
@pytest.mark.parametrize("model", sorted(RESIDUAL))
def test_block_chooses_the_build(model: str) -> None:
    plain = build_model(_cfg(f"model.name={model}").model, 5, 3)
    assert type(plain) is PLAIN[model]  # block=plain: the classic model, unchanged
    cfg = _cfg(f"model.name={model}", "model.block=residual", "model.norm=layer")
    residual = build_model(cfg.model, 5, 3)
    assert type(residual) is RESIDUAL[model]
    assert spec_for(cfg.model).stack is ResidualStack and not spec_for(cfg.model).unbatched
    assert isinstance(residual.blocks[0].norm, nn.LayerNorm)


def test_each_build_trains_splits_side_by_side_in_its_own_stack(data2: PreparedData) -> None:
    plain = _cfg("model.name=gcn")
    assert spec_for(plain.model).stack is GCNStack
    assert split_chunks(plain, data2, [0, 1], batch=2) == [[0, 1]]
    residual = _cfg("model.name=gcn", "model.block=residual")
    assert spec_for(residual.model).stack is ResidualStack
    assert split_chunks(residual, data2, [0, 1], batch=2) == [[0, 1]]
    gat = _cfg("model.name=gat")  # PyG layers: one split at a time; its residual build stacks
    assert split_chunks(gat, data2, [0, 1], batch=2) == [[0], [1]]
    gat_residual = _cfg("model.name=gat", "model.block=residual")
    assert split_chunks(gat_residual, data2, [0, 1], batch=2) == [[0, 1]]


def test_recipe_fields_are_searchable_keys_of_the_models_that_read_them() -> None:
    for name in RESIDUAL:
        assert {"block", "norm", "ffn_multiplier"} <= set(MODELS[name].fields)
    assert "sep" in MODELS["gat"].fields and "sep" not in MODELS["gcn"].fields
    assert "block" not in MODELS["gcnii"].fields


def test_recipe_defaults_are_the_config_defaults() -> None:
    defaults = ModelConfig()
    assert {k: getattr(defaults, k) for k in RECIPE_FIELDS} == RECIPE_FIELDS
    assert defaults.block == "plain" and OptimConfig().optimizer == "adam"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.name=gcn", "model.sep=true"], "model.sep = true is not read by model 'gcn'"),
        (["model.name=gcn", "model.norm=layer"], "set model.block=residual"),
        (["model.name=sage", "model.ffn_multiplier=2"], "set model.block=residual"),
        (["model.name=gat", "model.sep=true"], "set model.block=residual"),
        (
            ["model.name=gcn", "model.block=residual", "model.sep=true"],
            "the models that read it: gat",
        ),
        (["model.name=gcnii", "model.block=residual"], "set model.block=plain"),
        (["model.name=graff", "model.block=residual"], "not available for model 'graff'"),
        (["model.block=dense"], "model.block = 'dense' is invalid"),
        (["model.name=gcn", "model.block=residual", "model.norm=group"], "model.norm"),
        (["model.name=gcn", "model.block=residual", "model.ffn_multiplier=0"], "ffn_multiplier"),
        (["model.name=gat", "model.block=residual", "model.hidden=12"], "multiple of heads"),
        (
            ["model.name=gat_sep", "model.params={heads: 0}"],
            "heads = 0 is invalid: expected a positive integer",
        ),
        (["optim.optimizer=sgd"], "optim.optimizer = 'sgd' is invalid"),
    ],
)
def test_invalid_combinations_name_the_key(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        _cfg(*overrides)


def test_gt_is_the_residual_transformer_whatever_the_block() -> None:
    for block in ("plain", "residual"):
        cfg = _cfg("model.name=gt", f"model.block={block}", "model.norm=layer", "model.sep=true")
        model = build_model(cfg.model, 5, 3)
        assert type(model) is ResidualGT and len(model.blocks) == 2 * cfg.model.num_layers
        assert model.blocks[0].module.sep and spec_for(cfg.model).stack is ResidualStack


def test_the_sep_models_are_their_base_models_with_sep_whatever_the_block() -> None:
    """gat_sep and gt_sep (Platonov et al.'s -sep rows) build the residual GAT / transformer
    with sep, and their registry entries estimate memory as gat / gt with sep do."""
    for name, base in (("gat_sep", "gat"), ("gt_sep", "gt")):
        ref = _cfg(f"model.name={base}", "model.block=residual", "model.sep=true")
        for block in ("plain", "residual"):
            cfg = _cfg(f"model.name={name}", f"model.block={block}")
            model = build_model(cfg.model, 5, 3)
            assert model.blocks[0].module.sep
            depth = spec_for(cfg.model).memory_depth(cfg.model)
            assert depth == spec_for(ref.model).memory_depth(ref.model)


def test_gat_sep_and_gat_heads() -> None:
    cfg = _cfg("model.name=gat", "model.block=residual", "model.sep=true", "model.params.heads=4")
    model = build_model(cfg.model, 5, 3)
    module = model.blocks[0].module
    assert module.sep and module.heads == 4 and module.ffn.lin1.in_features == 32


def test_config_file_of_a_residual_model_keeps_its_recipe() -> None:
    cfg = _cfg(
        "model.name=gat", "model.block=residual", "model.norm=batch", "model.sep=true",
        "model.ffn_multiplier=2", "optim.optimizer=adamw",
    )  # fmt: skip
    record = config_for_file(config_to_dict(cfg))
    section = record["model"]
    assert section["block"] == "residual" and section["norm"] == "batch" and section["sep"]
    assert "self_loops" not in section and "w_type" not in section
    again = config_from_dict(record).validate()
    assert again.model == cfg.model and again.optim.optimizer == "adamw"


# -- training through graff.train.run -----------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "extra"),
    [
        ("mlp", []),
        ("gcn", []),
        ("sage", []),
        ("gat", []),
        ("gat", ["model.sep=true"]),
        ("gt", []),
        ("gt", ["model.sep=true"]),
    ],
)
def test_residual_models_train_through_run(
    model: str, extra: list[str], data2: PreparedData, tmp_path: Path
) -> None:
    cfg = _cfg(
        f"model.name={model}", "model.block=residual", "model.norm=layer", "model.num_layers=2",
        "model.dropout=0.1", "optim.optimizer=adamw", "optim.lr=0.01", "optim.weight_decay=0.01",
        "optim.epochs=15", *extra,
    )  # fmt: skip
    summary = run(cfg, data2, tmp_path / "run")
    assert summary.model == model
    for k in range(2):
        with (tmp_path / "run" / f"history_{k}.csv").open() as f:
            loss = [float(row["loss"]) for row in csv.DictReader(f)]
        assert len(loss) == 15
        assert loss[-1] < 0.8 * loss[0]


# -- AdamW's parameter groups -------------------------------------------------------------------
def _adamw(weight_decay: float = 0.1) -> OptimConfig:
    return OptimConfig(lr=0.5, weight_decay=weight_decay, optimizer="adamw")


def _step_with_zero_gradients(opt: torch.optim.Optimizer, params: list[torch.Tensor]) -> None:
    for p in params:
        p.grad = torch.zeros_like(p)
    opt.step()


def test_no_decay_names_are_biases_and_normalisation_parameters() -> None:
    torch.manual_seed(0)
    model = ResidualGAT(5, 16, 3, norm="batch", num_layers=1)
    names = no_decay_names(model)
    expected = {n for n in dict(model.named_parameters()) if n.endswith("bias")}
    expected |= {"blocks.0.norm.weight", "output_norm.weight"}
    assert names == expected
    assert "blocks.0.module.att_src.weight" not in names  # an attention vector is decayed


def test_adamw_decays_only_the_weights() -> None:
    """With zero gradients Adam's update is zero: AdamW moves exactly the decayed parameters,
    each by the factor 1 − lr·weight_decay."""
    torch.manual_seed(0)
    model = ResidualGCN(5, 8, 3, norm="layer")
    for p in model.parameters():
        nn.init.normal_(p)  # no parameter at zero: a decay would show
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = make_optimizer(model.named_parameters(), no_decay_names(model), _adamw())
    _step_with_zero_gradients(opt, list(model.parameters()))
    skipped = no_decay_names(model)
    assert skipped and len(skipped) < len(before)
    for n, p in model.named_parameters():
        factor = 1.0 if n in skipped else 1.0 - 0.5 * 0.1
        torch.testing.assert_close(p.detach(), before[n] * factor)


def test_adam_stays_the_l2_penalty_on_every_parameter() -> None:
    torch.manual_seed(0)
    model = ResidualGCN(5, 8, 3, norm="layer")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optim = dataclasses.replace(_adamw(), optimizer="adam")
    opt = make_optimizer(model.named_parameters(), no_decay_names(model), optim)
    assert type(opt) is torch.optim.Adam and len(opt.param_groups) == 1
    _step_with_zero_gradients(opt, list(model.parameters()))
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    # Adam's L2 gradient wd·p moves every non-zero parameter (LayerNorm biases start at 0)
    assert moved == {n for n, p in before.items() if bool(p.ne(0).any())}


def test_adamw_on_a_stack_keeps_the_members_groups() -> None:
    """train_stack's optimiser: the stacked biases of a plain MLP are not decayed."""
    torch.manual_seed(0)
    members = [MLPClassifier(5, 8, 3, num_layers=2) for _ in range(2)]
    stack = MLPStack(members)
    params = list(stack.parameters())
    for p in params:
        nn.init.normal_(p)
    before = {n: t.detach().clone() for n, t in stack.tensors().items()}
    opt = stack_optimizer(stack, _adamw())
    assert sum(len(g["params"]) for g in opt.param_groups) == len(params)
    _step_with_zero_gradients(opt, params)
    for n, t in stack.tensors().items():
        factor = 1.0 if n.endswith("bias") else 0.95
        torch.testing.assert_close(t.detach(), before[n] * factor)


def test_default_optimizer_is_adam_with_the_old_numbers(data2: PreparedData) -> None:
    """optim.optimizer=adam is the optimiser graff always used: the same run twice, once
    with the default and once with adam named, gives identical scores; adamw differs."""
    from graff.train import fit_split

    def scores(*extra: str) -> Any:
        cfg = _cfg("model.name=gcn", "optim.epochs=5", "optim.weight_decay=0.05", *extra)
        r = fit_split(cfg, data2, 0)
        return r.val, r.test, [v.sum().item() for v in r.state_dict.values()]

    assert scores() == scores("optim.optimizer=adam")
    assert scores() != scores("optim.optimizer=adamw")


# -- the recipe's search spaces (src/graff/spaces/residual/<model>.yaml) ---------------------------
SPACES = Path(__file__).resolve().parents[2] / "src" / "graff" / "spaces" / "residual"


def _fixed_then(space: Any, key: str, value: Any, model: str) -> RunConfig:
    """The default config of ``model`` with the space's one-choice keys, then ``key=value``."""
    cfg = RunConfig(model=ModelConfig(name=model))
    fixed = {p.key: p.choices[0] for p in space.params if len(p.choices) == 1}
    return space.apply(cfg, {**fixed, key: value}).validate()


@pytest.mark.parametrize("model", sorted(RESIDUAL))
def test_recipe_spaces_hold_only_valid_configs(model: str) -> None:
    import yaml

    from graff.tune import parse_space

    space = parse_space(yaml.safe_load((SPACES / f"{model}.yaml").read_text()), model=None)
    keys = set(space.keys)
    assert {"model.block", "model.num_layers", "model.hidden", "model.norm"} <= keys
    assert {"optim.lr", "optim.weight_decay", "optim.optimizer", "model.dropout"} <= keys
    assert ("model.sep" in keys) == (model == "gat")
    for p in space.params:
        for value in p.candidates():
            cfg = _fixed_then(space, p.key, value, model)
            assert cfg.model.block == "residual" and cfg.optim.optimizer == "adamw"
            assert type(build_model(cfg.model, 4, 2)) is RESIDUAL[model]
    assert 0.0 in {p.key: p.choices for p in space.params}["optim.weight_decay"]


@pytest.mark.parametrize("model", ["mlp", "gcn", "sage", "gat"])
def test_graff_tune_loads_the_recipe_spaces(model: str) -> None:
    """A recipe space fixes model.block=residual, so its model.norm choices are checked with
    it set (checked alone on the plain default, model.norm=layer would be refused); the
    spaces load by file and by their shipped name."""
    from graff.tune import load_space

    by_file = load_space(SPACES / f"{model}.yaml", model)
    by_name = load_space(f"residual/{model}", model)
    assert by_file.to_dict() == by_name.to_dict()
    norms = {p.key: p.choices for p in by_name.params}["model.norm"]
    assert "layer" in norms


def test_a_plain_blocks_parameter_under_the_residual_block_says_how_to_replace_it() -> None:
    """A shipped GAT config keeps GAT's plain parameters (output_heads); switching it to the
    residual block names where the key comes from and how to replace the parameters."""
    with pytest.raises(ConfigError, match=r"model\.block=plain.*model\.params=\{\}"):
        _cfg("model.name=gat", "model.block=residual", "model.params.output_heads=1")
    cfg = _cfg("model.name=gat", "model.block=residual", "model.params.heads=4")
    assert build_model(cfg.model, 4, 2) is not None

"""graff.tune search spaces: the shipped files, the format, and every class of bad space."""

from __future__ import annotations

import optuna
import pytest
import yaml

from graff.nn import W_TYPES
from graff.train.config import ConfigError, RunConfig
from graff.train.models import MODELS
from graff.tune import (
    SearchSpace,
    SpaceError,
    available_spaces,
    default_space,
    load_space,
    parse_space,
)

MODEL_NAMES = tuple(MODELS)  # the registered models


def test_every_registered_model_has_a_shipped_space():
    assert available_spaces() == sorted(MODEL_NAMES)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_shipped_space_samples_valid_configs(model):
    space = default_space(model)
    assert space.model == model and space.source == f"graff/spaces/{model}.yaml"
    keys = space.keys
    assert "optim.weight_decay" in keys and "optim.lr" in keys  # every model: its decay
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    base = RunConfig()
    base.model.name = model
    for _ in range(4):
        values = space.sample(study.ask())
        cfg = space.apply(base, values).validate()
        for key, value in values.items():
            section, _, rest = key.partition(".")
            if rest.startswith("params."):
                assert cfg.model.params[rest.split(".", 1)[1]] == value
            else:
                assert getattr(getattr(cfg, section), rest) == value
    assert base.model.params == {} and base.optim.lr == RunConfig().optim.lr  # unchanged


def test_graff_space_covers_every_w_and_omega_type_and_the_named_knobs():
    space = {p.key: p for p in default_space("graff").params}
    assert set(space["model.w_type"].choices) == set(W_TYPES)
    from graff.nn.parametrisations import OMEGA_TYPES

    assert set(space["model.omega_type"].choices) == set(OMEGA_TYPES)
    for key in (
        "model.T",
        "model.step_size",
        "model.hidden",
        "optim.lr",
        "optim.weight_decay",
        "model.dropout",
        "model.input_dropout",
        "model.encoder_layers",
        "data.normalize_features",
        "model.output_relu",
    ):
        assert key in space, key


@pytest.mark.parametrize("model", ["gcnii", "appnp", "gprgnn", "gat", "h2gcn", "grand"])
def test_baseline_spaces_search_their_own_parameters(model):
    keys = default_space(model).keys
    own = [k for k in keys if k.startswith("model.params.")]
    assert own, f"{model}: no model-specific parameter searched"
    for k in own:
        assert k.split(".", 2)[2] in MODELS[model].parameters()


def test_space_round_trips_through_yaml(tmp_path):
    space = default_space("gcnii")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(space.to_dict()))
    again = load_space(path, "gcnii")
    assert again.to_dict() == space.to_dict() and again.source == str(path)


def test_list_shorthand_and_numeric_strings():
    s = parse_space(
        {"model.hidden": [16, 32], "optim.lr": {"type": "float", "low": "1e-3", "high": 0.1}},
        model="gcn",
    )
    assert s.params[0].type == "categorical" and s.params[0].choices == (16, 32)
    assert s.params[1].low == pytest.approx(1e-3)


BAD = [
    ({"model.widht": [1]}, "unknown config key", "model.widht"),
    ({"optim.lr": {"type": "float", "low": 0.1, "high": 0.01}}, "empty range", "optim.lr"),
    ({"model.hidden": {"type": "categorical", "choices": []}}, "non-empty", "model.hidden"),
    ({"optim.lr": {"type": "float", "low": 0.0, "high": 0.1, "log": True}}, "low > 0", "optim.lr"),
    ({"model.hidden": {"type": "float", "low": 8, "high": 64}}, "integers", "model.hidden"),
    ({"model.w_type": {"type": "int", "low": 0, "high": 2}}, "categorical", "model.w_type"),
    ({"model.w_type": ["dd", "triangular"]}, "triangular", "model.w_type"),
    ({"model.dropout": {"type": "float", "low": 0.0, "high": 1.0}}, "bound 1.0", "model.dropout"),
    ({"optim.lr": {"type": "gaussian", "low": 0, "high": 1}}, "type must be", "optim.lr"),
    ({"optim.lr": {"type": "float", "low": 0.1, "high": 1, "scale": 2}}, "scale", "optim.lr"),
    ({"model.T": {"type": "float", "low": 1, "high": 2, "step": 0.3}}, "multiple", "model.T"),
    ({"model.num_layers": [2, 4]}, "does not use", "model.num_layers"),
    ({"model.params.alpha": [0.1]}, "no parameter", "model.params.alpha"),
    ({"model.params.w_type": ["dd"]}, "typed model field", "model.params.w_type"),
    ({"seed": [0, 1]}, "luck", "seed"),
    ({"data.dataset": ["cora"]}, "argument of the search", "data.dataset"),
    ({"model.hidden": {"type": "int", "low": 8.5, "high": 64}}, "integer", "model.hidden"),
    ({"model.hidden": ["a", "b"]}, "choice", "model.hidden"),
    ({"optim.lr": 0.01}, "expected a mapping", "optim.lr"),
    ({"optim.lr": {"low": 0.001, "high": 0.1}}, "{type: float, low: 0.001, high: 0.1}", "optim.lr"),
    ({"model.hidden": {"low": 8, "high": 64}}, "{type: int, low: 8, high: 64}", "model.hidden"),
    ({"model.hidden": {"choices": [8, 16]}}, "{type: categorical, choices: [8, 16]}", "hidden"),
]


@pytest.mark.parametrize(("raw", "says", "key"), BAD, ids=[b[2] + ":" + b[1] for b in BAD])
def test_bad_space_names_file_key_and_problem(tmp_path, raw, says, key):
    path = tmp_path / "myspace.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SpaceError) as info:
        load_space(path, "graff")
    msg = str(info.value)
    assert str(path) in msg and key in msg and says in msg, msg
    assert isinstance(info.value, ConfigError)


@pytest.mark.parametrize(
    ("text", "says"),
    [("", "empty"), ("[1, 2]", "mapping"), ("a: [", "not valid YAML")],
)
def test_bad_space_files(tmp_path, text, says):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(SpaceError, match=says):
        load_space(path, "graff")


def test_missing_space_file_and_unknown_model(tmp_path):
    with pytest.raises(SpaceError, match="does not exist"):
        load_space(tmp_path / "nope.yaml")
    with pytest.raises(SpaceError, match="no shipped search space"):
        default_space("transformer")


def test_structure_only_check_then_model_check():
    s = parse_space({"model.params.alpha": {"type": "float", "low": 0.1, "high": 0.5}})
    assert isinstance(s, SearchSpace) and s.model is None
    assert s.check("appnp").model == "appnp"
    with pytest.raises(SpaceError, match="no parameter 'alpha'"):
        s.check("graff")


def test_contains_matches_what_the_distribution_can_draw():
    from graff.tune import SpaceParam

    cat = SpaceParam("model.hidden", "categorical", choices=(32, 64))
    assert cat.contains(64) and cat.contains(64.0) and not cat.contains(48)
    flag = SpaceParam("model.output_relu", "categorical", choices=(False, True))
    assert flag.contains(True) and not flag.contains(1)  # a bool is not a number here
    grid = SpaceParam("model.T", "float", low=1.0, high=3.0, step=0.5)
    assert grid.contains(2.5) and not grid.contains(2.2) and not grid.contains(3.5)
    ints = SpaceParam("model.encoder_layers", "int", low=0, high=2)
    assert ints.contains(2) and not ints.contains(1.5) and not ints.contains(True)
    lr = SpaceParam("optim.lr", "float", low=1e-4, high=2e-2, log=True)
    assert lr.contains(1e-4) and not lr.contains(0.5) and not lr.contains("0.01")


def test_a_space_key_given_twice_is_refused(tmp_path):
    """YAML would keep the last of two equal keys: a space must not lose a range that way."""
    path = tmp_path / "space.yaml"
    path.write_text(
        "optim.lr: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}\n"
        "optim.lr: {type: float, low: 1.0e-4, high: 1.0e-3, log: true}\n"
    )
    with pytest.raises(SpaceError, match=r"'optim\.lr' appears twice"):
        load_space(path, "graff")


def test_a_shipped_space_by_name(tmp_path, monkeypatch):
    """--space takes a shipped space's name (graff/spaces/<name>.yaml) where no such file is in
    the working folder; an unknown name lists the shipped ones."""
    monkeypatch.chdir(tmp_path)
    assert load_space("residual/gcn", "gcn").source == "graff/spaces/residual/gcn.yaml"
    assert load_space("gcn", "gcn").to_dict() == default_space("gcn").to_dict()
    with pytest.raises(SpaceError, match="residual/gcn"):
        load_space("residual/nope", "gcn")


def test_a_residual_config_is_searched_in_its_recipe_space():
    """With no space named, a config of model.block=residual gets residual/<model>.yaml where
    one is shipped (the plain space's keys, e.g. GAT's attention_dropout, are not its own)."""
    for model in ("gcn", "sage", "gat", "mlp"):
        space = default_space(model, "residual")
        assert space.source == f"graff/spaces/residual/{model}.yaml"
        assert space.to_dict() == load_space(f"residual/{model}", model).to_dict()
    assert default_space("gcn", "plain").source == "graff/spaces/gcn.yaml"
    assert default_space("gcnii", "residual").source == "graff/spaces/gcnii.yaml"  # none shipped


def test_a_space_that_cannot_run_on_the_base_config_is_refused():
    base = RunConfig()
    base.model.name, base.model.params = "gat", {"output_heads": 1}  # a plain-block parameter
    space = load_space("residual/gat", "gat")  # fixes model.block: residual
    with pytest.raises(SpaceError, match=r"on top of the base config \(mine\).*output_heads"):
        space.check_base(base, "mine")
    base.model.params = {}
    space.check_base(base, "mine")
    plain = default_space("gat")  # attention_dropout is a parameter of the plain GAT only
    base.model.block = "residual"
    with pytest.raises(SpaceError, match=r"model\.params\.attention_dropout"):
        plain.check_base(base, "mine")


def test_row_normalisation_leaves_the_space_of_a_graph_with_signed_features():
    """Row normalisation refuses negative features: a search drawing it on such a graph
    failed in half its trials (each counted). The space drops it there, and only there."""
    import torch

    space = default_space("graff")
    assert "data.normalize_features" in space.keys
    kept, note = space.for_features(torch.rand(5, 3))  # non-negative: searched as before
    assert kept is space and note is None
    signed = torch.rand(5, 3)
    signed[2, 1] = -0.5
    dropped, note = space.for_features(signed)
    assert note is not None and "negative entries" in note
    assert dropped.keys == [k for k in space.keys if k != "data.normalize_features"]
    assert dropped.source == space.source and dropped.model == space.model
    only_false = parse_space({"data.normalize_features": [False], "model.hidden": [8]})
    assert only_false.for_features(signed) == (only_false, None)  # nothing to drop

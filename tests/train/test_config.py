"""Tests of graff.train.config: defaults, YAML files, ``key=value`` overrides and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from graff.nn.parametrisations import W_TYPES
from graff.train.config import (
    ConfigError,
    RunConfig,
    apply_overrides,
    config_from_dict,
    config_identity,
    config_to_dict,
    keys_for_option,
    load_config,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO_ROOT / "src" / "graff" / "configs" / "graff").glob("*.yaml"))


def _override(*items: str) -> RunConfig:
    return apply_overrides(RunConfig(), list(items))


# -- defaults and YAML ------------------------------------------------------------------------
def test_defaults_validate() -> None:
    """The default config is valid and validate() returns the config itself."""
    cfg = RunConfig()
    assert cfg.validate() is cfg
    assert cfg.model.name == "graff"
    assert cfg.data.splits is None


def test_load_yaml(tmp_path: Path) -> None:
    """A YAML file sets the keys it names and keeps the defaults for the others."""
    path = tmp_path / "c.yaml"
    path.write_text(
        "provenance: a test\n"
        "data: {dataset: texas, normalize_features: true, splits: [0, 2]}\n"
        "model: {hidden: 16, w_type: sum, T: 2, step_size: 0.25}\n"
        "optim: {lr: 0.01, epochs: 7, patience: 3}\n"
        "seed: 5\n"
    )
    cfg = load_config(path).validate()
    assert cfg.provenance == "a test"
    assert cfg.data.dataset == "texas"
    assert cfg.data.normalize_features is True
    assert cfg.data.splits == [0, 2]
    assert cfg.model.hidden == 16
    assert cfg.model.w_type == "sum"
    assert cfg.model.T == 2.0 and isinstance(cfg.model.T, float)
    assert cfg.model.step_size == 0.25
    assert cfg.optim.lr == 0.01
    assert cfg.optim.epochs == 7
    assert cfg.optim.patience == 3
    assert cfg.seed == 5
    # untouched keys keep their defaults
    default = RunConfig()
    assert cfg.model.omega_type == default.model.omega_type
    assert cfg.optim.weight_decay == default.optim.weight_decay


def test_empty_yaml_is_defaults(tmp_path: Path) -> None:
    """An empty YAML file gives the default config."""
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert config_to_dict(load_config(path)) == config_to_dict(RunConfig())


def test_config_dict_roundtrip() -> None:
    """config_to_dict followed by config_from_dict reproduces the same config."""
    cfg = _override("model.hidden=12", "data.splits=[1,3]", "data.params.homophily=0.4", "seed=3")
    again = config_from_dict(config_to_dict(cfg))
    assert config_to_dict(again) == config_to_dict(cfg)


@pytest.mark.parametrize("model", ["gcn", "mlp", "graff", "grand"])
def test_config_for_file_keeps_what_the_model_reads(model: str) -> None:
    """A written config names only its model's fields, and reads back to the same model."""
    from graff.train.models import build_model, config_for_file, spec_for

    cfg = _override(f"model.name={model}", "model.hidden=12", "model.dropout=0.3")
    record = config_for_file(config_to_dict(cfg))
    section = record["model"]
    # the plain build's fields: no block, norm or ffn_multiplier (the residual build's)
    assert set(section) - {"name", "hidden", "params", "max_steps"} == set(
        spec_for(cfg.model).arguments
    )
    assert "block" not in section and "norm" not in section
    assert ("w_type" in section) == model.startswith("graff")
    assert ("max_steps" in section) == model.startswith("graff")
    again = config_from_dict(record)
    assert {k: getattr(again.model, k) for k in section} == section
    assert again.optim == cfg.optim and again.data == cfg.data
    a, b = build_model(cfg.model, 5, 3), build_model(again.model, 5, 3)
    assert [p.shape for p in a.parameters()] == [p.shape for p in b.parameters()]


# -- overrides ----------------------------------------------------------------------------------
def test_override_dotted_key() -> None:
    """``model.hidden=32`` sets an int."""
    cfg = _override("model.hidden=32")
    assert cfg.model.hidden == 32 and isinstance(cfg.model.hidden, int)


def test_override_short_key() -> None:
    """A key without a section resolves to its unique owner (``lr`` → optim.lr)."""
    cfg = _override("lr=0.01", "hidden=24", "epochs=9")
    assert cfg.optim.lr == 0.01
    assert cfg.model.hidden == 24
    assert cfg.optim.epochs == 9


def test_override_top_level_keys() -> None:
    """``seed`` and ``provenance`` are top-level keys."""
    cfg = _override("seed=7", "provenance=hello world")
    assert cfg.seed == 7
    assert cfg.provenance == "hello world"


def test_override_yaml_values() -> None:
    """Override values are parsed as YAML: lists, booleans, floats, null."""
    cfg = _override(
        "data.splits=[0,1]",
        "model.output_relu=true",
        "model.step_size=0.5",
        "optim.patience=null",
        "data.normalize_features=True",
    )
    assert cfg.data.splits == [0, 1]
    assert cfg.model.output_relu is True
    assert cfg.model.step_size == 0.5
    assert cfg.optim.patience is None
    assert cfg.data.normalize_features is True
    cfg.validate()


def test_override_float_key_accepts_int() -> None:
    """An integer for a float key becomes a float (``model.T=2``)."""
    cfg = _override("model.T=2")
    assert cfg.model.T == 2.0 and isinstance(cfg.model.T, float)


def test_override_scientific_notation() -> None:
    """Numbers in scientific notation without a dot (``1e-3``) are numbers, not strings.

    PyYAML (YAML 1.1) reads ``1e-3`` as a string; a learning rate written that way must still be
    accepted as 0.001.
    """
    cfg = _override("optim.lr=1e-3", "optim.weight_decay=5e-4", "model.T=2.5E0")
    assert cfg.optim.lr == pytest.approx(1e-3)
    assert cfg.optim.weight_decay == pytest.approx(5e-4)
    assert cfg.model.T == 2.5


def test_yaml_file_scientific_notation(tmp_path: Path) -> None:
    """A config file may write ``lr: 1e-3`` / ``weight_decay: 5e-4``."""
    path = tmp_path / "c.yaml"
    path.write_text("optim: {lr: 1e-3, weight_decay: 5e-4}\n")
    cfg = load_config(path).validate()
    assert cfg.optim.lr == pytest.approx(1e-3)
    assert cfg.optim.weight_decay == pytest.approx(5e-4)


def test_override_dataset_params() -> None:
    """``data.params.NAME=value`` sets a dataset parameter with a YAML-parsed value."""
    cfg = _override("data.params.homophily=0.3", "data.params.num_nodes=150")
    assert cfg.data.params == {"homophily": 0.3, "num_nodes": 150}


def test_override_later_wins() -> None:
    """Overrides apply in order: the last value of a key wins."""
    cfg = _override("model.hidden=8", "model.hidden=40")
    assert cfg.model.hidden == 40


# -- errors -------------------------------------------------------------------------------------
def test_unknown_key_suggests_close_match() -> None:
    """A misspelt key is an error that names it and suggests the right one."""
    with pytest.raises(ConfigError, match=r"model\.hiden") as err:
        _override("model.hiden=32")
    assert "model.hidden" in str(err.value)
    assert "Did you mean" in str(err.value)


def test_a_models_keyword_outside_params_names_model_params() -> None:
    """--set model.heads=4 (GAT's keyword, kept under model.params) was answered with near
    keys (model.beta, model.sep, ...) instead of the key to set."""
    with pytest.raises(ConfigError, match=r"heads is a parameter of model\(s\) .*gat.*"):
        _override("model.heads=4")
    with pytest.raises(ConfigError) as err:
        _override("model.heads=4")
    assert "model.params.heads=VALUE" in str(err.value) and "gt" in str(err.value)
    with pytest.raises(ConfigError, match="Did you mean"):  # not a keyword of any model
        _override("optim.heads=4")


def test_unknown_key_in_yaml(tmp_path: Path) -> None:
    """An unknown key in a YAML file is an error naming it."""
    path = tmp_path / "c.yaml"
    path.write_text("optim: {learning_rate: 0.1}\n")
    with pytest.raises(ConfigError, match=r"optim\.learning_rate"):
        load_config(path)


def test_unknown_section() -> None:
    """An unknown section (override or YAML) is an error naming it."""
    with pytest.raises(ConfigError, match=r"trainer\.lr"):
        _override("trainer.lr=0.1")
    with pytest.raises(ConfigError, match="trainer"):
        config_from_dict({"trainer": {"lr": 0.1}})


def test_a_section_set_as_a_key_lists_its_keys() -> None:
    """``model=3`` sets a section: the error says so and lists the section's keys."""
    with pytest.raises(ConfigError, match=r"'optim' is a section of the config, not a key") as e:
        _override("optim=3")
    assert "optim.lr" in str(e.value) and "model.hidden" not in str(e.value)


@pytest.mark.parametrize(
    ("option", "keys", "exact"),
    [
        ("--epochs", ["optim.epochs"], True),
        ("--step-size", ["model.step_size"], True),
        ("--split", ["data.splits"], False),
        ("--layers", ["model.encoder_layers", "model.num_layers"], False),
        ("--heads", ["model.params.heads"], True),
        ("--xyzzy", [], False),
    ],
)
def test_keys_for_option(option: str, keys: list[str], exact: bool) -> None:
    """The config keys a command-line option is likely to mean (the CLI's hint for an unknown
    option), from the typed fields and the registered models' own keywords."""
    assert keys_for_option(option) == (keys, exact)


def test_overrides_given_as_one_string_are_named() -> None:
    """A string where the list of overrides belongs (iterated, it said "override 'o' is not of
    the form key=value")."""
    with pytest.raises(ConfigError, match=r"one string 'optim\.epochs=3': pass \['optim"):
        apply_overrides(RunConfig(), "optim.epochs=3")  # type: ignore[arg-type]


def test_unknown_short_key() -> None:
    """A short key that no section owns is an error naming it."""
    with pytest.raises(ConfigError, match="nonsense"):
        _override("nonsense=1")


@pytest.mark.parametrize(
    ("item", "key"),
    [
        ("model.hidden=abc", "model.hidden"),
        ("model.hidden=1.5", "model.hidden"),
        ("model.hidden=true", "model.hidden"),
        ("model.T=true", "model.T"),
        ("model.T=abc", "model.T"),
        ("model.output_relu=1", "model.output_relu"),
        ("data.splits=3", "data.splits"),
        ("data.splits=[0,a]", "data.splits"),
        ("data.params=5", "data.params"),
        ("model.hidden=null", "model.hidden"),
        ("seed=x", "seed"),
    ],
)
def test_wrong_type(item: str, key: str) -> None:
    """A value of the wrong type is a ConfigError naming the key."""
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        _override(item)


@pytest.mark.parametrize("item", ["data.splits=3", "data.splits=0,1"])
def test_a_list_key_given_a_scalar_shows_it_in_brackets(item: str) -> None:
    value = item.partition("=")[2]
    with pytest.raises(ConfigError, match=rf"write it in brackets: \[{value}\]"):
        _override(item)


@pytest.mark.parametrize(
    ("section", "name", "value", "expected"),
    [
        ("model", "hidden", "64", "an integer"),
        ("model", "T", "long", "a number"),
        ("model", "nonlinear", 1, "true or false"),
        ("optim", "epochs", None, "may not be null"),
        ("data", "splits", 3, "list"),
        (None, "seed", 1.5, "an integer"),
    ],
)
def test_a_config_changed_in_python_is_type_checked(
    section: str | None, name: str, value: object, expected: str
) -> None:
    """Fields set in Python (no YAML reader coerced them) are checked against their
    annotation by validate(), as --set and config files are: a ConfigError naming the key,
    not a TypeError from deep inside a check or the model."""
    cfg = RunConfig()
    setattr(cfg if section is None else getattr(cfg, section), name, value)
    key = name if section is None else f"{section}.{name}"
    with pytest.raises(ConfigError, match=rf"{key.replace('.', chr(92) + '.')}.*{expected}"):
        cfg.validate()


def test_numpy_numbers_are_numbers() -> None:
    np = pytest.importorskip("numpy")
    cfg = RunConfig()
    cfg.model.hidden, cfg.optim.lr = np.int64(32), np.float32(0.01)
    assert cfg.validate() is cfg
    assert _override("model.hidden=32").model.hidden == 32


def test_a_section_replaced_by_something_else_is_named() -> None:
    cfg = RunConfig()
    cfg.model = {"hidden": 64}  # type: ignore[assignment]
    with pytest.raises(ConfigError, match="section 'model' must be a ModelConfig, got dict"):
        cfg.validate()


@pytest.mark.parametrize(
    ("item", "key"),
    [
        ("model.step_size=0", "model.step_size"),
        ("model.step_size=-0.5", "model.step_size"),
        ("model.T=-1", "model.T"),
        ("model.T=0", "model.T"),
        ("model.hidden=0", "model.hidden"),
        ("model.dropout=1", "model.dropout"),
        ("model.dropout=1.5", "model.dropout"),
        ("model.input_dropout=-0.1", "model.input_dropout"),
        ("model.name=gcnn", "model.name"),
        ("model.omega_type=foo", "model.omega_type"),
        ("optim.lr=0", "optim.lr"),
        ("optim.epochs=0", "optim.epochs"),
        ("optim.weight_decay=-1", "optim.weight_decay"),
        ("optim.patience=0", "optim.patience"),
        ("data.splits=[-1]", "data.splits"),
    ],
)
def test_out_of_range(item: str, key: str) -> None:
    """A value out of range is accepted by the override but rejected by validate(), by key."""
    cfg = _override(item)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        cfg.validate()


def test_dropout_just_below_one_is_valid() -> None:
    """Dropout 0.99 is a valid probability (the bound is exclusive only at 1)."""
    cfg = _override("model.dropout=0.99", "model.input_dropout=0").validate()
    assert (cfg.model.dropout, cfg.model.input_dropout) == (0.99, 0.0)


def test_unknown_w_type_lists_valid_ones() -> None:
    """An unknown W type names model.w_type and lists every valid type."""
    cfg = _override("model.w_type=foo")
    with pytest.raises(ConfigError, match=r"model\.w_type") as err:
        cfg.validate()
    msg = str(err.value)
    assert "foo" in msg
    for name in W_TYPES:
        assert name in msg


@pytest.mark.parametrize(
    ("item", "guess"),
    [
        ("model.w_type=DD", "'dd'"),  # another case
        ("model.omega_type=Zero", "'zero'"),
        ("model.name=GCN", "'gcn'"),
        ("model.norm=LayerNorm", "'layer'"),
        ("model.norm=group", None),  # nothing close: the list only
        ("optim.optimizer=adam_w", "'adamw'"),  # a close spelling
        ("optim.precision=bf-16", "'bf16'"),
        ("model.block=residuals", "'residual'"),
    ],
)
def test_a_choice_in_other_case_or_misspelt_is_guessed(item: str, guess: str | None) -> None:
    """A named choice (W type, model, norm, optimizer, ...) in capitals or misspelt listed the
    valid ones without pointing at the one meant."""
    with pytest.raises(ConfigError, match=r"is invalid.*expected one of") as err:
        _override(item).validate()
    said = str(err.value)
    assert (f"did you mean {guess}?" in said) if guess else ("did you mean" not in said)


@pytest.mark.parametrize("item", ["model.hidden", "", "=3", "lr 0.01"])
def test_malformed_override(item: str) -> None:
    """An override without ``key=`` is an error quoting it."""
    with pytest.raises(ConfigError, match="key=value"):
        _override(item)


def test_missing_config_file(tmp_path: Path) -> None:
    """A config file that does not exist is a ConfigError naming the path."""
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        load_config(path)


def test_invalid_yaml(tmp_path: Path) -> None:
    """A file that is not YAML is a ConfigError saying so, not a yaml exception."""
    path = tmp_path / "bad.yaml"
    path.write_text("model: {hidden: 3\n  - [oops\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_yaml_not_a_mapping(tmp_path: Path) -> None:
    """A YAML list or a non-mapping section is a ConfigError."""
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=r"list\.yaml holds a YAML list .*mapping of sections"):
        load_config(path)
    path.write_text("texas\n")  # a dataset name where a file belongs
    with pytest.raises(ConfigError, match=r"holds a YAML str \('texas'\).*graff/configs"):
        load_config(path)
    path.write_text("model: 3\n")
    with pytest.raises(ConfigError, match="model"):
        load_config(path)


# -- shipped configs -----------------------------------------------------------------------------
def test_shipped_configs_exist() -> None:
    """The repository ships a GRAFF config per paper dataset."""
    names = {p.stem for p in SHIPPED}
    assert {"texas", "wisconsin", "cornell", "film", "squirrel", "chameleon"} <= names
    assert {"citeseer", "pubmed", "cora"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_config_valid(path: Path) -> None:
    """Each shipped config loads, validates, has a provenance and names its own dataset."""
    cfg = load_config(path).validate()
    assert cfg.provenance.strip()
    assert cfg.data.dataset == path.stem
    assert cfg.model.name == "graff"


@pytest.mark.parametrize(
    "item",
    [
        "model.T=.inf",
        "model.step_size=.nan",
        "optim.weight_decay=.inf",
        "optim.lr=-.inf",
        "optim.lr=1e999",
    ],
)
def test_non_finite_numbers_are_refused_by_the_override(item: str) -> None:
    """inf/nan never reach a run (weight_decay=inf used to crash the divergence report)."""
    key = item.split("=")[0]
    with pytest.raises(ConfigError, match=key.replace(".", r"\.") + ".*finite"):
        _override(item)


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ("seed=18446744073709551616", r"seed.*\[0, "),
        ("seed=-1", r"seed"),
        ("data.splits=[0,0]", r"data\.splits.*repeated: \[0\]"),
        ("data.splits=[]", r"data\.splits.*non-empty"),
        ("model.T=1000000", r"1000000 Euler steps.*model\.max_steps"),
    ],
)
def test_validation_refuses_meaningless_runs(item: str, match: str) -> None:
    cfg = _override(item)
    with pytest.raises(ConfigError, match=match):
        cfg.validate()


def test_max_steps_can_be_raised() -> None:
    cfg = _override("model.T=20000", "model.max_steps=20000")
    assert cfg.validate().model.max_steps == 20000


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("model:\n  hidden: 8\noptim:\n  lr: 0.1\nmodel:\n  T: 2.0\n", "'model'"),
        ("model:\n  hidden: 8\n  hidden: 16\n", "'hidden'"),
        ("seed: 1\nseed: 2\n", "'seed'"),
    ],
)
def test_a_key_given_twice_is_refused(tmp_path: Path, text: str, key: str) -> None:
    """YAML keeps the last of two equal keys without a word; a config must not lose a
    section that way."""
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"{key} appears twice .*lines"):
        load_config(path)


def test_a_run_directorys_config_yaml_is_a_config(tmp_path: Path) -> None:
    """``--config RUN/config.yaml`` reruns that run's config (the file records the config and
    the versions it ran with)."""
    from graff.train.rundir import RunDir

    cfg = apply_overrides(RunConfig(), ["model.hidden=12", "optim.lr=0.02", "seed=7"])
    cfg.data.dataset = "texas"
    RunDir(tmp_path / "run").open(cfg.validate())
    again = load_config(tmp_path / "run" / "config.yaml")
    assert config_to_dict(again) == config_to_dict(cfg)


def test_a_finished_runs_summary_json_is_a_config(tmp_path: Path) -> None:
    """``--config RUN/summary.json`` (JSON is YAML) is the config that run used, too: it
    said "unknown config key 'dataset'"."""
    from graff.data import csbm
    from graff.train import run

    cfg = apply_overrides(RunConfig(), ["model.hidden=4", "optim.epochs=2", "seed=3"])
    cfg.data.params = {"num_nodes": 60, "num_splits": 1}
    run(cfg.validate(), csbm(num_nodes=60, num_splits=1), tmp_path / "run")
    again = load_config(tmp_path / "run" / "summary.json")
    assert config_identity(again) == config_identity(cfg)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("model: {hidden: 8}\n---\nmodel: {hidden: 9}\n", "more than one YAML document"),
        ("model:\n  hidden: [1\n", "line 3"),
        ("model:\n\thidden: 3\n", "line 2, column 1"),
    ],
)
def test_yaml_errors_are_one_line(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        load_config(path)
    assert where in str(info.value) and "\n" not in str(info.value)


def test_a_record_from_before_a_key_existed_is_the_same_config() -> None:
    """A run or study recorded before a config key was added (its record lacks the key)
    compares equal to the config with that key at its default, so finished runs are reused."""
    from graff.train.config import config_identity

    cfg = apply_overrides(RunConfig(), ["model.hidden=12"])
    old = config_to_dict(cfg)
    del old["model"]["block"], old["optim"]["optimizer"]  # keys added later
    assert config_identity(old) == config_identity(cfg)
    old["model"]["hidden"] = 13
    assert config_identity(old) != config_identity(cfg)
    assert config_identity({"model": {"future_key": 1}}) == {"model": {"future_key": 1}}


def test_a_width_past_any_memory_is_a_config_error_not_a_crash() -> None:
    """hidden 10¹¹ with a full W: building the check model crashed with torch's "Storage
    size calculation overflowed" trace; now one config error naming model.hidden."""
    with pytest.raises(ConfigError, match=r"at hidden 100000000000 has tensors too large.*"):
        _override("model.hidden=100000000000", "model.w_type=sum").validate()
    _override("model.hidden=4096", "model.w_type=sum").validate()


def test_a_name_yaml_read_as_a_number_says_to_quote_it(tmp_path: Path) -> None:
    """``device: 0`` or ``data.dataset: 2024`` in a YAML file: YAML reads a number, and the
    error now says so (it said only "expected a string")."""
    file = tmp_path / "c.yaml"
    file.write_text("device: 0\n")
    with pytest.raises(ConfigError, match=r"YAML read it as a number: quote it"):
        load_config(file)
    file.write_text("data: {dataset: yes}\n")
    with pytest.raises(ConfigError, match=r"YAML read it as a boolean: quote it"):
        load_config(file)
    with pytest.raises(ConfigError, match=r"expected a string$"):
        _override("data.dataset=[1]")


def test_a_mapping_where_a_file_or_a_section_goes_points_to_config_from_dict() -> None:
    """load_config(dict) failed inside pathlib; RunConfig(data={...}) said only "got dict"."""
    with pytest.raises(TypeError, match=r"load_config reads a YAML file.*config_from_dict"):
        load_config({"model": {}})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"must be a DataConfig, got dict; .*config_from_dict"):
        RunConfig(data={"dataset": "texas"}).validate()  # type: ignore[arg-type]
    assert config_from_dict({"data": {"dataset": "texas"}}).data.dataset == "texas"

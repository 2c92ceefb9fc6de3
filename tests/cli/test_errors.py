"""The CLI's error boundary: every expected failure is one plain line, exit 2 (1 for a failed
run), no traceback unless --debug, user text never read as markup, nothing of the user's lost."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from graff import cli
from graff.cli import _render, main
from graff.errors import ConfigError


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_render.out, "_width", 400)
    monkeypatch.setattr(_render.err, "_width", 400)


@pytest.fixture()
def npz(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 90
    y = np.arange(n) % 3
    x = rng.standard_normal((n, 6)).astype(np.float32) + np.eye(3, 6, dtype=np.float32)[y]
    ei = np.stack([rng.integers(0, n, 250), rng.integers(0, n, 250)])
    path = tmp_path / "g.npz"
    np.savez(path, x=x, y=y, edge_index=ei[:, ei[0] != ei[1]])
    return path


def _train(npz: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--dataset", f"npz:{npz}", "--set", "optim.epochs=2", "--set",
            "model.hidden=4", "--set", "data.params.num_splits=2", "--out", str(out),
            "--no-progress", *extra]  # fmt: skip


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    code = main(argv)
    cap = capsys.readouterr()
    text = cap.out + cap.err
    assert "Traceback" not in text
    return code, text


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--set", "seed=18446744073709551616"], "seed"),
        (["--set", "optim.weight_decay=.inf"], "weight_decay"),
        (["--set", "model.T=1000000"], "max_steps"),
        (["--set", "data.splits=[0,0]"], "repeated"),
        (
            ["--device", "cuda:7"] if not torch.cuda.is_available() else ["--device", "cuda:99"],
            "cuda",
        ),
        (["--device", "tpu"], "cpu, cuda"),
    ],
)
def test_bad_options_are_one_clear_line(
    npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], match: str
) -> None:
    code, text = _run(capsys, _train(npz, tmp_path / "run", *extra))
    assert code == 2
    assert text.startswith("error: ") and match in text
    assert not (tmp_path / "run").exists()  # validated before any work


@pytest.mark.parametrize(
    ("override", "hint"), [("dataset=cora", "--dataset cora"), ("model.name=gcn", "--model gcn")]
)
def test_override_renaming_the_dataset_or_model_is_refused(
    capsys: pytest.CaptureFixture[str], override: str, hint: str
) -> None:
    """texas's shipped GRAFF settings must not silently train cora or a GCN."""
    code, text = _run(capsys, ["train", "--dataset", "texas", "--set", override])
    assert code == 2 and hint in text


def test_threads_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--dataset", "texas", "--threads", "-1"])
    assert code == 2
    assert "positive integer" in capsys.readouterr().err


def test_markup_in_user_paths_is_printed_verbatim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path with [/x] and [bold] (rich markup syntax) appears literally in the error."""
    weird = tmp_path / "[/x]" / "[bold]g.npz"
    code, text = _run(capsys, ["train", "--dataset", f"npz:{weird}", "--no-progress"])
    assert code == 2
    assert "[/x]" in text and "[bold]g.npz" in text


def test_binary_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(bytes(range(256)) * 4)
    code, text = _run(capsys, ["train", "--dataset", "texas", "--config", str(cfg)])
    assert code == 2 and "not a text file" in text


def test_out_under_a_file(npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").write_text("x")
    code, text = _run(capsys, _train(npz, tmp_path / "f" / "run"))
    assert code == 2 and "is a file, not a folder" in text


def test_figure_out_under_a_file_is_refused_before_the_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import graff.experiments as experiments

    ran: list[str] = []
    monkeypatch.setattr(experiments, "make_figure", lambda name, opts: ran.append(name))
    (tmp_path / "f").write_text("x")
    code, text = _run(capsys, ["figure", "depth", "--quick", "--out", str(tmp_path / "f" / "x")])
    assert code == 2 and "is a file, not a folder" in text and not ran


def test_disk_full_is_one_line(
    npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from graff.train import rundir

    def full(path: object, data: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(rundir, "atomic_write", full)
    code, text = _run(capsys, _train(npz, tmp_path / "run"))
    assert code == 2
    assert "No space left on device" in text and "free some disk space" in text


def test_debug_shows_the_traceback(npz: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        main([*_train(npz, tmp_path / "run", "--set", "model.hidden=0"), "--debug"])


def test_damaged_checkpoint_in_analyze(
    npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(_train(npz, out)) == 0
    (out / "split_0.pt").write_bytes(b"\x80\x04not a checkpoint")
    code, text = _run(capsys, ["analyze", str(out), "--no-plots"])
    assert code == 2 and "damaged" in text
    assert "weights_only=False" not in text


@pytest.mark.parametrize("victim", ["config.yaml", "summary.json", "split_1.json", "split_1.pt"])
def test_damaged_run_files_are_reported_not_trusted(
    npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], victim: str
) -> None:
    """A finished run with a damaged file is not 'complete': the rerun names the damage and
    --overwrite; a damaged config.yaml makes the folder foreign (left alone)."""
    out = tmp_path / "run"
    assert main(_train(npz, out)) == 0
    (out / victim).write_bytes(b"\xff\xfe garbage {")
    capsys.readouterr()
    code, text = _run(capsys, _train(npz, out))
    assert code == 2
    if victim == "config.yaml":
        assert "not a graff run directory" in text
        assert (out / victim).read_bytes() == b"\xff\xfe garbage {"  # untouched
        return
    assert "damaged" in text and "--overwrite" in text and "already holds a complete" not in text
    code, _ = _run(capsys, [*_train(npz, out), "--overwrite"])
    assert code == 0
    assert json.loads((out / "summary.json").read_text())["n_splits"] == 2


def test_config_that_is_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "best.yaml").write_text("model: {name: graff}\n")
    code, text = _run(capsys, ["train", "--dataset", "texas", "--config", str(tmp_path)])
    assert code == 2 and "is a directory" in text and "best.yaml" in text


def test_data_dir_that_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    code, text = _run(capsys, ["train", "--dataset", "texas", "--data-dir", str(afile),
                               "--out", str(tmp_path / "run"), "--no-progress"])  # fmt: skip
    assert code == 2 and "--data-dir" in text and "not a directory" in text
    # a folder that does not exist: an error, though $GRAFF_DATA (the tests') holds texas
    code, text = _run(capsys, ["train", "--dataset", "texas", "--data-dir", str(tmp_path / "typo"),
                               "--out", str(tmp_path / "run"), "--no-progress"])  # fmt: skip
    assert code == 2 and "--data-dir" in text and "does not exist" in text
    assert not (tmp_path / "run").exists()
    monkeypatch.setenv("GRAFF_DATA", str(afile))
    code, text = _run(capsys, ["train", "--dataset", "texas", "--out", str(tmp_path / "r2")])
    assert code == 2 and "$GRAFF_DATA" in text and "not a directory" in text


def test_split_params_for_a_file_with_masks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that brings its own masks: split parameters would be ignored, so they are an
    error — also when the graph is already in the processed cache."""
    rng = np.random.default_rng(1)
    n = 60
    masks = {m: np.zeros((n, 2), bool) for m in ("train_mask", "val_mask", "test_mask")}
    for k in range(2):
        p = rng.permutation(n)
        for m, idx in zip(masks, (p[:20], p[20:40], p[40:]), strict=True):
            masks[m][idx, k] = True
    path = tmp_path / "m.npz"
    np.savez(path, x=rng.standard_normal((n, 4)).astype(np.float32), y=np.arange(n) % 3,
             edge_index=np.stack([np.arange(n), (np.arange(n) + 1) % n]), **masks)  # fmt: skip
    base = ["train", "--dataset", f"npz:{path}", "--set", "optim.epochs=1", "--no-progress"]
    assert _run(capsys, [*base, "--out", str(tmp_path / "ok")])[0] == 0  # fills the cache
    code, text = _run(capsys, [*base, "--set", "data.params.train_frac=0.5",
                               "--out", str(tmp_path / "bad")])  # fmt: skip
    assert code == 2 and "own train/val/test masks" in text and "train_frac" in text


@pytest.mark.parametrize(
    ("models", "datasets", "match"),
    [("graff", ",,,", "no datasets named"), (",,", "texas", "no models named")],
)
def test_reproduce_with_nothing_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], models: str, datasets: str, match: str
) -> None:
    code, text = _run(capsys, ["reproduce", "--models", models, "--datasets", datasets,
                               "--out", str(tmp_path / "t"), "--no-progress"])  # fmt: skip
    assert code == 2 and match in text


def test_edgeless_graph_message_fits_every_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "e.npz"
    np.savez(path, x=np.ones((20, 3), np.float32), y=np.arange(20) % 2,
             edge_index=np.zeros((2, 0), np.int64))  # fmt: skip
    code, text = _run(capsys, ["train", "--dataset", f"npz:{path}", "--model", "mlp",
                               "--out", str(tmp_path / "r")])  # fmt: skip
    assert code == 2 and "no edges" in text and "use an MLP" not in text


def test_json_output_is_clean(
    npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json prints only the JSON on stdout (progress and notes go to stderr)."""
    code = main([*_train(npz, tmp_path / "run"), "--json", "--seed", "3"])
    cap = capsys.readouterr()
    assert code == 0
    payload = json.loads(cap.out)
    assert payload["n_splits"] == 2 and payload["run_dir"] == str(tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert saved["config"]["seed"] == 3


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    import graff

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"graff {graff.__version__}"
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in cli._commands.COMMANDS:
        assert command in text
    assert "texas" in text and "npz:PATH" in text and "gcnii" in text


@pytest.mark.parametrize(
    ("storage", "match"),
    [
        ("foo://bar", "unknown database kind 'foo'"),
        ("postgresql://:::", "is not a database URL"),
        ("mysql://user:secret@db.invalid/graff", "needs a database driver for mysql"),
        ("sqlite:////nonexistent-folder/sub/study.db", "its folder exists"),
        ("postgresql://user:secret@127.0.0.1:1/graff", "check that the server runs"),
        ("{tmp}", "is a folder; a journal storage is a file"),
    ],
)
def test_tune_bad_storage_is_one_line_before_the_data_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], storage: str, match: str
) -> None:
    storage = storage.format(tmp=tmp_path)
    argv = ["tune", "--dataset", "npz:/nonexistent/graph.npz", "--trials", "1", "--storage",
            storage, "--out", str(tmp_path / "out"), "--no-progress"]  # fmt: skip
    code, text = _run(capsys, argv)
    assert code == 2 and text.startswith("error: ") and match in text, text
    assert "secret" not in text  # the password is never printed


@pytest.mark.parametrize("option", ["--threads", "--jobs", "tune --jobs"])
def test_huge_worker_counts_are_one_line(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A thread or process count beyond what a machine can use (torch overflows or crashes
    on it) is refused by the parser, naming the limit."""
    command = {
        "--threads": ["train", "--dataset", "texas"],
        "--jobs": ["reproduce"],
        "tune --jobs": ["tune", "--dataset", "texas"],
    }[option]
    option = option.split()[-1]
    code, text = _run(capsys, [*command, option, "99999999999999999999"])
    assert code == 2
    assert "more than this machine can use" in text and "cores" in text


def test_emoji_codes_in_user_names_are_printed_verbatim(
    npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """rich turns ``:cat:`` into an emoji unless told not to; a dataset named so keeps it."""
    named = tmp_path / "g :cat: :smile:.npz"
    named.write_bytes(npz.read_bytes())
    code, text = _run(capsys, _train(named, tmp_path / "run"))
    assert code == 0
    assert "g :cat: :smile:" in text and "\N{CAT FACE}" not in text


def test_data_repairs_are_shown(
    npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the loader changed in a user's graph (self-loops dropped, reverse edges added) is
    printed, not only recorded in summary.json."""
    with np.load(npz) as z:
        arrays = dict(z)
    loops = np.array([[0, 1], [0, 1]])
    arrays["edge_index"] = np.concatenate([arrays["edge_index"], loops], axis=1)
    looped = tmp_path / "looped.npz"
    np.savez(looped, **arrays)
    code, text = _run(capsys, _train(looped, tmp_path / "run"))
    assert code == 0
    assert "data: removed 2 self-loop edges" in text
    assert "data: symmetrised directed edges" in text
    notes = json.loads((tmp_path / "run" / "summary.json").read_text())["notes"]
    assert any("self-loop" in n for n in notes)


def test_a_file_where_a_folder_is_needed_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """EEXIST ("File exists") is explained, not shown bare."""
    err = FileExistsError(errno.EEXIST, "File exists", str(tmp_path / "f"))
    from graff.errors import describe_os_error

    line = describe_os_error(err)
    assert "File exists" in line and "where graff needs a folder" in line


def test_figure_runs_option_is_checked_before_the_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--runs feeds the spectrum figure only, and must be a folder: else the figure would
    train every dataset without a word about the folder it was told to read."""
    out = str(tmp_path / "fig")
    code, text = _run(
        capsys, ["figure", "syn-cora", "--quick", "--runs", str(tmp_path), "--out", out]
    )
    assert code == 2 and "spectrum figure only" in text
    code, text = _run(
        capsys, ["figure", "spectrum", "--runs", str(tmp_path / "typo"), "--out", out]
    )
    assert code == 2 and "is not a folder" in text
    assert not (tmp_path / "fig").exists()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["train", "--split", "0"], ["graff train: unrecognized arguments --split 0",
                                     "--set data.splits=[0]"]),
        (["train", "--splits=0,3"], ["--set data.splits=[0,3]"]),
        (["tune", "--dataset", "texas", "--epochs", "5"], ["graff tune:", "--set optim.epochs=5"]),
        (["train", "--lr", "0.01", "--hidden", "32"], ["--set optim.lr=0.01",
                                                      "--set model.hidden=32"]),
        (["train", "--layers", "3"], ["--set model.encoder_layers=3 or --set model.num_layers=3"]),
        (["train", "--heads", "4"], ["--set model.params.heads=4"]),
        (["train", "--sed", "3"], ["--sed: did you mean --seed?"]),
        (["bench", "--dataset", "cora"], ["graff bench: unrecognized arguments --dataset cora",
                                          "graff bench --help"]),
        (["train", "--outdir", "x"], ["--outdir: did you mean --out?"]),
        (["tune", "--dataset", "texas", "--final", "3"], ["unrecognized argument 3; --final "
                                                         "takes no value"]),
    ],
)  # fmt: skip
def test_an_unknown_option_names_its_command_and_the_key_it_means(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: list[str]
) -> None:
    """An option a command does not take is one line naming the command (argparse printed the
    top-level usage) and, when the option is a config key's name, the --set that sets it."""
    code, text = _run(capsys, argv)
    assert code == 2 and text.startswith("error: ") and "usage:" not in text, text
    for part in says:
        assert part in text, text
    if argv[1] == "--sed":
        assert "--set" not in text.replace("--seed", "")


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["reproduce", "--datasets", ""], "--datasets"),
        (["reproduce", "--models", " "], "--models"),
        (["train", "--dataset", ""], "--dataset"),
        (["tune", "--dataset", "texas", "--study", ""], "--study"),
    ],
)
def test_an_option_given_an_empty_value_is_refused(
    capsys: pytest.CaptureFixture[str], argv: list[str], option: str
) -> None:
    """An empty value (an unset shell variable) read as the option left out would run the
    default: ``reproduce --datasets ""`` started every dataset. One line, before any work."""
    code, text = _run(capsys, argv)
    assert code == 2 and f"error: {option} is given an empty value" in text, text


@pytest.mark.parametrize("trials", ["0", "-3", "2.5"])
def test_tune_trials_must_be_a_positive_integer(
    trials: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--trials 0 drew a progress bar before its error; the parser refuses it first."""
    code, text = _run(capsys, ["tune", "--dataset", "texas", "--trials", trials])
    assert code == 2 and "argument --trials: expected a positive integer" in text
    assert "tune graff on texas" not in text

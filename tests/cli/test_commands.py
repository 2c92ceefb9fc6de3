"""Tests of the ``graff`` command (graff.cli.main, run in-process)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import graff.data
import graff.train
from graff import cli
from graff.cli import (
    _render,  # noqa: F401  (cli._render.out/err are patched)
    main,
)

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "paper" / "REFERENCE.md"


@pytest.fixture(autouse=True)
def _wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Render rich output 250 columns wide so that paths and messages are not wrapped."""
    monkeypatch.setattr(cli._render.out, "_width", 250)
    monkeypatch.setattr(cli._render.err, "_width", 250)


def _output(capsys: pytest.CaptureFixture[str]) -> str:
    cap = capsys.readouterr()
    return cap.out + cap.err


@pytest.fixture()
def npz_graph(tmp_path: Path) -> Path:
    """A small user graph (.npz without masks) with 3 classes."""
    rng = np.random.default_rng(0)
    n, f = 120, 8
    y = np.arange(n) % 3
    x = rng.standard_normal((n, f)) + 2.0 * np.eye(3, f)[y]
    src = rng.integers(0, n, size=300)
    dst = rng.integers(0, n, size=300)
    keep = src != dst
    edge_index = np.stack([src[keep], dst[keep]])
    path = tmp_path / "graph.npz"
    np.savez(path, x=x.astype(np.float32), y=y, edge_index=edge_index)
    return path


def _train_args(npz: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--dataset",
        f"npz:{npz}",
        "--set",
        "optim.epochs=3",
        "--set",
        "model.hidden=8",
        "--set",
        "data.params.num_splits=2",
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]


# -- demo ---------------------------------------------------------------------------------------
def test_demo_runs_on_one_thread_unless_told() -> None:
    """graff demo (and so make demo) picks one torch thread: fast on a busy machine too."""
    from graff.cli._parser import build_parser

    assert build_parser().parse_args(["demo"]).threads == 1
    assert build_parser().parse_args(["demo", "--threads", "2"]).threads == 2
    assert build_parser().parse_args(["train", "--dataset", "texas"]).threads is None


def test_demo_quick(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """``graff demo --quick`` exits 0 and prints a GRAFF row and an MLP row with the scores
    that the runs actually produced (runs are observed through a pass-through spy)."""
    real_run = graff.train.run
    runs: list[tuple[str, Any]] = []

    def spy_run(cfg: Any, *args: Any, **kw: Any) -> Any:
        summary = real_run(cfg, *args, **kw)
        runs.append((cfg.model.name, summary))
        return summary

    monkeypatch.setattr(graff.train, "run", spy_run)
    assert main(["demo", "--quick", "--no-progress"]) == 0
    out = _output(capsys)
    assert "GRAFF (DD)" in out
    assert "MLP" in out
    assert "Traceback" not in out
    assert [name for name, _ in runs] == ["graff", "mlp"]
    for _, s in runs:
        assert len(s.splits) >= 2
        assert f"{s.mean:.2f} ± {s.std:.2f}" in out


# -- train ----------------------------------------------------------------------------------------
def test_train_npz(npz_graph: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``graff train --dataset npz:FILE`` exits 0 and writes a complete run dir (overrides kept)."""
    out = tmp_path / "run"
    assert main(_train_args(npz_graph, out)) == 0
    text = _output(capsys)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"] == "npz:graph"
    assert summary["n_splits"] == 2
    assert summary["config"]["optim"]["epochs"] == 3
    assert summary["config"]["model"]["hidden"] == 8
    assert summary["config"]["data"]["dataset"] == f"npz:{npz_graph}"
    assert all(0 <= t <= 100 for t in summary["test"])
    assert f"{summary['mean']:.2f} ± {summary['std']:.2f}" in text
    assert str(out / "summary.json") in text
    assert "bf16" not in text  # float32 unless asked


def test_train_on_one_split_reports_no_std(
    npz_graph: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One split has no sample std: the line names the split instead of printing ± 0.00."""
    assert main(_train_args(npz_graph, tmp_path / "one", "--set", "data.splits=[1]")) == 0
    text = _output(capsys)
    summary = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert f"{summary['mean']:.2f} % on split 1 (one split: no std)" in text and "±" not in text


def test_train_npz_default_run_dir_is_one_folder(
    npz_graph: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without --out the run directory is runs/<dataset>-<model>-<time> as one folder name:
    the path of an npz: graph does not make a tree of folders (runs/npz:/home/...)."""
    monkeypatch.chdir(tmp_path)
    args = _train_args(npz_graph, tmp_path)
    del args[args.index("--out") : args.index("--out") + 2]
    assert main(args) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert (run_dir / "summary.json").is_file()
    assert run_dir.name.startswith("npz_" + str(npz_graph).strip("/").replace("/", "_"))
    assert run_dir.name.split("-")[-3] == "graff" and f"runs/{run_dir.name}" in _output(capsys)


def test_train_precision_flag_sets_optim_precision(
    npz_graph: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--precision bf16`` trains in mixed precision and records optim.precision; an unknown
    value is refused by argparse, naming the choices."""
    out = tmp_path / "run"
    assert main(_train_args(npz_graph, out, "--precision", "bf16")) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["optim"]["precision"] == "bf16"
    assert all(0 <= t <= 100 for t in summary["test"])
    assert "(± sample std)" in (said := _output(capsys)) and "bf16 mixed precision" in said
    assert main(_train_args(npz_graph, tmp_path / "bad", "--precision", "fp16")) == 2
    assert "choose from 'fp32', 'bf16'" in _output(capsys)


def test_train_precomputed_writes_s_first_then_reuses_it(
    npz_graph: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--mode precomputed --precomputed-dir DIR``: S is written to DIR before training (its
    own progress bar) and the run reuses it; the same run with S in memory gives the same
    scores. ``--precomputed-dir`` in full mode is one clear line."""
    from graff.scale import open_precomputed

    flags = ["--mode", "precomputed", "--set", "model.encoder_layers=0"]
    folder = tmp_path / "S"
    assert (
        main([*_train_args(npz_graph, tmp_path / "a", *flags), "--precomputed-dir", str(folder)])
        == 0
    )
    stored = open_precomputed(folder)
    assert stored.steps >= 1 and len(stored) > 0
    assert main(_train_args(npz_graph, tmp_path / "b", *flags)) == 0
    a, b = (json.loads((tmp_path / r / "summary.json").read_text()) for r in "ab")
    assert a["config"]["optim"]["mode"] == "precomputed"
    assert a["test"] == b["test"] and a["val"] == b["val"]
    capsys.readouterr()
    code = main([*_train_args(npz_graph, tmp_path / "c"), "--precomputed-dir", str(folder)])
    assert code == 2
    err = capsys.readouterr().err
    assert "precomputed propagations is for optim.mode=precomputed" in err
    assert "Traceback" not in err


def test_train_mlp_model_flag(npz_graph: Path, tmp_path: Path) -> None:
    """``--model mlp`` trains the MLP baseline."""
    out = tmp_path / "run"
    assert main([*_train_args(npz_graph, out), "--model", "mlp"]) == 0
    assert json.loads((out / "summary.json").read_text())["model"] == "mlp"


def test_train_config_file(npz_graph: Path, tmp_path: Path) -> None:
    """``--config FILE`` is read, and ``--set`` overrides it."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: {hidden: 4, w_type: sum}\noptim: {epochs: 50, lr: 0.02}\nseed: 3\n")
    out = tmp_path / "run"
    assert main([*_train_args(npz_graph, out), "--config", str(cfg)]) == 0
    saved = json.loads((out / "summary.json").read_text())["config"]
    assert saved["model"]["w_type"] == "sum"
    assert saved["optim"]["lr"] == 0.02
    assert saved["seed"] == 3
    assert saved["optim"]["epochs"] == 3  # --set wins over the file
    assert saved["model"]["hidden"] == 8


def test_train_a_complete_config_needs_no_dataset(
    npz_graph: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``graff train --config best.yaml`` (a search's complete config) takes its graph and
    model from the file; with neither --dataset nor --config, one line says what to give."""
    cfg = tmp_path / "best.yaml"
    cfg.write_text(
        f"data: {{dataset: 'npz:{npz_graph}', params: {{num_splits: 2}}}}\n"
        "model: {name: mlp, hidden: 4}\noptim: {epochs: 2}\n"
    )
    out = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--out", str(out), "--no-progress"]) == 0
    saved = json.loads((out / "summary.json").read_text())
    assert saved["config"]["model"]["name"] == "mlp" and saved["n_splits"] == 2
    _output(capsys)
    assert main(["train", "--no-progress"]) == 2
    assert "--dataset NAME (or npz:PATH), or --config FILE" in _output(capsys)


def test_train_interrupt_then_resume(
    npz_graph: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C during split 1 (splits one at a time) exits 130 and says how to resume; the same
    command then finishes; a third run into the complete dir exits 2 suggesting --overwrite."""
    out = tmp_path / "run"
    real_run = graff.train.run

    def interrupted_run(*args: Any, **kw: Any) -> Any:
        hook = kw["on_epoch"]

        def on_epoch(k: int, e: int, s: dict[str, float]) -> None:
            if k == 1:
                raise KeyboardInterrupt
            hook(k, e, s)

        return real_run(*args, **{**kw, "on_epoch": on_epoch, "batch": 1})

    monkeypatch.setattr(graff.train, "run", interrupted_run)
    assert main(_train_args(npz_graph, out)) == 130
    text = _output(capsys)
    assert "interrupted" in text
    assert str(out) in text
    assert (out / "split_0.json").exists()
    assert not (out / "summary.json").exists()

    monkeypatch.setattr(graff.train, "run", real_run)
    assert main(_train_args(npz_graph, out)) == 0
    assert (out / "summary.json").exists()
    capsys.readouterr()

    assert main(_train_args(npz_graph, out)) == 2
    text = _output(capsys)
    assert "error" in text and "--overwrite" in text
    assert "Traceback" not in text
    assert main([*_train_args(npz_graph, out), "--overwrite"]) == 0


def test_unknown_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown dataset name exits 2 with an error and a suggestion, no traceback, and
    before the config line (a run that will not start announces no config or folder)."""
    code = main(["train", "--dataset", "texsa", "--out", str(tmp_path / "r"), "--no-progress"])
    assert code == 2
    cap = capsys.readouterr()
    assert "unknown dataset 'texsa'. Did you mean 'texas'?" in cap.err
    assert "config:" not in cap.out + cap.err and "Traceback" not in cap.out + cap.err
    assert not (tmp_path / "r").exists()


def test_unknown_config_key(
    npz_graph: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown ``--set`` key exits 2 naming it and the close match; nothing is trained."""
    out = tmp_path / "run"
    assert main([*_train_args(npz_graph, out), "--set", "model.hiden=3"]) == 2
    text = _output(capsys)
    assert "error" in text
    assert "model.hiden" in text and "model.hidden" in text
    assert "Traceback" not in text
    assert not (out / "summary.json").exists()


def test_invalid_config_value(
    npz_graph: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An out-of-range ``--set`` value exits 2 naming the key."""
    assert main([*_train_args(npz_graph, tmp_path / "run"), "--set", "model.step_size=0"]) == 2
    assert "model.step_size" in _output(capsys)


def test_missing_data_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A benchmark whose files are nowhere (and no network) exits 2 naming the missing file."""
    empty = tmp_path / "empty"
    empty.mkdir()
    env_dir = tmp_path / "env-empty"
    env_dir.mkdir()
    monkeypatch.setenv("GRAFF_DATA", str(env_dir))
    monkeypatch.setattr(graff.data._fetch, "network_available", lambda *a, **k: False)
    code = main(
        [
            "train",
            "--dataset",
            "texas",
            "--data-dir",
            str(empty),
            "--set",
            "optim.epochs=1",
            "--out",
            str(tmp_path / "run"),
            "--no-progress",
        ]
    )
    assert code == 2
    text = _output(capsys)
    assert "error" in text
    assert "geom-gcn/new_data/texas/out1_node_feature_label.txt" in text
    assert "--data-dir" in text
    assert "Traceback" not in text
    assert not (tmp_path / "run" / "summary.json").exists()


# -- datasets --------------------------------------------------------------------------------------
def test_datasets_no_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``graff datasets --no-stats`` exits 0 and lists the registered datasets."""
    assert main(["datasets", "--no-stats", "--data-dir", str(tmp_path)]) == 0
    text = _output(capsys)
    for name in ("cora", "squirrel", "syn-cora", "csbm", "texas", "minesweeper"):
        assert name in text


def test_datasets_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``graff datasets --json`` prints valid JSON, one record per dataset, with file presence."""
    monkeypatch.setenv("GRAFF_DATA", str(tmp_path))
    assert main(["datasets", "--no-stats", "--json", "--data-dir", str(tmp_path)]) == 0
    records = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r for r in records}
    assert {"cora", "squirrel", "syn-cora", "csbm"} <= set(by_name)
    assert by_name["csbm"]["present"] is True  # generated, needs no files
    assert by_name["cora"]["present"] is False
    assert "planetoid/ind.cora.x" in by_name["cora"]["missing"]
    assert by_name["minesweeper"]["metric"] == "roc_auc"


def test_datasets_named_or_an_npz_file(
    npz_graph: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``graff datasets NAME ...`` lists only those (aliases resolved, in the order given),
    ``npz:PATH`` measures the user's own graph, an unknown name is one error with the close
    one (``graff datasets texas`` was "unrecognized argument")."""
    args = ["datasets", "--no-stats", "--json", "--data-dir", str(tmp_path)]
    assert main([*args, "Actor", "cora"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["film", "cora"]
    seen: list[str] = []
    recs = graff.data.dataset_records(
        names=["texas"], stats=False, on_record=lambda r: seen.append(r["name"])
    )
    assert seen == ["texas"] == [r["name"] for r in recs]
    assert main(["datasets", "--json", f"npz:{npz_graph}"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert rec["family"] == "npz" and rec["present"] is True
    assert rec["nodes"] == int(np.load(npz_graph)["x"].shape[0]) and rec["num_splits"] >= 1
    assert main([*args, "texsa"]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'texsa'" in err and "Did you mean 'texas'?" in err
    # as graff reproduce --datasets takes them: comma lists and groups, duplicates once
    assert main([*args, "cora,Texas", "texas,extra"]) == 0
    names = [r["name"] for r in json.loads(capsys.readouterr().out)]
    assert names == ["cora", "texas", *graff.data.EXTRA_DATASETS]
    assert main([*args, "cora,texsa"]) == 2
    assert "Did you mean 'texas'?" in capsys.readouterr().err
    assert main([*args, ","]) == 2
    assert "name no dataset" in capsys.readouterr().err


def test_datasets_shows_a_long_npz_path_whole(
    npz_graph: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A table cell wraps instead of ending in "…": the file a row measured stays readable
    (``npz:/work/shared/data/hetero…`` named no file)."""
    deep = tmp_path / ("a_folder_with_a_long_name_" * 3) / "my_graph_file.npz"
    deep.parent.mkdir(parents=True)
    deep.write_bytes(npz_graph.read_bytes())
    assert main(["datasets", "--no-progress", f"npz:{deep}"]) == 0
    text = _output(capsys)
    assert "…" not in text
    cells = "".join(line.split("│")[1].strip() for line in text.splitlines() if "│" in line)
    assert f"npz:{deep}" in cells


# -- reproduce (real data) -------------------------------------------------------------------------
def _paper_texas_best_graff() -> tuple[float, float]:
    """Best GRAFF row for Texas in REFERENCE.md's Table 1, parsed from the file."""
    if not REFERENCE.is_file():
        pytest.skip(f"{REFERENCE} not found")
    best: tuple[float, float] = (-1.0, 0.0)
    for line in REFERENCE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| GRAFF") and "±" in cells[1]:
            mean, std = (float(v) for v in cells[1].split("±"))
            best = max(best, (mean, std))
    assert best[0] > 0
    return best


@pytest.mark.shared_data
def test_reproduce_texas(
    shared_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``graff reproduce --datasets texas`` writes reproduce.md/.csv with the paper's number,
    and a second identical invocation reuses the finished run."""
    paper_mean, paper_std = _paper_texas_best_graff()
    assert (paper_mean, paper_std) == (88.38, 4.53)
    out = tmp_path / "repro"
    args = [
        "reproduce",
        "--datasets",
        "texas",
        "--set",
        "optim.epochs=2",
        "--set",
        "data.splits=[0,1]",
        "--out",
        str(out),
        "--data-dir",
        str(shared_data_dir),
        "--no-progress",
    ]
    assert main(args) == 0
    text = _output(capsys)
    assert "texas" in text
    assert "Every cell ran with --set optim.epochs=2" in text  # said once, under the table
    assert text.count("Every cell ran with") == 1
    md = (out / "reproduce.md").read_text()
    assert "texas" in md and "88.38 ± 4.53" in md and "graff — published" in md
    assert "ran with --set optim.epochs=2 --set data.splits=[0,1]: the shipped configs" in md
    rows = list(csv.DictReader((out / "reproduce.csv").read_text().splitlines()))
    assert len(rows) == 1
    row = rows[0]
    assert (row["model"], row["dataset"], row["metric"]) == ("graff", "texas", "accuracy")
    assert row["w_type"] == "diag"
    assert row["paper_model"] == "GRAFF (DD)"
    assert float(row["paper_mean"]) == paper_mean
    assert float(row["paper_std"]) == paper_std
    summary = json.loads((out / "texas-graff" / "summary.json").read_text())
    assert summary["splits"] == [0, 1]
    assert summary["config"]["optim"]["epochs"] == 2
    from graff.configs import shipped_config
    from graff.train import load_config

    shipped = load_config(shipped_config("graff", "texas"))  # type: ignore[arg-type]
    assert summary["config"]["model"]["hidden"] == shipped.model.hidden  # from the shipped config
    assert summary["config"]["model"]["T"] == shipped.model.T
    assert float(row["mean"]) == pytest.approx(summary["mean"], abs=0.006)
    assert float(row["diff"]) == pytest.approx(summary["mean"] - paper_mean, abs=0.006)
    assert float(row["diff_in_paper_std"]) == pytest.approx(
        abs(summary["mean"] - paper_mean) / paper_std, abs=0.006
    )

    assert main(args) == 0
    text = _output(capsys)
    assert "reusing" in text
    rows2 = list(csv.DictReader((out / "reproduce.csv").read_text().splitlines()))
    assert rows2[0]["mean"] == row["mean"]

    # the same out dir with other settings is refused, not silently reused
    other = [a if a != "optim.epochs=2" else "optim.epochs=3" for a in args]
    assert main(other) == 2
    assert "Traceback" not in _output(capsys)


def test_reproduce_unknown_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``graff reproduce`` of a dataset without a shipped config exits 2 listing the known ones."""
    code = main(["reproduce", "--datasets", "nosuch", "--out", str(tmp_path), "--no-progress"])
    assert code == 2
    text = _output(capsys)
    assert "nosuch" in text and "texas" in text
    # models named twice or ALL in capitals, a graph of one's own: one cell each, or a pointer
    dry = ["reproduce", "--dry-run", "--out", str(tmp_path)]
    assert main([*dry, "--models", "mlp,mlp", "--datasets", "Texas,texas", "--json"]) == 0
    assert [(c["model"], c["dataset"]) for c in json.loads(capsys.readouterr().out)["cells"]] == [
        ("mlp", "texas")
    ]
    assert main([*dry, "--models", "ALL", "--datasets", "texas", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["cells"]) > 10
    assert main([*dry, "--models", "gcn", "--datasets", "npz:g.npz"]) == 2
    assert "graph of your own: train it with `graff train --dataset npz:g.npz" in _output(capsys)


def test_reproduce_unknown_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["reproduce", "--models", "graff,gnn", "--out", str(tmp_path), "--no-progress"])
    assert code == 2
    text = _output(capsys)
    assert "gnn" in text and "gcn" in text


@pytest.mark.shared_data
def test_reproduce_two_models_one_table(
    shared_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--models mlp,gcn on texas and minesweeper: one Markdown table (a row per model and its
    published row) and a CSV line per model × dataset, ROC-AUC marked for minesweeper."""
    out = tmp_path / "repro"
    args = ["reproduce", "--models", "mlp,gcn", "--datasets", "texas,minesweeper"]
    args += ["--set", "optim.epochs=2", "--set", "data.splits=[0]", "--out", str(out)]
    assert main([*args, "--data-dir", str(shared_data_dir), "--no-progress"]) == 0
    rows = list(csv.DictReader((out / "reproduce.csv").read_text().splitlines()))
    assert [(r["model"], r["dataset"]) for r in rows] == [
        ("mlp", "texas"),
        ("mlp", "minesweeper"),
        ("gcn", "texas"),
        ("gcn", "minesweeper"),
    ]
    by = {(r["model"], r["dataset"]): r for r in rows}
    assert by[("gcn", "minesweeper")]["metric"] == "roc_auc"
    assert float(by[("gcn", "minesweeper")]["paper_mean"]) == 89.75  # Platonov et al.
    # the graph-agnostic row: Platonov et al.'s ResNet (an MLP in their residual block)
    assert by[("mlp", "minesweeper")]["paper_model"] == "ResNet"
    assert float(by[("gcn", "texas")]["paper_mean"]) == 55.14
    md = (out / "reproduce.md").read_text().splitlines()
    assert md[0].startswith("| model | texas | minesweeper (ROC-AUC) |")
    assert [line.split("|")[1].strip() for line in md[2:] if line.startswith("|")] == [
        "mlp",
        "mlp — published",
        "gcn",
        "gcn — published",
    ]
    assert md[-1].startswith("Every cell ran with --set optim.epochs=2 --set data.splits=[0]")
    for m in ("mlp", "gcn"):
        for ds in ("texas", "minesweeper"):
            assert (out / f"{ds}-{m}" / "summary.json").is_file()
    # --table-only tabulates what is finished and trains nothing
    _output(capsys)
    only = ["reproduce", "--models", "mlp,sage", "--datasets", "texas", "--table-only"]
    only += ["--set", "optim.epochs=2", "--set", "data.splits=[0]"]  # the finished runs' config
    assert main([*only, "--out", str(out), "--no-progress"]) == 0
    assert "sage/texas" in _output(capsys)
    assert not (out / "texas-sage").exists()
    rows = list(csv.DictReader((out / "reproduce.csv").read_text().splitlines()))
    assert [(r["model"], r["dataset"]) for r in rows] == [("mlp", "texas")]


@pytest.mark.shared_data
def test_reproduce_all_models_leaves_cells_without_a_config_empty(
    shared_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--models all: every model where it has a shipped config (gat_sep and gt_sep only on
    Platonov et al.'s graphs: their texas cells are empty and said so); a model named
    explicitly without a config is still an error."""
    out = tmp_path / "repro"
    fast = ["--set", "optim.epochs=1", "--set", "data.splits=[0]", "--no-progress"]
    common = ["--datasets", "texas", "--data-dir", str(shared_data_dir), *fast, "--out", str(out)]
    assert main(["reproduce", "--models", "mlp", *common]) == 0
    _output(capsys)
    assert main(["reproduce", "--models", "all", "--table-only", *common]) == 0
    text = _output(capsys)
    assert "no shipped config for 2 cells (left empty): gat_sep/texas, gt_sep/texas" in text
    rows = list(csv.DictReader((out / "reproduce.csv").read_text().splitlines()))
    assert [(r["model"], r["dataset"]) for r in rows] == [("mlp", "texas")]
    assert main(["reproduce", "--models", "gat_sep", *common]) == 2
    assert "no shipped config for gat_sep/texas" in _output(capsys)
    # a graph no model has a config for: nothing to reproduce, said in one line (it was an
    # empty table)
    bare = ["--datasets", "roman-empire", "--out", str(out)]
    assert main(["reproduce", "--models", "all", "--dry-run", *bare]) == 2
    text = _output(capsys)
    assert "no model has a shipped config for roman-empire" in text and "graff tune" in text


def test_reproduce_takes_models_as_one_string_and_refuses_no_datasets(tmp_path: Path) -> None:
    """``reproduce(models="gcn")`` iterated the string ("unknown model(s) ['g', 'c', 'n']"),
    and ``datasets=[]`` planned every dataset instead of none."""
    from graff.errors import ConfigError
    from graff.reproduce import plan

    cells, _ = plan("gcn, mlp", "texas", tmp_path)
    assert [(c.model, c.dataset) for c in cells] == [("gcn", "texas"), ("mlp", "texas")]
    for empty in ([], ""):
        with pytest.raises(ConfigError, match="no datasets named"):
            plan(["graff"], empty, tmp_path)


def test_reproduce_refuses_an_override_no_planned_cell_reads(tmp_path: Path) -> None:
    """Overrides reach each cell whose model reads the key (``model.T``: GRAFF's, not GCN's);
    one that no cell reads changed nothing and was silent."""
    from graff.errors import ConfigError
    from graff.reproduce import plan

    cells, _ = plan("gcn,graff", "texas", tmp_path, overrides=["model.T=5"])
    assert [c.config.model.T for c in cells if c.model == "graff"] == [5.0]
    for models in ("gcn", "gcn,mlp"):
        with pytest.raises(ConfigError, match=r"--set T=5 changes none of the planned cells: "):
            plan(models, "texas", tmp_path, overrides=["T=5"])
    cells, _ = plan("gcn", "texas", tmp_path, overrides=["optim.epochs=3", "model.hidden=8"])
    assert (cells[0].config.optim.epochs, cells[0].config.model.hidden) == (3, 8)


@pytest.mark.parametrize(
    ("kwargs", "said"),
    [
        ({"threads": 0}, r"threads must be a positive integer \(None: cores / jobs\), got 0"),
        ({"threads": -2}, r"threads must be a positive integer .* got -2"),
        ({"jobs": "2"}, r"jobs must be a positive integer, got '2'"),
    ],
)
def test_reproduce_refuses_a_bad_count_before_any_cell(
    tmp_path: Path, kwargs: dict[str, Any], said: str
) -> None:
    """``threads=0`` trained with the default thread count (0 read as unset), a negative one
    failed in a worker, and ``jobs="2"`` ended in a comparison's TypeError."""
    from graff.errors import ConfigError
    from graff.reproduce import reproduce

    with pytest.raises(ConfigError, match=said):
        reproduce(["graff"], "texas", tmp_path / "r", **kwargs)
    assert not (tmp_path / "r").exists()


def test_reproduce_on_the_heterophily_graphs_runs_their_whole_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``graff reproduce --datasets minesweeper,tolokers`` plans every model of the heterophily
    table (it planned GRAFF alone, so "every cell of that table" needed --models); elsewhere
    the default stays GRAFF, and the group ``heterophily`` can be named on any graph."""
    from graff.reproduce import HETEROPHILY_MODELS, default_models, plan

    table = list(HETEROPHILY_MODELS)
    assert {"graff", "mlp", "gcn", "sage", "gat", "gat_sep"} <= set(table)
    assert default_models(None) == default_models("texas,minesweeper") == ["graff"]
    assert default_models("Minesweeper,tolokers") == default_models(["extra"]) == table
    cells, unconfigured = plan(None, "minesweeper,tolokers", tmp_path)
    both = {(m, d) for m in table for d in ("minesweeper", "tolokers")}
    assert {(c.model, c.dataset) for c in cells} == both and not unconfigured
    args = ["reproduce", "--dry-run", "--out", str(tmp_path / "r"), "--no-progress"]
    assert main([*args, "--json", "--datasets", "minesweeper,tolokers"]) == 0
    assert {c["model"] for c in json.loads(_output(capsys))["cells"]} == set(table)
    assert main([*args, "--json", "--datasets", "texas"]) == 0
    assert {c["model"] for c in json.loads(_output(capsys))["cells"]} == {"graff"}
    assert main([*args, "--models", "Heterophily", "--datasets", "texas"]) == 0
    assert "no shipped config (left empty): gat_sep/texas" in _output(capsys)
    assert main([*args, "--models", "heterophily,gt", "--datasets", "texas"]) == 2
    said = _output(capsys)
    assert "heterophily is a group of models, named alone" in said and "gat_sep, gcnii" in said
    assert not (tmp_path / "r").exists()


@pytest.mark.shared_data
def test_reproduce_dry_run_says_what_each_cell_would_do_and_trains_nothing(
    shared_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dry-run lists each cell's shipped config and action, read from its run directory:
    train (nothing there), reuse (finished, same config), resume (k splits intact), refused
    (another config's run), and writes nothing."""
    out = tmp_path / "repro"
    fast = ["--set", "optim.epochs=1", "--set", "data.splits=[0,1]", "--no-progress"]
    common = ["--datasets", "texas,cornell", "--data-dir", str(shared_data_dir), *fast]
    common += ["--out", str(out)]

    def dry(*extra: str) -> dict[tuple[str, str], dict[str, Any]]:
        _output(capsys)
        assert (
            main(["reproduce", "--models", "mlp,gcn", "--dry-run", "--json", *common, *extra]) == 0
        )
        cells = json.loads(_output(capsys))["cells"]
        return {(c["model"], c["dataset"]): c for c in cells}

    plan = dry()
    assert {c["action"] for c in plan.values()} == {"train"} and not out.exists()
    assert plan["gcn", "cornell"]["config"] == "gcn/cornell.yaml"
    assert (plan["gcn", "cornell"]["splits"], plan["gcn", "cornell"]["epochs"]) == ("2", 1)
    assert main(["reproduce", "--models", "mlp", *common]) == 0
    (out / "cornell-mlp" / "summary.json").unlink()  # as if stopped after its two splits
    (out / "cornell-mlp" / "split_1.json").unlink()  # ... after its first split
    plan = dry()
    assert plan["mlp", "texas"]["action"] == "reuse the finished run"
    assert plan["mlp", "cornell"]["action"] == "resume (1 splits done)"
    assert plan["gcn", "texas"]["action"] == "train"
    assert dry("--overwrite")["mlp", "texas"]["action"] == "train (--overwrite)"
    other = dry("--set", "model.hidden=8")["mlp", "texas"]["action"]
    assert other.startswith("refused: another config's run")
    assert not (out / "texas-gcn").exists()
    _output(capsys)
    assert main(["reproduce", "--models", "mlp", "--dry-run", *common]) == 0  # a table
    assert "texas-mlp" in _output(capsys)
    assert main(["reproduce", "--models", "MLP,GCN", "--dry-run", *common]) == 0  # any case
    assert "texas-gcn" in _output(capsys)


def test_train_divergence_exits_1(
    npz_graph: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A diverging run (a failed run) exits 1 with the step-size advice, and leaves the run
    incomplete."""
    out = tmp_path / "run"
    extra = ["model.w_type=sum", "model.T=100", "model.step_size=5", "optim.lr=10"]
    args = _train_args(npz_graph, out)
    for item in extra:
        args += ["--set", item]
    assert main(args) == 1
    text = _output(capsys)
    assert "run failed" in text and "step_size" in text
    assert "Traceback" not in text
    assert not (out / "summary.json").exists()


def test_train_csbm_with_params(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--set data.params.*`` reaches the dataset (here the built-in csbm)."""
    out = tmp_path / "run"
    args = ["train", "--dataset", "csbm", "--out", str(out), "--no-progress"]
    for item in (
        "data.params.num_nodes=150",
        "data.params.num_features=8",
        "data.params.num_splits=2",
        "data.params.homophily=0.3",
        "optim.epochs=2",
        "model.hidden=8",
    ):
        args += ["--set", item]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_splits"] == 2
    assert summary["config"]["data"]["params"]["homophily"] == 0.3
    notes = " ".join(summary["notes"])
    assert "N=150" in notes and "h=0.3" in notes


@pytest.mark.shared_data
@pytest.mark.slow  # worker processes (spawned, each importing torch)
def test_reproduce_jobs_matches_sequential(
    shared_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--jobs 2 trains the cells in worker processes: the same numbers as one process, the
    table in --models × --datasets order; a worker's error exits 2 without a traceback."""
    base = ["reproduce", "--models", "graff,mlp", "--datasets", "texas,cornell"]
    base += ["--set", "optim.epochs=3", "--set", "data.splits=[0,1]", "--threads", "1"]
    base += ["--data-dir", str(shared_data_dir), "--no-progress"]
    assert main([*base, "--out", str(tmp_path / "seq")]) == 0
    assert main([*base, "--out", str(tmp_path / "par"), "--jobs", "2"]) == 0
    seq = (tmp_path / "seq" / "reproduce.csv").read_text().splitlines()
    par = (tmp_path / "par" / "reproduce.csv").read_text().splitlines()
    pairs = [tuple(r.split(",")[:2]) for r in par[1:]]
    assert pairs == [("graff", "texas"), ("graff", "cornell"), ("mlp", "texas"), ("mlp", "cornell")]
    col = par[0].split(",").index("mean")
    assert [r.split(",")[col] for r in par] == [r.split(",")[col] for r in seq]
    _output(capsys)
    diverge = ["model.w_type=sum", "model.T=100", "model.step_size=5", "optim.lr=10"]
    bad = [*base, "--out", str(tmp_path / "bad"), "--jobs", "2"]
    for item in diverge:
        bad += ["--set", item]
    assert main(bad) == 1  # the worker's DivergenceError reaches the parent
    text = _output(capsys)
    assert "Traceback" not in text and "non-finite" in text
    assert main([*base, "--out", str(tmp_path / "bad"), "--jobs", "0"]) == 2
    assert "--jobs" in _output(capsys)


def test_estimated_cost_orders_cells() -> None:
    """The scheduling cost grows with the graph, the epochs and the depth."""
    from graff.reproduce import estimated_cost
    from graff.train import RunConfig

    def cost(ds: str, epochs: int = 100, T: float = 3.0) -> float:
        cfg = RunConfig()
        cfg.data.dataset, cfg.optim.epochs, cfg.model.T = ds, epochs, T
        return estimated_cost(cfg)

    assert cost("pubmed") > cost("cora") > cost("texas")
    assert cost("cora", epochs=200) == pytest.approx(2 * cost("cora"))
    assert cost("squirrel", T=6.0) > cost("squirrel", T=3.0)


@pytest.mark.shared_data
def test_dataset_sizes_match_the_loaded_graphs(shared_data_dir: Path) -> None:
    """The scheduling table's (nodes, edges, features) are those of the datasets as loaded."""
    from graff.data import DATASET_SIZES, EXTRA_DATASETS, PAPER_DATASETS

    assert set(DATASET_SIZES) == set(PAPER_DATASETS + EXTRA_DATASETS)
    for name, size in DATASET_SIZES.items():
        g = graff.data.load_dataset(name, shared_data_dir)
        assert (g.num_nodes, g.edge_index.size(1), g.x.size(1)) == size, name


def test_a_batch_the_model_cannot_stack_is_said_not_ignored(
    npz_graph: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--batch 2 for a model without a stacked version (its registry entry's ``unbatched``
    reason) trained one split at a time without a word; a model that stacks says nothing."""
    assert main([*_train_args(npz_graph, tmp_path / "a", "--batch", "2"), "--model", "gcnii"]) == 0
    text = _output(capsys)
    assert "note: --batch 2: gcnii on " in text and "its layers are PyG modules" in text
    assert main([*_train_args(npz_graph, tmp_path / "b", "--batch", "2"), "--model", "gcn"]) == 0
    assert "note: --batch" not in _output(capsys)

"""graff.bench and ``graff bench``: graphs, records and the command line (not speed goals)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from graff import bench, cli
from graff.device import available_devices
from graff.nn.adjacency import normalized_adjacency


def test_synthetic_graph_is_undirected_and_sized_as_asked() -> None:
    g = bench.synthetic_graph(num_nodes=500, degree=4, num_features=16, num_classes=4)
    assert g.x.shape == (500, 16) and g.num_classes == 4
    ei = g.edge_index
    assert not bool((ei[0] == ei[1]).any())
    pairs = set(map(tuple, ei.t().tolist()))
    assert all((b, a) in pairs for a, b in pairs)
    # each node links to its 4 nearest neighbours: between 4n and 8n directed edges
    assert 4 * 500 <= g.num_edges <= 8 * 500


def test_rcm_variant_is_the_same_graph_renumbered() -> None:
    a = bench.synthetic_graph(num_nodes=400, degree=3, num_features=8, num_classes=3)
    b = bench.synthetic_graph(num_nodes=400, degree=3, num_features=8, num_classes=3, order="rcm")
    assert a.num_edges == b.num_edges
    deg = lambda g: torch.bincount(g.edge_index[0], minlength=400).sort().values  # noqa: E731
    assert torch.equal(deg(a), deg(b))
    band = lambda g: int((g.edge_index[0] - g.edge_index[1]).abs().float().mean())  # noqa: E731
    assert band(b) < band(a) / 4  # neighbours end up close in memory
    with pytest.raises(ValueError, match="order"):
        bench.synthetic_graph(num_nodes=10, order="sorted")


def test_models_have_equal_depth_and_width() -> None:
    g = bench.synthetic_graph(num_nodes=200, degree=3, num_features=8, num_classes=3)
    graff, gcn = bench.bench_models(g, depth=5, hidden=16)
    assert len(graff.steps) == 5 and graff.conv.channels == 16
    assert len(gcn.convs) == 5 and gcn.hidden_channels == 16
    with pytest.raises(ValueError, match="depth"):
        bench.bench_models(g, depth=0)


def test_run_bench_records_are_consistent() -> None:
    g = bench.synthetic_graph(num_nodes=300, degree=3, num_features=8, num_classes=3)
    seen: list[bench.BenchRecord] = []
    recs = bench.run_bench([g], [2, 3], repeats=2, hidden=8, on_record=seen.append)
    assert [(r.depth, r.mode) for r in recs] == [
        (2, "inference"),
        (2, "train"),
        (3, "inference"),
        (3, "train"),
    ]
    assert seen == recs
    for r in recs:
        assert r.graff_ms > 0 and r.gcn_ms > 0
        assert r.ratio == pytest.approx(r.graff_ms / r.gcn_ms)
        assert r.nodes == 300 and r.edges == g.num_edges and r.threads == 1


def test_train_step_changes_the_parameters() -> None:
    g = bench.synthetic_graph(num_nodes=200, degree=3, num_features=8, num_classes=3)
    graff, _ = bench.bench_models(g, depth=2, hidden=8)
    before = [p.detach().clone() for p in graff.parameters()]
    bench._step_fn(graff, g.x, g, "train")()
    assert any(not torch.equal(a, b) for a, b in zip(before, graff.parameters(), strict=True))
    with pytest.raises(ValueError, match="mode"):
        bench._step_fn(graff, g.x, g, "sample")


def test_peak_memory_sees_a_large_allocation() -> None:
    peak = bench.peak_memory_mb(lambda: torch.ones(64 << 20, dtype=torch.uint8).add_(1))
    if peak is None:
        pytest.skip("no /proc peak-RSS reset on this system")
    assert 60 <= peak <= 200  # 64 MiB input, one 64 MiB result at most


def test_peak_memory_restores_the_tuned_allocator() -> None:
    """Measuring switches glibc to returning freed memory; a process whose allocator graff
    had tuned (the CLI's) gets the tuning back afterwards."""
    from graff import perf

    assert perf.tune_allocator() is True
    perf.peak_memory_mb(lambda: torch.ones(1 << 20).add_(1))
    assert perf._applied is True


def test_propagation_bandwidth_counts_the_minimal_traffic() -> None:
    g = bench.synthetic_graph(num_nodes=1000, degree=4, num_features=8, num_classes=3)
    rec = bench.propagation_bandwidth(g, hidden=16, repeats=2, machine_gbs=10.0)
    nnz = int(normalized_adjacency(g.edge_index, 1000).values().numel())
    assert rec.nnz == nnz
    assert rec.traffic_mb == pytest.approx((nnz * 12 + 1001 * 8 + 3 * 1000 * 16 * 4) / 1e6)
    assert rec.achieved_gbs == pytest.approx(rec.traffic_mb / 1e3 / (rec.step_ms / 1e3))
    assert rec.fraction == pytest.approx(rec.achieved_gbs / 10.0)


def test_machine_bandwidth_is_plausible() -> None:
    assert 0.1 < bench.machine_bandwidth(megabytes=16, repeats=2) < 1000


@pytest.mark.shared_data
def test_cli_bench_json(
    shared_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    args = ["bench", "--graphs", "cora", "--depths", "2", "--repeats", "1", "--no-memory"]
    assert cli.main([*args, "--json", "--out", str(out), "--data-dir", str(shared_data_dir)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    md = out.with_suffix(".md").read_text()
    assert md.count("| cora | 2,708 |") == 2 and "GRAFF / GCN" in md
    assert {(r["graph"], r["depth"], r["mode"]) for r in printed["records"]} == {
        ("cora", 2, "inference"),
        ("cora", 2, "train"),
    }
    rec = printed["records"][0]
    assert rec["nodes"] == 2708 and rec["ratio"] == pytest.approx(rec["graff_ms"] / rec["gcn_ms"])
    assert printed["environment"]["machine_bandwidth_gbs"] > 0


@pytest.mark.parametrize(
    ("extra", "word"),
    [
        (["--graphs", "arxiv"], "unknown bench graph"),
        (["--depths", "2,x"], "integers"),
        # given but naming nothing: refused, where it once ran the whole default benchmark
        (["--graphs", ",,"], "no graph named"),
        (["--modes", ","], "no mode named"),
        (["--depths", ","], "positive integers"),
    ],
)
def test_cli_bench_bad_request(
    extra: list[str], word: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["bench", "--no-progress", *extra]) == 2
    assert word in capsys.readouterr().err


@pytest.mark.parametrize("device", available_devices())
def test_run_bench_on_each_device_present(device: str) -> None:
    g = bench.synthetic_graph(num_nodes=200, degree=3, num_features=8, num_classes=3)
    (inf, train) = bench.run_bench([g], [2], repeats=1, hidden=8, device=device)
    assert inf.mode == "inference" and train.mode == "train"
    assert inf.graff_ms > 0 and train.gcn_ms > 0
    if torch.device(device).type == "cuda":  # allocated device memory, not the process's RSS
        assert inf.graff_peak_mb is not None and inf.graff_peak_mb >= 0
    rec = bench.propagation_bandwidth(g, hidden=8, repeats=1, machine_gbs=1.0, device=device)
    assert rec.step_ms > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cli_bench_on_cuda_without_a_gpu_is_a_clear_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["bench", "--quick", "--no-progress", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "CUDA is not available here" in err and "Traceback" not in err


def test_cli_bench_checks_out_before_timing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An --out that cannot be written is refused before the benchmark runs, not after."""
    ran: list[bool] = []
    monkeypatch.setattr(bench, "benchmark", lambda *a, **k: ran.append(True) or {})
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder.json").mkdir()
    for out, word in [
        (tmp_path / "file" / "b.json", "Not a directory"),
        (tmp_path / "folder.json", "Is a directory"),
    ]:
        assert cli.main(["bench", "--quick", "--no-progress", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert word in err and "Traceback" not in err and ".probe" not in err
    assert not ran
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder.json"]

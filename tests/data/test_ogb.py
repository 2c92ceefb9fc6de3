"""OGB's ogbn-arxiv and ogbn-products: tiny fake folders and zips in OGB's exact layout, loaded
through the registry with ``data_dir``; never the network, never the real files."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import graff.data._ogb as ogb
from graff import cli
from graff.data import (
    DATASET_SIZES,
    DATASETS,
    DataFileCorruptError,
    DataFileMissingError,
    dataset_files_present,
    dataset_groups,
    dataset_records,
    load_dataset,
)
from graff.data._fetch import manifest
from graff.data._ogb import OGB_DATASETS, OgbSpec, read_table

ARXIV = OGB_DATASETS["ogbn-arxiv"]
PRODUCTS = OGB_DATASETS["ogbn-products"]
N = 8
#: directed edges as OGB would store them: a reverse pair (0,1)/(1,0), a duplicate (2,3) and
#: a self-loop (5,5), so that what the loader does to them is visible
EDGES = [(0, 1), (1, 0), (1, 2), (2, 3), (2, 3), (3, 4), (4, 5), (5, 5), (5, 6), (6, 7), (7, 0)]
LABELS = ["0", "1", "2", "0", "1", "2", "0", "nan"]  # node 7 unlabelled, in no split
SPLIT = {"train": [0, 1, 2, 3], "valid": [4, 6], "test": [5]}


def _features() -> np.ndarray:
    return np.arange(N * 3, dtype=np.float32).reshape(N, 3) / 4 - 1.5


def _gz(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


def write_ogb_folder(folder: Path, spec: OgbSpec, labels: list[str] | None = None) -> Path:
    """OGB's CSV layout of one graph under ``folder`` (the zip's top folder), no headers."""
    _gz(folder / "raw/edge.csv.gz", [f"{u},{v}" for u, v in EDGES])
    _gz(folder / "raw/num-node-list.csv.gz", [str(N)])
    _gz(folder / "raw/num-edge-list.csv.gz", [str(len(EDGES))])
    _gz(folder / "raw/node-feat.csv.gz", [",".join(f"{v:g}" for v in r) for r in _features()])
    _gz(folder / "raw/node-label.csv.gz", labels or LABELS)
    _gz(folder / "raw/node_year.csv.gz", ["2015"] * N)  # present in OGB's arxiv, not read
    for part, ids in SPLIT.items():
        _gz(folder / f"split/{spec.split}/{part}.csv.gz", [str(i) for i in ids])
    return folder


def zip_of(folder: Path, dest: Path) -> Path:
    """A zip with ``folder`` as its top folder, as OGB's zips are."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w") as z:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                z.write(f, f"{folder.name}/{f.relative_to(folder)}")
    return dest


def _user_data(offline: Path) -> Path:
    return offline.parent / "xdg" / "graff" / "data"


def _record(offline: Path, spec: OgbSpec) -> dict:
    return json.loads((_user_data(offline) / "ogb" / f"{spec.folder}.sha256.json").read_text())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_registered_from_master_csv_and_in_no_group() -> None:
    """Name, URL, folder, split and metric as OGB's master.csv gives them; no reproduce group,
    no size for its cost model, nothing in the pinned manifest (no checksum is published)."""
    for name, folder, split, classes, once in (
        ("ogbn-arxiv", "arxiv", "time", 40, False),
        ("ogbn-products", "products", "sales_ranking", 47, True),
    ):
        spec, info = OGB_DATASETS[name], DATASETS[name]
        assert spec.url == f"http://snap.stanford.edu/ogb/data/nodeproppred/{folder}.zip"
        assert (spec.folder, spec.split, spec.num_classes, spec.stored_once) == (
            folder,
            split,
            classes,
            once,
        )
        assert (info.family, info.metric, info.aliases) == ("ogb", "accuracy", (folder,))
        assert info.files == [
            f"ogb/{folder}/raw/edge.csv.gz",
            f"ogb/{folder}/raw/num-node-list.csv.gz",
            f"ogb/{folder}/raw/num-edge-list.csv.gz",
            f"ogb/{folder}/raw/node-feat.csv.gz",
            f"ogb/{folder}/raw/node-label.csv.gz",
            *(f"ogb/{folder}/split/{split}/{p}.csv.gz" for p in ("train", "valid", "test")),
        ]
        assert name not in dataset_groups("all") and name not in DATASET_SIZES
        assert not set(info.files) & set(manifest())
    assert "ogbn-papers100M" not in DATASETS and "papers100M" in (ogb.__doc__ or "")


def test_unzipped_folder_loads_symmetrised_with_ogbs_split(
    offline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_ogb_folder(offline / "ogb" / "arxiv", ARXIV)
    assert dataset_files_present("ogbn-arxiv", offline) == (True, [])
    g = load_dataset("ogbn_arxiv", offline, download=False)
    assert (g.name, g.metric, g.num_nodes, g.num_label_classes) == ("ogbn-arxiv", "accuracy", N, 3)
    assert torch.equal(g.x, torch.from_numpy(_features()))
    assert g.y.tolist() == [0, 1, 2, 0, 1, 2, 0, -1]
    pairs = {(u, v) for u, v in EDGES if u != v}
    assert set(map(tuple, g.edge_index.t().tolist())) == pairs | {(v, u) for u, v in pairs}
    assert g.edge_index.size(1) == 2 * len({(min(p), max(p)) for p in pairs})
    for mask, part in ((g.train_mask, "train"), (g.val_mask, "valid"), (g.test_mask, "test")):
        assert mask.shape == (N, 1)
        assert mask[:, 0].nonzero().flatten().tolist() == SPLIT[part]
    notes = " | ".join(g.notes)
    assert "OGB's fixed 'time' split" in notes and "directed citation edges" in notes
    assert "symmetrised directed edges" in notes and "self-loop" in notes
    assert "1 nodes without a label" in notes
    # the first use is recorded (sha256 of each file read) and said on stderr
    rec = _record(offline, ARXIV)
    folder = offline / "ogb" / "arxiv"
    assert rec["files"]["raw/edge.csv.gz"]["sha256"] == _sha(folder / "raw/edge.csv.gz")
    assert set(rec["files"]) == set(ARXIV.members) and "zip" not in rec
    assert rec["url"] == ARXIV.url and "no checksum" in rec["about"]
    assert "OGB publishes no checksum" in capsys.readouterr().err
    again = load_dataset("arxiv", offline)  # verified against the record, then processed cache
    assert any("processed cache" in n for n in again.notes)
    assert torch.equal(again.edge_index, g.edge_index)
    assert capsys.readouterr().err == ""  # nothing new to record
    assert not any(p.name.endswith(".pt") for p in offline.rglob("*"))  # data dir untouched


def test_products_edges_stored_once_get_both_directions(offline: Path) -> None:
    write_ogb_folder(offline / "ogb" / "products", PRODUCTS)
    g = load_dataset("ogbn-products", offline, download=False)
    assert g.train_mask[:, 0].nonzero().flatten().tolist() == SPLIT["train"]
    assert "'sales_ranking' split" in g.notes[0] and "stored once" in g.notes[0]
    ei = g.edge_index.t().tolist()
    assert all([v, u] in ei for u, v in ei)


def test_zip_in_data_dir_is_extracted_into_the_user_cache(
    offline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zpath = zip_of(write_ogb_folder(tmp_path / "src" / "arxiv", ARXIV), offline / "ogb/arxiv.zip")
    assert dataset_files_present("ogbn-arxiv", offline) == (True, [])
    g = load_dataset("ogbn-arxiv", offline, download=False)
    assert g.num_nodes == N and g.test_mask[:, 0].nonzero().flatten().tolist() == SPLIT["test"]
    extracted = _user_data(offline) / "ogb" / "arxiv"
    assert sorted(str(p.relative_to(extracted)) for p in extracted.rglob("*.gz")) == sorted(
        ARXIV.members
    )  # only the files read (not node_year)
    assert sorted(p.name for p in offline.rglob("*") if p.is_file()) == ["arxiv.zip"]
    rec = _record(offline, ARXIV)
    assert rec["zip"]["sha256"] == _sha(zpath) and rec["zip"]["size"] == zpath.stat().st_size
    assert "extracting 8 files" in capsys.readouterr().err


def test_changed_file_is_refused_until_the_record_is_deleted(offline: Path) -> None:
    folder = write_ogb_folder(offline / "ogb" / "arxiv", ARXIV)
    load_dataset("ogbn-arxiv", offline)
    other = ["1", "1", "2", "0", "1", "2", "0", "0"]
    _gz(folder / "raw/node-label.csv.gz", other)
    with pytest.raises(DataFileCorruptError) as ei:
        load_dataset("ogbn-arxiv", offline)
    msg = str(ei.value)
    record = _user_data(offline) / "ogb" / "arxiv.sha256.json"
    assert "node-label.csv.gz" in msg and "recorded" in msg and str(record) in msg
    assert ARXIV.url in msg and "OGB publishes no checksum" in msg
    assert _sha(folder / "raw/node-label.csv.gz") in msg and f"delete {folder} " in msg
    record.unlink()  # accepting the new files
    g = load_dataset("ogbn-arxiv", offline)
    assert g.y.tolist() == [1, 1, 2, 0, 1, 2, 0, 0]
    assert _record(offline, ARXIV)["files"]["raw/node-label.csv.gz"]["sha256"] == _sha(
        folder / "raw/node-label.csv.gz"
    )


def test_unreadable_record_is_refused(offline: Path) -> None:
    write_ogb_folder(offline / "ogb" / "arxiv", ARXIV)
    record = _user_data(offline) / "ogb" / "arxiv.sha256.json"
    record.parent.mkdir(parents=True)
    record.write_text("{not json")
    with pytest.raises(DataFileCorruptError, match=r"unreadable.*delete it"):
        load_dataset("ogbn-arxiv", offline)


def test_missing_without_network_names_url_and_layout(offline: Path) -> None:
    for download, why in ((None, "snap.stanford.edu is not reachable"), (False, "download=False")):
        with pytest.raises(DataFileMissingError) as ei:
            load_dataset("ogbn-products", offline, download=download)
        msg = str(ei.value)
        assert why in msg and PRODUCTS.url in msg
        assert "DIR/ogb/products.zip" in msg and "DIR/ogb/products/raw/edge.csv.gz" in msg
        assert "--data-dir DIR" in msg and "GRAFF_DATA=DIR" in msg and str(offline) in msg
        assert str(_user_data(offline) / "ogb" / "products") in msg  # where a download goes
        assert "no checksum" in msg
        assert isinstance(ei.value, FileNotFoundError)
    assert dataset_files_present("ogbn-products", offline) == (
        False,
        DATASETS["ogbn-products"].files,
    )
    # a partly copied folder: the message says what it lacks
    folder = write_ogb_folder(offline / "ogb" / "products", PRODUCTS)
    (folder / "split/sales_ranking/valid.csv.gz").unlink()
    with pytest.raises(DataFileMissingError, match=r"lacks split/sales_ranking/valid\.csv\.gz"):
        load_dataset("ogbn-products", offline)


def test_download_extracts_records_and_removes_the_zip(
    offline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = zip_of(write_ogb_folder(tmp_path / "up" / "arxiv", ARXIV), tmp_path / "a.zip")
    seen: list[str] = []

    def fake_urlopen(url: str, timeout: float = 0) -> io.BytesIO:
        seen.append(url)
        return io.BytesIO(payload.read_bytes())

    monkeypatch.setattr(ogb.urllib.request, "urlopen", fake_urlopen)
    g = load_dataset("ogbn-arxiv", offline, download=True)
    assert seen == [ARXIV.url] and g.num_nodes == N
    cache = _user_data(offline) / "ogb"
    assert not (cache / "arxiv.zip").exists() and (cache / "arxiv/raw/edge.csv.gz").is_file()
    assert _record(offline, ARXIV)["zip"]["sha256"] == _sha(payload)
    assert not any(p.name.startswith(".download-") for p in cache.iterdir())
    # found in the user cache next time: no second download, even with download=True
    assert load_dataset("ogbn-arxiv", offline, download=True).num_nodes == N
    assert len(seen) == 1
    # a later download that differs from the recorded zip is refused and not kept
    import shutil

    shutil.rmtree(cache / "arxiv")
    other = zip_of(
        write_ogb_folder(tmp_path / "other" / "arxiv", ARXIV, labels=["0"] * N), tmp_path / "b.zip"
    )
    monkeypatch.setattr(
        ogb.urllib.request, "urlopen", lambda u, timeout=0: io.BytesIO(other.read_bytes())
    )
    with pytest.raises(DataFileCorruptError, match=r"zip .*arxiv\.zip has sha256"):
        load_dataset("ogbn-arxiv", offline, download=True)
    assert not (cache / "arxiv.zip").exists()


def test_downloads_by_default_when_the_server_answers(
    offline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = zip_of(write_ogb_folder(tmp_path / "up" / "products", PRODUCTS), tmp_path / "p.zip")
    monkeypatch.setattr(ogb, "server_reachable", lambda timeout=2.0: True)
    monkeypatch.setattr(
        ogb.urllib.request, "urlopen", lambda u, timeout=0: io.BytesIO(payload.read_bytes())
    )
    assert load_dataset("products", offline).num_nodes == N  # download=None
    assert (_user_data(offline) / "ogb/products/raw/node-feat.csv.gz").is_file()


def test_download_given_as_text_is_named(offline: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``download="no"`` counted as true and went to snap.stanford.edu."""
    monkeypatch.setattr(ogb, "server_reachable", lambda timeout=2.0: True)

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("must not download")

    monkeypatch.setattr(ogb.urllib.request, "urlopen", boom)
    with pytest.raises(TypeError, match=r"download must be True, False or None \(.*\), got 'no'"):
        load_dataset("products", offline, download="no")  # type: ignore[arg-type]


def test_download_failure_names_url_and_layout(
    offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(url: str, timeout: float = 0) -> io.BytesIO:
        raise OSError("connection refused")

    monkeypatch.setattr(ogb.urllib.request, "urlopen", refuse)
    with pytest.raises(DataFileMissingError, match="connection refused") as ei:
        load_dataset("ogbn-arxiv", offline, download=True)
    assert ARXIV.url in str(ei.value) and "DIR/ogb/arxiv.zip" in str(ei.value)
    assert list((_user_data(offline) / "ogb").iterdir()) == []


@pytest.mark.parametrize(
    ("member", "lines", "match"),
    [
        ("raw/node-feat.csv.gz", ["1,2,3"] * (N - 1) + ["1,2"], r"node-feat.*lines 1\.\.8"),
        ("raw/node-feat.csv.gz", ["1,2,3"] * (N - 1), r"7 rows, expected 8"),
        ("raw/edge.csv.gz", ["0,1", "1,x"], r"edge\.csv\.gz.*lines 1\.\.2"),
        ("raw/node-label.csv.gz", ["0"] * (N - 1) + ["40"], r"label 40\.0 of node 7"),
        ("raw/node-label.csv.gz", ["0"] * (N - 1) + ["1.5"], r"label 1\.5 of node 7"),
        ("split/time/test.csv.gz", ["5", "8"], r"node ids outside \[0, 8\)"),
        ("raw/num-node-list.csv.gz", ["8", "3"], r"expected one non-negative count"),
    ],
)
def test_damaged_files_are_refused_with_their_name(
    offline: Path, member: str, lines: list[str], match: str
) -> None:
    folder = write_ogb_folder(offline / "ogb" / "arxiv", ARXIV)
    if member == "raw/edge.csv.gz":
        _gz(folder / "raw/num-edge-list.csv.gz", ["2"])
    _gz(folder / member, lines)
    with pytest.raises(DataFileCorruptError, match=match) as ei:
        load_dataset("ogbn-arxiv", offline)
    assert f"delete {folder}" in str(ei.value) and ARXIV.url in str(ei.value)


def test_zip_without_the_expected_files_is_refused(offline: Path, tmp_path: Path) -> None:
    folder = write_ogb_folder(tmp_path / "src" / "arxiv", ARXIV)
    (folder / "split/time/valid.csv.gz").unlink()
    zip_of(folder, offline / "ogb" / "arxiv.zip")
    with pytest.raises(DataFileCorruptError, match=r"lacks split/time/valid\.csv\.gz"):
        load_dataset("ogbn-arxiv", offline)
    assert not (_user_data(offline) / "ogb" / "arxiv.sha256.json").exists()  # nothing recorded
    (offline / "ogb" / "arxiv.zip").write_bytes(b"not a zip")
    with pytest.raises(DataFileCorruptError, match="not a readable zip"):
        load_dataset("ogbn-arxiv", offline)


def test_read_table_streams_in_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pieces that cut lines anywhere give the same table as one piece, with or without a
    final newline; the row count is checked."""
    rng = np.random.default_rng(0)
    table = rng.normal(size=(50, 4)).astype(np.float32)
    text = "\n".join(",".join(repr(float(v)) for v in row) for row in table)
    path = tmp_path / "t.csv.gz"
    for tail in ("", "\n"):
        path.write_bytes(gzip.compress((text + tail).encode()))
        for chunk in (7, 64, 1 << 20):
            monkeypatch.setattr(ogb, "CHUNK_BYTES", chunk)
            assert np.array_equal(read_table(path, np.float32, rows=50), table)
            assert np.array_equal(read_table(path, np.float32), table)
    with pytest.raises(ValueError, match="more than the 49 rows"):
        read_table(path, np.float32, rows=49)
    with pytest.raises(ValueError, match="50 rows, expected 51"):
        read_table(path, np.float32, rows=51)


def test_catalogue_and_cli_list_them_as_downloaded_on_demand(
    offline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recs = {r["name"]: r for r in dataset_records(offline, stats=False)}
    for spec in OGB_DATASETS.values():
        assert recs[spec.name]["on_demand"] == spec.url and recs[spec.name]["present"] is False
    assert "on_demand" not in recs["cora"]
    assert cli.main(["datasets", "--no-stats", "--data-dir", str(offline)]) == 0
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if "ogbn-" in ln]
    assert len(rows) == 2 and all("on demand" in ln for ln in rows), rows
    assert "missing 12" in out  # texas: a dataset that is simply missing says so

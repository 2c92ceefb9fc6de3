"""File lookup, checksums, downloads, registry errors."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

import graff.data._fetch as fetch_mod
from graff.data import (
    DataFileCorruptError,
    DataFileMissingError,
    GraphDataError,
    cache_dir,
    dataset_files_present,
    fetch_file,
    list_datasets,
    load_dataset,
    resolve_data_dir,
)
from graff.data._fetch import manifest

SMALL = "geom-gcn/splits/texas_split_0.6_0.2_3.npz"


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No network, no GRAFF_DATA, an empty user cache; returns an empty data dir."""
    monkeypatch.setattr(fetch_mod, "network_available", lambda timeout=2.0: False)
    monkeypatch.delenv("GRAFF_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    empty = tmp_path / "empty"
    empty.mkdir()
    return empty


def test_manifest_matches_shared_manifest() -> None:
    m = manifest()
    assert len(m) == 173
    assert sum(e.in_shared_data for e in m.values()) == 170
    e = m["planetoid/ind.cora.x"]
    assert e.size == 22119
    assert e.sha256 is not None and e.sha256.startswith("23cfa55d91c6f624")
    assert e.git_blob is not None and len(e.git_blob) == 40 and e.checksum == e.sha256
    assert e.url == (
        "https://raw.githubusercontent.com/kimiyoung/planetoid/af6abf468a77/data/ind.cora.x"
    )
    assert m["geom-gcn/new_data/cornell_old/out1_graph_edges.txt"].url.endswith(
        "/geom-gcn/f1fc0d14b3b0/new_data/cornell/out1_graph_edges.txt"
    )
    # every registered file is pinned, but OGB's (no checksum published; see test_ogb.py)
    pinned = [i for i in list_datasets() if i.family != "ogb"]
    assert all(info_file in m for info in pinned for info_file in info.files)


def test_resolve_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRAFF_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    (tmp_path / "arg").mkdir()
    assert resolve_data_dir(tmp_path / "arg") == [
        tmp_path / "arg",
        tmp_path / "env",
        tmp_path / "xdg" / "graff" / "data",
    ]
    monkeypatch.delenv("GRAFF_DATA")
    assert resolve_data_dir() == [tmp_path / "xdg" / "graff" / "data"]


def test_a_data_dir_named_on_purpose_must_exist(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A typo in --data-dir is an error, not a silent read from $GRAFF_DATA (which may hold
    the dataset); a $GRAFF_DATA or cache folder not made yet is only skipped."""
    (tmp_path / "env").mkdir()
    monkeypatch.setenv("GRAFF_DATA", str(tmp_path / "env"))
    with pytest.raises(GraphDataError, match=r"does not exist.*leave it out"):
        resolve_data_dir(tmp_path / "typo")
    monkeypatch.setenv("GRAFF_DATA", str(tmp_path / "not-yet"))
    assert resolve_data_dir()[0] == tmp_path / "not-yet"


def test_cache_dir_reads_env_at_call_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRAFF_CACHE", str(tmp_path / "a"))
    assert cache_dir() == tmp_path / "a"
    monkeypatch.delenv("GRAFF_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x" / "graff"


@pytest.mark.shared_data
def test_fetch_verifies_good_file(shared_data_dir: Path) -> None:
    assert fetch_file(SMALL, shared_data_dir) == shared_data_dir / SMALL


def _copy(shared: Path, dest_root: Path, rel: str) -> Path:
    dest = dest_root / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shared / rel, dest)
    return dest


@pytest.mark.shared_data
def test_flipped_byte_is_corrupt(shared_data_dir: Path, offline: Path) -> None:
    dest = _copy(shared_data_dir, offline, SMALL)
    assert fetch_file(SMALL, offline) == dest
    raw = bytearray(dest.read_bytes())
    raw[100] ^= 0xFF
    dest.write_bytes(bytes(raw))
    with pytest.raises(DataFileCorruptError, match=r"texas_split_0\.6_0\.2_3\.npz") as ei:
        fetch_file(SMALL, offline)
    assert "sha256" in str(ei.value) and "delete" in str(ei.value)


@pytest.mark.shared_data
def test_truncated_file_is_corrupt(shared_data_dir: Path, offline: Path) -> None:
    dest = _copy(shared_data_dir, offline, "planetoid/ind.cora.y")
    dest.write_bytes(dest.read_bytes()[:1000])
    with pytest.raises(DataFileCorruptError, match=r"ind\.cora\.y.*1000 bytes, expected 4054"):
        fetch_file("planetoid/ind.cora.y", offline)


@pytest.mark.shared_data
def test_corrupt_file_stops_load_dataset(shared_data_dir: Path, offline: Path) -> None:
    info = next(i for i in list_datasets() if i.name == "texas")
    for rel in info.files:
        _copy(shared_data_dir, offline, rel)
    edges = offline / "geom-gcn/new_data/texas/out1_graph_edges.txt"
    edges.write_text(edges.read_text().replace("\t", " ", 1))
    with pytest.raises(DataFileCorruptError, match=r"out1_graph_edges\.txt"):
        load_dataset("texas", offline)


def test_missing_file_offline(offline: Path) -> None:
    rel = "planetoid/ind.cora.x"
    with pytest.raises(DataFileMissingError) as ei:
        fetch_file(rel, offline)
    msg = str(ei.value)
    assert rel in msg and str(offline) in msg and "xdg" in msg
    assert "GRAFF_DATA" in msg and "--data-dir" in msg and "raw.githubusercontent.com" in msg
    assert isinstance(ei.value, FileNotFoundError) and isinstance(ei.value, GraphDataError)
    with pytest.raises(DataFileMissingError, match=r"ind\.cora"):
        load_dataset("cora", offline)


def test_a_graff_data_that_does_not_exist_is_named(
    offline: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """$GRAFF_DATA set to a folder that is not there (a typo): the missing-file error says so
    beside the folders it searched."""
    monkeypatch.setenv("GRAFF_DATA", str(tmp_path / "typo"))
    with pytest.raises(DataFileMissingError, match=r"typo \(\$GRAFF_DATA, which does not exist\)"):
        fetch_file("planetoid/ind.cora.x")


def test_download_false_never_downloads(monkeypatch: pytest.MonkeyPatch, offline: Path) -> None:
    def boom(*a: object, **k: object) -> None:
        raise AssertionError("must not download")

    monkeypatch.setattr(fetch_mod.urllib.request, "urlopen", boom)
    with pytest.raises(DataFileMissingError):
        fetch_file(SMALL, offline, download=False)


@pytest.mark.parametrize("value", ["no", 0, 1, "False"])
def test_download_takes_a_bool_or_none(
    monkeypatch: pytest.MonkeyPatch, offline: Path, value: object
) -> None:
    """Text or a number for ``download`` is named: ``"no"`` would have counted as true and
    gone to the network."""

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("must not download")

    monkeypatch.setattr(fetch_mod.urllib.request, "urlopen", boom)
    with pytest.raises(TypeError, match=r"must be True, False or None \(.*reachable\), got "):
        fetch_file(SMALL, offline, download=value)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"download must be True, False or None"):
        load_dataset("cora", offline, download=value)  # type: ignore[arg-type]


@pytest.mark.shared_data
def test_download_lands_in_user_cache(
    shared_data_dir: Path, monkeypatch: pytest.MonkeyPatch, offline: Path, tmp_path: Path
) -> None:
    payload = (shared_data_dir / SMALL).read_bytes()
    seen: list[str] = []

    def fake_urlopen(url: str, timeout: float = 0) -> io.BytesIO:
        seen.append(url)
        return io.BytesIO(payload)

    monkeypatch.setattr(fetch_mod.urllib.request, "urlopen", fake_urlopen)
    got = fetch_file(SMALL, offline, download=True)
    assert got == tmp_path / "xdg" / "graff" / "data" / SMALL
    assert got.read_bytes() == payload
    assert seen == [manifest()[SMALL].url]
    assert not any(p.name.startswith(".download-") for p in got.parent.iterdir())

    # a download with the wrong content is rejected and leaves nothing behind
    got.unlink()
    monkeypatch.setattr(fetch_mod.urllib.request, "urlopen", lambda u, timeout=0: io.BytesIO(b"x"))
    with pytest.raises(DataFileCorruptError, match="download"):
        fetch_file(SMALL, offline, download=True)
    assert list(got.parent.iterdir()) == []


def test_unknown_dataset_suggests() -> None:
    with pytest.raises(GraphDataError, match="Did you mean 'chameleon'") as ei:
        load_dataset("chamelon")
    assert "squirrel" in str(ei.value) and "npz:" in str(ei.value)


def test_unknown_param_lists_allowed() -> None:
    with pytest.raises(GraphDataError, match=r"\['alpha'\].*homophily"):
        load_dataset("csbm", alpha=1)
    with pytest.raises(GraphDataError, match=r"allowed .*none"):
        load_dataset("cora", homophily=0.3)


def test_files_present_without_data(offline: Path) -> None:
    ok, missing = dataset_files_present("texas", offline)
    assert not ok and "geom-gcn/new_data/texas/out1_graph_edges.txt" in missing
    assert len(missing) == 12
    assert dataset_files_present("csbm", offline) == (True, [])
    ok, missing = dataset_files_present("syn-cora", offline, homophily=0.3, replica=2)
    assert missing == ["syn-cora/h0.30-r2.npz"]
    assert len(dataset_files_present("syn-cora", offline)[1]) == 36


def test_list_datasets_info() -> None:
    infos = {i.name: i for i in list_datasets()}
    assert {"cora", "film", "cornell_old", "tolokers", "syn-cora", "csbm"} <= set(infos)
    assert infos["film"].aliases == ("actor",)
    assert infos["minesweeper"].metric == "roc_auc" and infos["cora"].metric == "accuracy"
    assert infos["csbm"].files == [] and infos["csbm"].params["homophily"] == 0.2
    assert infos["cornell_old"].files[2] == "geom-gcn/splits/cornell_split_0.6_0.2_0.npz"

"""Platonov et al.'s graphs that shared/data lacks (roman-empire, amazon-ratings, questions):
pinned by the git blob SHA-1 of the upstream tree, loaded from a tiny file of the same format."""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import graff.data._fetch as fetch_mod
from graff.data import (
    DATASET_SIZES,
    DATASETS,
    DataFileCorruptError,
    DataFileMissingError,
    dataset_files_present,
    dataset_groups,
    fetch_file,
    load_dataset,
)
from graff.data._fetch import git_blob_sha1, manifest

MIRROR = Path("/work/.mirror/yandex-research+heterophilous-graphs/repo")
COMMIT = "a431395582e929d88271309716bea4fe24ce6318"
#: dataset → (file, metric, git blob SHA-1 in the tree of heterophilous-graphs@COMMIT)
UPSTREAM = {
    "roman-empire": ("roman_empire", "accuracy", "1f9bae5e95b28e529015269e98acb237b65d8d3b"),
    "amazon-ratings": ("amazon_ratings", "accuracy", "29647a8b0ff0ef856d73d683a8c3595bd5efbd38"),
    "questions": ("questions", "roc_auc", "4c7cb65057dbc9771af00fdfdee64a41b3875079"),
}
REL = "heterophilous-graphs/roman_empire.npz"


def _tiny_platonov(path: Path, seed: int = 0, n: int = 30, classes: int = 3) -> list[int]:
    """A Platonov-format ``.npz`` (the keys of the real files): each undirected edge once,
    10 disjoint 50/25/25 masks. Returns the edges as sorted unordered pairs, flattened."""
    rng = np.random.default_rng(seed)
    pairs = sorted({(int(a), int(b)) for a, b in rng.integers(0, n, (60, 2)) if a < b})
    for i in range(n - 1):  # a path, so that no node is isolated
        if (i, i + 1) not in pairs:
            pairs.append((i, i + 1))
    pairs.sort()
    labels = np.arange(n) % classes
    masks = np.zeros((3, 10, n), dtype=bool)
    for s in range(10):
        perm = rng.permutation(n)
        masks[0, s, perm[: n // 2]] = True
        masks[1, s, perm[n // 2 : 3 * n // 4]] = True
        masks[2, s, perm[3 * n // 4 :]] = True
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        node_features=rng.normal(size=(n, 5)).astype(np.float32),
        node_labels=labels.astype(np.int64),
        edges=np.array(pairs, dtype=np.int64),
        train_masks=masks[0],
        val_masks=masks[1],
        test_masks=masks[2],
    )
    return [x for p in pairs for x in p]


def _pin(monkeypatch: pytest.MonkeyPatch, rel: str, file: Path) -> None:
    """Pin the registry's entry for ``rel`` to the git blob of ``file``."""
    entry = manifest()[rel]
    monkeypatch.setitem(manifest(), rel, dataclasses.replace(entry, git_blob=git_blob_sha1(file)))


def test_registered_with_metric_and_pins() -> None:
    for name, (stem, metric, blob) in UPSTREAM.items():
        info = DATASETS[name]
        rel = f"heterophilous-graphs/{stem}.npz"
        assert info.family == "heterophilous" and info.metric == metric and info.files == [rel]
        e = manifest()[rel]
        assert (e.size, e.sha256, e.git_blob) == (None, None, blob)
        assert not e.in_shared_data and e.checksum == f"git-blob:{blob}"
        assert e.url == (
            "https://raw.githubusercontent.com/yandex-research/heterophilous-graphs/"
            f"{COMMIT}/data/{stem}.npz"
        )
        # reproduce's default groups and its size table leave them out: no file, no config
        assert name not in dataset_groups("all") and name not in DATASET_SIZES
    assert DATASETS["roman-empire"].aliases == ("roman_empire",)


def test_git_blob_sha1_is_gits(tmp_path: Path) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(b"")
    assert git_blob_sha1(f) == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"  # git's empty blob
    f.write_bytes(bytes(range(256)) * 5000)
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    got = subprocess.run(["git", "hash-object", str(f)], capture_output=True, text=True)
    assert git_blob_sha1(f) == got.stdout.strip()


def test_tiny_file_loads_when_its_blob_is_pinned(
    offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for seed, (name, (stem, metric, _)) in enumerate(UPSTREAM.items()):
        rel = f"heterophilous-graphs/{stem}.npz"
        flat = _tiny_platonov(offline / rel, seed=seed)
        _pin(monkeypatch, rel, offline / rel)
        assert dataset_files_present(name, offline) == (True, [])
        g = load_dataset(name, offline, download=False)
        assert (g.name, g.metric, g.num_nodes) == (name, metric, 30)
        assert g.train_mask.shape == g.val_mask.shape == g.test_mask.shape == (30, 10)
        # each undirected edge was stored once; graff holds both directions
        pairs = set(zip(flat[::2], flat[1::2], strict=True))
        ei = g.edge_index.t().tolist()
        assert len(ei) == 2 * len(pairs)
        assert {(min(a, b), max(a, b)) for a, b in ei} == pairs
    again = load_dataset("questions", offline)  # from the processed cache, keyed by the blob
    assert any("processed cache" in n for n in again.notes)


def test_wrong_file_is_refused(offline: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = offline.parent / "good" / REL
    _tiny_platonov(good, seed=1)
    _pin(monkeypatch, REL, good)
    _tiny_platonov(offline / REL, seed=2)  # same format, other content
    with pytest.raises(DataFileCorruptError) as ei:
        load_dataset("roman-empire", offline)
    msg = str(ei.value)
    assert "git blob SHA-1" in msg and f"expected {manifest()[REL].git_blob}" in msg
    assert git_blob_sha1(offline / REL) in msg
    assert manifest()[REL].url in msg and "download it again" in msg
    assert "shared/data" not in msg  # it is not there to copy from
    # the genuine pin (no tiny file can match it) refuses the tiny file too
    monkeypatch.setitem(manifest(), REL, dataclasses.replace(manifest()[REL], git_blob="0" * 40))
    with pytest.raises(DataFileCorruptError, match="expected 0000000000"):
        fetch_file(REL, offline)


def test_missing_file_names_url_path_and_data_dir(offline: Path) -> None:
    for download in (None, False):
        with pytest.raises(DataFileMissingError) as ei:
            load_dataset("roman_empire", offline, download=download)
        msg = str(ei.value)
        assert manifest()[REL].url in msg and COMMIT in msg
        assert str(offline) in msg  # searched
        assert str(offline.parent / "xdg" / "graff" / "data" / REL) in msg  # where to save it
        assert "--data-dir" in msg and "GRAFF_DATA" in msg and "not part of shared/data" in msg
        assert isinstance(ei.value, FileNotFoundError)
    assert dataset_files_present("amazon-ratings", offline) == (
        False,
        ["heterophilous-graphs/amazon_ratings.npz"],
    )


def test_download_is_verified_by_git_blob(
    offline: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    src = tmp_path / "upstream" / REL
    _tiny_platonov(src, seed=3)
    _pin(monkeypatch, REL, src)
    seen: list[str] = []

    def fake_urlopen(url: str, timeout: float = 0) -> io.BytesIO:
        seen.append(url)
        return io.BytesIO(src.read_bytes())

    monkeypatch.setattr(fetch_mod.urllib.request, "urlopen", fake_urlopen)
    got = fetch_file(REL, offline, download=True)
    assert got == tmp_path / "xdg" / "graff" / "data" / REL
    assert got.read_bytes() == src.read_bytes() and seen == [manifest()[REL].url]
    got.unlink()
    monkeypatch.setattr(fetch_mod.urllib.request, "urlopen", lambda u, timeout=0: io.BytesIO(b"x"))
    with pytest.raises(DataFileCorruptError, match=r"download of .*git blob SHA-1") as ei:
        fetch_file(REL, offline, download=True)
    assert "--data-dir" in str(ei.value)
    assert list(got.parent.iterdir()) == []


@pytest.mark.skipif(not MIRROR.is_dir(), reason="no heterophilous-graphs snapshot")
def test_pins_equal_the_upstream_tree() -> None:
    """The pinned blob ids are those of the snapshot's tree, at the commit the URLs name."""
    git = ["git", "-C", str(MIRROR)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    assert head.stdout.strip() == COMMIT
    tree = subprocess.run(
        [*git, "ls-tree", "-r", "HEAD", "data/"], capture_output=True, text=True, check=True
    ).stdout
    blobs = {line.split("\t")[1]: line.split()[2] for line in tree.splitlines()}
    for rel, e in manifest().items():
        if rel.startswith("heterophilous-graphs/"):
            assert blobs["data/" + rel.split("/", 1)[1]] == e.git_blob, rel


@pytest.mark.shared_data
def test_shared_files_match_their_git_blobs(shared_data_dir: Path) -> None:
    """Every shared/data file's content has the git blob id recorded beside its sha256."""
    for rel, e in manifest().items():
        if e.in_shared_data:
            assert git_blob_sha1(shared_data_dir / rel) == e.git_blob, rel

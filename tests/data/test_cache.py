"""The processed cache is verified before use: a damaged or tampered entry is discarded with a
warning and rebuilt, an entry of an edited source file is rebuilt, nothing in it is executed."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from graff.data import GraphDataWarning, cache_dir, load_dataset
from graff.data._cache import MAGIC

KEYS = ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRAFF_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "processed"


def _npz(path: Path, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    n = 40
    np.savez(
        path,
        x=rng.standard_normal((n, 5)),
        y=np.arange(n) % 3,
        edges=np.stack([np.arange(n), (np.arange(n) + 1) % n], 1),
    )
    return f"npz:{path}"


def _same(a: Data, b: Data) -> bool:
    return all(torch.equal(a[k], b[k]) for k in KEYS) and a.name == b.name


def _from_cache(d: Data) -> bool:
    return any("processed cache" in n for n in d.notes)


def _entry(cache: Path) -> Path:
    (entry,) = cache.glob("*.pt")
    return entry


def _split(raw: bytes) -> tuple[dict[str, Any], int]:
    end = raw.index(b"\n", len(MAGIC))
    return json.loads(raw[len(MAGIC) : end]), end + 1


def test_user_npz_is_cached_and_reloaded_equal(cache: Path, tmp_path: Path) -> None:
    name = _npz(tmp_path / "g.npz")
    first = load_dataset(name)
    assert not _from_cache(first)
    entry = _entry(cache)
    header, _ = _split(entry.read_bytes())
    src = header["source"]
    assert src["sha256"] and src["size"] == (tmp_path / "g.npz").stat().st_size
    assert src["loader_version"] >= 2 and src["npz"].endswith("g.npz")
    second = load_dataset(name)
    assert _from_cache(second) and _same(first, second)


@pytest.mark.parametrize("where", ["payload", "header", "truncate", "magic"])
def test_tampered_entry_is_discarded_and_rebuilt(cache: Path, tmp_path: Path, where: str) -> None:
    name = _npz(tmp_path / "g.npz")
    fresh = load_dataset(name)
    entry = _entry(cache)
    raw = bytearray(entry.read_bytes())
    header, start = _split(bytes(raw))
    if where == "payload":
        raw[start + (len(raw) - start) // 2] ^= 0x01
    elif where == "header":
        pos = raw.index(header["sha256"].encode())
        raw[pos] = ord("0") if raw[pos] != ord("0") else ord("1")
    elif where == "truncate":
        del raw[-10:]
    else:
        raw[0] ^= 0xFF
    entry.write_bytes(bytes(raw))
    with pytest.warns(GraphDataWarning, match="damaged"):
        again = load_dataset(name)
    assert not _from_cache(again) and _same(again, fresh)
    third = load_dataset(name)  # the rebuilt entry is sound again
    assert _from_cache(third) and _same(third, fresh)


def test_edited_source_npz_is_rebuilt(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "g.npz"
    name = _npz(path, seed=0)
    old = load_dataset(name)
    assert _from_cache(load_dataset(name))
    _npz(path, seed=1)
    new = load_dataset(name)  # silently rebuilt: the file changed, the entry is not damaged
    assert not _from_cache(new)
    assert not torch.equal(new.x, old.x)
    assert torch.equal(new.x, torch.from_numpy(np.load(path)["x"]).float())
    assert _from_cache(load_dataset(name))


def test_same_bytes_other_content_is_caught_by_sha(cache: Path, tmp_path: Path) -> None:
    """Same size and mtime but other bytes (e.g. a restored backup): the sha256 differs."""
    path = tmp_path / "g.npz"
    name = _npz(path, seed=0)
    load_dataset(name)
    st = path.stat()
    _npz(tmp_path / "h.npz", seed=2)
    other = (tmp_path / "h.npz").read_bytes()
    assert len(other) == st.st_size
    path.write_bytes(other)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    d = load_dataset(name)
    assert not _from_cache(d)
    assert torch.equal(d.x, torch.from_numpy(np.load(path)["x"]).float())


class _Boom:
    target = ""

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (Path(self.target),))


def test_payload_with_code_and_valid_checksum_is_not_run(cache: Path, tmp_path: Path) -> None:
    """The checksum says "intact", not "safe": the payload is still read with weights_only."""
    import hashlib

    name = _npz(tmp_path / "g.npz")
    fresh = load_dataset(name)
    entry = _entry(cache)
    header, _ = _split(entry.read_bytes())
    marker = tmp_path / "code-ran"
    _Boom.target = str(marker)
    payload = pickle.dumps({"x": _Boom()})
    header.update(sha256=hashlib.sha256(payload).hexdigest(), size=len(payload))
    entry.write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + payload)
    with pytest.warns(GraphDataWarning, match="damaged.*payload unreadable"):
        again = load_dataset(name)
    assert not marker.exists() and _same(again, fresh)
    pickle.loads(payload)  # the payload does run code when unpickled: the test can fail
    assert marker.exists()


def test_unwritable_cache_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("GRAFF_CACHE", str(blocker))
    name = _npz(tmp_path / "g.npz")
    a, b = load_dataset(name), load_dataset(name)
    assert _same(a, b) and not _from_cache(b)


@pytest.mark.shared_data
def test_registry_entry_with_flipped_byte_is_rebuilt(shared_data_dir: Path, cache: Path) -> None:
    first = load_dataset("texas", shared_data_dir)
    (entry,) = cache.glob("texas-*.pt")
    header, start = _split(entry.read_bytes())
    assert set(header["source"]["files"]) == {
        "geom-gcn/new_data/texas/out1_node_feature_label.txt",
        "geom-gcn/new_data/texas/out1_graph_edges.txt",
        *(f"geom-gcn/splits/texas_split_0.6_0.2_{i}.npz" for i in range(10)),
    }
    raw = bytearray(entry.read_bytes())
    raw[start + 200] ^= 0x10
    entry.write_bytes(bytes(raw))
    with pytest.warns(GraphDataWarning, match="sha256"):
        again = load_dataset("texas", shared_data_dir)
    assert not _from_cache(again) and _same(again, first)
    assert cache_dir() / "processed" == cache

"""OGB node-property datasets, ogbn-arxiv and ogbn-products, from OGB's own files and splits.

For users with a network: neither is in shared/data, no test needs them, and neither is in a
group that ``graff reproduce`` or the tests iterate over (:mod:`graff.data._groups`); name them
explicitly (``load_dataset("ogbn-arxiv")``, ``graff train --dataset ogbn-arxiv``).

Facts taken from OGB's code (``snap-stanford/ogb``: ``ogb/nodeproppred/master.csv`` and the
readers in ``ogb/io/read_graph_raw.py`` and ``ogb/nodeproppred/dataset.py``):

* ogbn-arxiv: ``http://snap.stanford.edu/ogb/data/nodeproppred/arxiv.zip``, folder ``arxiv``,
  split ``time``, 40 classes, ``add_inverse_edge=False`` (OGB keeps the citation edges
  directed; its example GNNs symmetrise the adjacency);
* ogbn-products: ``.../products.zip``, folder ``products``, split ``sales_ranking``, 47
  classes, ``add_inverse_edge=True`` (each undirected edge stored once, OGB adds the reverse);
* both: metric accuracy; one graph in the CSV layout ``raw/edge.csv.gz`` (``src,dst`` per
  line, no header), ``raw/num-node-list.csv.gz`` and ``raw/num-edge-list.csv.gz`` (one count
  per graph), ``raw/node-feat.csv.gz`` (one row of floats per node), ``raw/node-label.csv.gz``
  (one label per node), ``split/<split>/{train,valid,test}.csv.gz`` (one node id per line).

**Where the files go.** The zip holds one folder (``arxiv/``, ``products/``). graff looks, in
each data directory (``--data-dir``/``data_dir``, ``$GRAFF_DATA``, the user data cache
``($XDG_CACHE_HOME or ~/.cache)/graff/data``), for the unzipped folder as
``DIR/ogb/arxiv/raw/edge.csv.gz`` (etc.) or for the zip itself as ``DIR/ogb/arxiv.zip``. A zip
is extracted (only the files read) into the user data cache, never into a data directory.
Missing both, graff downloads the zip from OGB's URL (``download=True``, or by default when
snap.stanford.edu answers), extracts it into the user data cache and deletes the zip. A
folder made by the ``ogb`` package (``dataset/ogbn_arxiv/``) has the same content: copy or
link it as ``DIR/ogb/arxiv``.

**Verification.** OGB publishes no checksum for its zips (and its own loader checks none), so
nothing pins their content in advance. graff therefore records, the first time it reads a
dataset's files (downloaded, extracted or found), their sha256 and size (and those of the zip
when it has one) in ``<user data cache>/ogb/<folder>.sha256.json``, says so on stderr, and
verifies every later load against that record: a damaged, truncated or changed file is then
refused (:class:`DataFileCorruptError`). This guards against later damage, not against a bad
first copy; the download is plain HTTP, the URL as OGB publishes it. If OGB releases new
files, delete the record to accept them.

**What the loader does.** OGB's fixed split is the dataset's only split (masks ``[N, 1]``);
features are read as float32, as given; the edges are symmetrised, duplicates and
self-loops removed, as for every graff dataset (:func:`~graff.data.validate_graph`, whose
notes count what it did). Files are parsed in 16 MiB pieces of decompressed text straight
into preallocated arrays (no pandas). ogbn-products (OGB's site: 2,449,029 nodes, 61,859,140
edges stored once, 100 features) holds ~1 GB of float32 features and ~2 GB of symmetrised
int64 edges, and needs several times that while it is symmetrised and written to the
processed cache (which keeps the whole graph in one file); on a shared 2-core machine the
parser read ~18,000 rows of 100 features and ~2 million edges per second (synthetic files of
that shape), so its first load takes minutes. Synthetic files of ogbn-arxiv's shape (169,343
nodes, 1,166,243 edges, 128 features) loaded there in 10 s (1 GB peak), then in 0.5 s from
the processed cache.

**ogbn-papers100M is not registered.** OGB ships it in another, binary layout
(``papers100M-bin.zip``: ``raw/data.npz``, ``raw/node-label.npz``), and OGB's own README puts
the download at 57 GB and PyTorch Geometric's graph object at 79 GB. graff's loader builds the
whole graph in memory (features, symmetrised edges, masks, then a processed-cache copy), and
:mod:`graff.scale` cannot yet read a graph from disk other than its own synthetic one, so no
path through graff could use it; a name that can only refuse is not registered.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import tempfile
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Data

from graff._io import atomic_write

from . import _fetch
from ._errors import DataFileCorruptError, DataFileMissingError, GraphDataError
from ._fetch import resolve_data_dir, sha256_of

__all__ = [
    "OGB_DATASETS",
    "OgbSpec",
    "fetch_ogb",
    "ogb_files_present",
    "read_ogb",
    "server_reachable",
]

_HOST = ("snap.stanford.edu", 80)
_RAW = (
    "raw/edge.csv.gz",
    "raw/num-node-list.csv.gz",
    "raw/num-edge-list.csv.gz",
    "raw/node-feat.csv.gz",
    "raw/node-label.csv.gz",
)
_PARTS = ("train", "valid", "test")
#: Decompressed bytes parsed at a time: bounds the memory of parsing besides the result.
CHUNK_BYTES = 1 << 24

_verified: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class OgbSpec:
    """One OGB node-property dataset, as ``ogb/nodeproppred/master.csv`` describes it.

    Attributes:
        name: OGB's name (``ogbn-arxiv``), graff's canonical name too.
        folder: the zip's top folder (master.csv ``download_name``).
        url: where OGB downloads the zip from (master.csv ``url``).
        split: OGB's split folder (master.csv ``split``).
        stored_once: each undirected edge is stored once (master.csv ``add_inverse_edge``).
        num_classes: master.csv ``num classes``.
    """

    name: str
    folder: str
    url: str
    split: str
    stored_once: bool
    num_classes: int

    @property
    def root(self) -> str:
        """The unzipped folder, relative to a data directory (``ogb/arxiv``)."""
        return f"ogb/{self.folder}"

    @property
    def zip_relpath(self) -> str:
        """The zip, relative to a data directory (``ogb/arxiv.zip``)."""
        return f"ogb/{self.folder}.zip"

    @property
    def members(self) -> list[str]:
        """The files read, relative to the unzipped folder."""
        return [*_RAW, *(f"split/{self.split}/{p}.csv.gz" for p in _PARTS)]

    @property
    def files(self) -> list[str]:
        """The files read, relative to a data directory."""
        return [f"{self.root}/{m}" for m in self.members]


_BASE = "http://snap.stanford.edu/ogb/data/nodeproppred"
#: The registered OGB datasets by name (master.csv's rows for them, see the module docstring).
OGB_DATASETS: dict[str, OgbSpec] = {
    s.name: s
    for s in (
        OgbSpec("ogbn-arxiv", "arxiv", f"{_BASE}/arxiv.zip", "time", False, 40),
        OgbSpec("ogbn-products", "products", f"{_BASE}/products.zip", "sales_ranking", True, 47),
    )
}


def server_reachable(timeout: float = 2.0) -> bool:
    """Whether ``snap.stanford.edu:80`` (OGB's download server) accepts a TCP connection
    (answer cached for the process)."""
    return _fetch.host_reachable(_HOST, timeout)


def _user_data_dir() -> Path:
    return resolve_data_dir()[-1]


def _record_path(spec: OgbSpec) -> Path:
    return _user_data_dir() / "ogb" / f"{spec.folder}.sha256.json"


def _say(text: str) -> None:
    print(f"graff: {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- locating


def _folder_with_all(spec: OgbSpec, data_dir: str | os.PathLike[str] | None) -> Path | None:
    for d in resolve_data_dir(data_dir):
        if all((d / f).is_file() for f in spec.files):
            return d / spec.root
    return None


def _zip_file(spec: OgbSpec, data_dir: str | os.PathLike[str] | None) -> Path | None:
    for d in resolve_data_dir(data_dir):
        if (d / spec.zip_relpath).is_file():
            return d / spec.zip_relpath
    return None


def ogb_files_present(
    spec: OgbSpec, data_dir: str | os.PathLike[str] | None = None
) -> tuple[bool, list[str]]:
    """Whether a search directory holds the unzipped folder or the zip (no download, no
    hashing), and else the files missing (relative to a data directory)."""
    if _folder_with_all(spec, data_dir) is not None or _zip_file(spec, data_dir) is not None:
        return True, []
    return False, list(spec.files)


def _layout(spec: OgbSpec) -> str:
    return (
        f"put the zip as DIR/{spec.zip_relpath} or unzip it so that "
        f"DIR/{spec.root}/raw/edge.csv.gz exists, then pass --data-dir DIR or set GRAFF_DATA=DIR"
    )


def _missing_error(
    spec: OgbSpec, data_dir: str | os.PathLike[str] | None, why: str
) -> DataFileMissingError:
    dirs = resolve_data_dir(data_dir)
    partial = []
    for d in dirs:
        if (d / spec.root).is_dir():
            lacks = [m for m in spec.members if not (d / spec.root / m).is_file()]
            partial.append(f"{d / spec.root} lacks {', '.join(lacks)}")
    found = f" ({'; '.join(partial)})" if partial else ""
    return DataFileMissingError(
        f"{spec.name}: OGB's files not found; searched {', '.join(str(d) for d in dirs)} for "
        f"{spec.root}/ and {spec.zip_relpath}{found}. {why} Download {spec.url} where the "
        f"network is reachable and {_layout(spec)}; or run where snap.stanford.edu is reachable "
        f"and graff downloads it into {dirs[-1] / spec.root}. OGB publishes no checksum: graff "
        "records the sha256 of the first copy it reads and verifies later loads against it"
    )


# --------------------------------------------------------------------------- first-use record


def _read_record(spec: OgbSpec) -> dict[str, Any]:
    path = _record_path(spec)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise GraphDataError(f"cannot read {path}: {exc}") from exc
    try:
        rec = json.loads(text)
        if not isinstance(rec, dict) or not isinstance(rec.get("files", {}), dict):
            raise ValueError("not a JSON object with a 'files' object")
    except ValueError as exc:
        raise DataFileCorruptError(
            f"{path} (the sha256 graff recorded for {spec.name}'s files on first use) is "
            f"unreadable: {exc}; delete it, and graff records the files it reads next"
        ) from exc
    return rec


def _write_record(spec: OgbSpec, rec: dict[str, Any]) -> None:
    rec.setdefault("dataset", spec.name)
    rec.setdefault("url", spec.url)
    rec["about"] = (
        "OGB publishes no checksum for its files: these are the sha256 and sizes of the first "
        "copy graff read (trust on first use); later loads are verified against them. Delete "
        "this file to accept different files (e.g. a new OGB release)."
    )
    atomic_write(_record_path(spec), json.dumps(rec, indent=2, sort_keys=True) + "\n")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _mismatch(path: Path, pin: dict[str, Any]) -> str | None:
    size, got = path.stat().st_size, sha256_of(path)
    if size == pin.get("size") and got == pin.get("sha256"):
        return None
    return (
        f"has sha256 {got} ({size} bytes); the first copy graff read had {pin.get('sha256')} "
        f"({pin.get('size')} bytes)"
    )


def _check_pinned(spec: OgbSpec, path: Path, pin: dict[str, Any], what: str) -> None:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if _verified.get(key) == pin.get("sha256"):
        return
    problem = _mismatch(path, pin)
    if problem is not None:
        bad = _root_of(spec, path) if what == "file" else path
        raise DataFileCorruptError(
            f"{spec.name}: {what} {path} {problem} (recorded in {_record_path(spec)} when graff "
            f"first read it; OGB publishes no checksum). The file is damaged or not the one read "
            f"then: delete {bad} and download {spec.url} again;"
            " if OGB published new files on purpose, delete the record to accept them"
        )
    _verified[key] = str(pin.get("sha256"))


def _root_of(spec: OgbSpec, path: Path) -> Path:
    """The unzipped folder a file of ``spec`` lies in."""
    return next((a for a in path.parents if a.name == spec.folder), path.parent)


def _pin_of(path: Path) -> dict[str, Any]:
    return {"sha256": sha256_of(path), "size": path.stat().st_size}


# --------------------------------------------------------------------------- download, unzip


def _download(spec: OgbSpec) -> Path:
    dest = _user_data_dir() / spec.zip_relpath
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(spec.url, timeout=60) as resp:
            length = getattr(resp, "headers", {}).get("Content-Length")
            size = f" ({int(length) / 2**30:.2f} GiB)" if length else ""
            _say(f"{spec.name}: downloading {spec.url}{size} to {dest}")
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        os.replace(tmp, dest)
    except OSError as exc:
        raise DataFileMissingError(
            f"{spec.name}: could not download {spec.url}: {exc}; download it where the network "
            f"is reachable and {_layout(spec)}"
        ) from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


def _find_member(names: list[str], spec: OgbSpec, member: str) -> str | None:
    exact = f"{spec.folder}/{member}"
    if exact in names:
        return exact
    hits = [n for n in names if n == member or n.endswith("/" + member)]
    return hits[0] if len(hits) == 1 else None


def _extract(spec: OgbSpec, zpath: Path) -> Path:
    """The files read, from the zip into the user data cache (each written atomically; only
    the named members, so no path from the archive is trusted)."""
    root = _user_data_dir() / spec.root
    try:
        with zipfile.ZipFile(zpath) as z:
            names = z.namelist()
            found = {m: _find_member(names, spec, m) for m in spec.members}
            lacking = [m for m, n in found.items() if n is None]
            if lacking:
                raise DataFileCorruptError(
                    f"{spec.name}: zip {zpath} lacks {', '.join(lacking)} (expected under "
                    f"{spec.folder}/); it is not OGB's {spec.url} or is damaged: delete it and "
                    "download it again"
                )
            _say(f"{spec.name}: extracting {len(found)} files of {zpath} into {root}")
            for member, name in found.items():
                dest = root / member
                dest.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=".extract-", dir=dest.parent)
                try:
                    with os.fdopen(fd, "wb") as out, z.open(str(name)) as src:
                        while block := src.read(1 << 20):
                            out.write(block)
                    os.replace(tmp, dest)
                finally:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise DataFileCorruptError(
            f"{spec.name}: {zpath} is not a readable zip ({exc}); delete it and download "
            f"{spec.url} again"
        ) from exc
    return root


def fetch_ogb(
    spec: OgbSpec,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool | None = None,
) -> tuple[dict[str, Path], dict[str, list[Any]]]:
    """Locate (or extract, or download) ``spec``'s files and verify them against the sha256
    recorded on first use, recording them if this is the first use.

    Args:
        spec: the dataset.
        data_dir: searched first (see :func:`~graff.data.resolve_data_dir`).
        download: ``True`` downloads the zip when neither the folder nor the zip is found,
            ``False`` never does, ``None`` (default) does when snap.stanford.edu is reachable.

    Returns:
        ``(paths, checksums)``: each file's path and ``[sha256, size]``, both keyed by the
        path relative to a data directory (``ogb/arxiv/raw/edge.csv.gz``).

    Raises:
        DataFileMissingError: found nowhere and not downloaded (the message names the URL and
            the layout of a data directory).
        DataFileCorruptError: a file or zip differs from its record, or the zip lacks files.
    """
    _fetch.check_download(download)
    rec = _read_record(spec)
    folder = _folder_with_all(spec, data_dir)
    if folder is None:
        zpath = _zip_file(spec, data_dir)
        downloaded = False
        if zpath is None:
            want = download if download is not None else server_reachable()
            if not want:
                why = (
                    "download=False was given."
                    if download is False
                    else "snap.stanford.edu is not reachable from here."
                )
                raise _missing_error(spec, data_dir, why)
            zpath = _download(spec)
            downloaded = True
        try:
            if "zip" in rec:
                _check_pinned(spec, zpath, rec["zip"], "zip")
            folder = _extract(spec, zpath)
        except DataFileCorruptError:
            if downloaded:  # a bad download is not kept
                zpath.unlink()
            raise
        if "zip" not in rec:  # recorded once it proved to hold the files
            rec["zip"] = {**_pin_of(zpath), "first_read": _now()}
            _write_record(spec, rec)
            _say(
                f"{spec.name}: OGB publishes no checksum for {spec.url}; recorded the sha256 of "
                f"this first copy ({rec['zip']['sha256']}) in {_record_path(spec)}"
            )
        if downloaded:
            zpath.unlink()  # its sha256 is recorded; the extracted files are what is read
    paths = {f"{spec.root}/{m}": folder / m for m in spec.members}
    pins: dict[str, Any] = rec.setdefault("files", {})
    new = [m for m in spec.members if m not in pins]
    for m in spec.members:
        if m in pins:
            _check_pinned(spec, folder / m, pins[m], "file")
        else:
            pins[m] = _pin_of(folder / m)
    if new:
        rec.setdefault("first_read", _now())
        _write_record(spec, rec)
        _say(
            f"{spec.name}: OGB publishes no checksum; recorded the sha256 of the {len(new)} files "
            f"read from {folder} in {_record_path(spec)}; later loads are verified against them"
        )
    checksums = {f"{spec.root}/{m}": [pins[m]["sha256"], pins[m]["size"]] for m in spec.members}
    return paths, checksums


# --------------------------------------------------------------------------- reading


def _corrupt(spec: OgbSpec, path: Path, exc: BaseException | str) -> DataFileCorruptError:
    what = f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else exc
    root = _root_of(spec, path)
    return DataFileCorruptError(
        f"{spec.name}: cannot parse {path}: {what}; the file is damaged or not in OGB's format: "
        f"delete {root} and download {spec.url} again"
    )


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(index of its first line, bytes)`` of whole lines of a gzip text file, about
    :data:`CHUNK_BYTES` at a time; the last piece ends in a newline even if the file does not."""
    first, rest = 0, b""
    with gzip.open(path, "rb") as f:
        while block := f.read(CHUNK_BYTES):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            rest = block[cut:]
            if cut:
                yield first, block[:cut]
                first += block.count(b"\n", 0, cut)
    if rest.strip():
        yield first, rest + b"\n"


def read_table(
    path: Path, dtype: type[np.generic], rows: int | None = None, width: int | None = None
) -> np.ndarray:
    """A gzip CSV of numbers (no header) as an array ``[rows, width]``.

    Parsed piece by piece (``np.fromstring`` on whole lines, newlines turned into commas)
    into one preallocated array when ``rows`` is given; ``width`` defaults to the first
    line's. Raises :class:`ValueError` naming the lines of a piece with a bad or missing
    value or a row count other than ``rows``; gzip and OS errors propagate.
    """
    out: np.ndarray | None = None
    parts: list[np.ndarray] = []
    filled = 0
    for first, piece in _lines(path):
        n = piece.count(b"\n")
        if width is None:
            width = piece[: piece.find(b"\n")].count(b",") + 1
        try:
            vals = np.fromstring(piece.replace(b"\n", b","), dtype=dtype, sep=",")
        except ValueError as exc:
            raise ValueError(f"lines {first + 1}..{first + n}: {exc}") from None
        if vals.size != n * width:
            raise ValueError(
                f"lines {first + 1}..{first + n}: {vals.size} values, expected {n} rows of {width}"
            )
        block = vals.reshape(n, width)
        if rows is None:
            parts.append(block)
        else:
            if filled + n > rows:
                raise ValueError(f"more than the {rows} rows expected")
            if out is None:
                out = np.empty((rows, width), dtype=dtype)
            out[filled : filled + n] = block
        filled += n
    if rows is None:
        return np.concatenate(parts) if parts else np.empty((0, width or 1), dtype=dtype)
    if filled != rows or out is None:
        raise ValueError(f"{filled} rows, expected {rows}")
    return out


def _table(spec: OgbSpec, path: Path, dtype: type[np.generic], **kw: Any) -> np.ndarray:
    try:
        return read_table(path, dtype, **kw)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise _corrupt(spec, path, exc) from exc


def _count(spec: OgbSpec, path: Path) -> int:
    counts = _table(spec, path, np.int64, width=1).reshape(-1)
    if counts.size != 1 or counts[0] < 0:
        raise _corrupt(spec, path, f"expected one non-negative count, got {counts.tolist()[:5]}")
    return int(counts[0])


def read_ogb(spec: OgbSpec, paths: dict[str, Path]) -> Data:
    """Read OGB's CSV layout (module docstring) into an unvalidated graph with one split.

    ``paths`` maps :attr:`OgbSpec.files` to files. Labels may be blank or ``nan`` (then -1,
    unlabelled); node ids of the split files must lie in ``[0, N)``.
    """
    p = {m: paths[f"{spec.root}/{m}"] for m in spec.members}
    n = _count(spec, p["raw/num-node-list.csv.gz"])
    e = _count(spec, p["raw/num-edge-list.csv.gz"])
    edges = _table(spec, p["raw/edge.csv.gz"], np.int64, rows=e, width=2)
    edge_index = torch.from_numpy(np.ascontiguousarray(edges.T))
    del edges
    x = _table(spec, p["raw/node-feat.csv.gz"], np.float32, rows=n)
    lab = _table(spec, p["raw/node-label.csv.gz"], np.float64, rows=n, width=1).reshape(-1)
    known = ~np.isnan(lab)
    bad = known & ((lab != np.round(lab)) | (lab < 0) | (lab >= spec.num_classes))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _corrupt(
            spec,
            p["raw/node-label.csv.gz"],
            f"label {lab[i]} of node {i} is not a class id 0..{spec.num_classes - 1}",
        )
    y = np.where(known, lab, -1).astype(np.int64)
    masks = []
    for part in _PARTS:
        path = p[f"split/{spec.split}/{part}.csv.gz"]
        ids = _table(spec, path, np.int64, width=1).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= n):
            raise _corrupt(
                spec, path, f"node ids outside [0, {n}) (min {ids.min()}, max {ids.max()})"
            )
        m = torch.zeros(n, 1, dtype=torch.bool)
        m[torch.from_numpy(ids), 0] = True
        masks.append(m)
    data = Data(x=torch.from_numpy(x), edge_index=edge_index, y=torch.from_numpy(y))
    data.train_mask, data.val_mask, data.test_mask = masks
    stored = (
        "each undirected edge stored once (OGB's add_inverse_edge); both directions kept"
        if spec.stored_once
        else "directed citation edges as OGB stores them (OGB's own loader keeps them directed)"
        ", symmetrised here as for every graff dataset"
    )
    data.notes = [
        f"{spec.name}: OGB's files ({spec.url}); OGB's fixed '{spec.split}' split "
        f"(split/{spec.split}/train,valid,test) as the only split; {n} nodes, {e} edges in "
        f"edge.csv.gz: {stored}"
    ]
    if not known.all():
        data.notes.append(f"{int((~known).sum())} nodes without a label (nan) get -1")
    return data

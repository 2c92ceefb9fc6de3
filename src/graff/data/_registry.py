"""Dataset registry, :func:`load_dataset` and the processed-data cache."""

from __future__ import annotations

import contextlib
import difflib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch_geometric.data import Data

from graff.registry import Registry

from . import _readers as R
from ._cache import entry_path, load_entry, save_entry
from ._errors import GraphDataError, check_dataset_name
from ._fetch import fetch_file, file_present, manifest, sha256_of
from ._ogb import OGB_DATASETS, fetch_ogb, ogb_files_present, read_ogb
from ._splits import DRAWN_NOTE, check_split_params, drawn_note, random_splits
from ._synthetic import csbm
from ._user_npz import read_user_npz
from ._validate import validate_graph

__all__ = [
    "DATASETS",
    "LOADER_VERSION",
    "DatasetInfo",
    "dataset_files_present",
    "list_datasets",
    "load_dataset",
]

#: Bump when a reader, :func:`validate_graph` or the cache format changes what ends up in a
#: processed cache (2: checksummed cache entries, user ``.npz`` graphs cached too; 3: the
#: note on classes without training nodes; 4: the note naming a user file's unread arrays;
#: 5: a user file whose edge_index and edges differ, or whose edge ids overflow, refused).
LOADER_VERSION = 5

SYN_CORA_HOMOPHILY = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99, 1.0)
_SPLIT_PARAMS: dict[str, Any] = {"num_splits": 10, "train_frac": 0.48, "val_frac": 0.32, "seed": 0}


@dataclass(frozen=True)
class DatasetInfo:
    """What :func:`load_dataset` knows about one dataset: its canonical ``name``, ``aliases``
    (case-insensitive; ``_`` and ``-`` are interchangeable), ``family`` (``planetoid``,
    ``geom-gcn``, ``heterophilous``, ``syn-cora``, ``synthetic``, ``ogb`` — OGB's files,
    downloaded on demand, :mod:`graff.data._ogb` — or ``user``), a one-line ``description``,
    the raw ``files`` relative to the data root (none for generated data; all 36 for
    syn-cora), the accepted keyword ``params`` with defaults, the ``metric`` (``accuracy`` or
    ``roc_auc``), how the ``splits`` are made, the ``size`` ``(nodes, directed edges,
    features)`` as loaded for the datasets ``graff reproduce`` runs (its cost model reads
    them; :data:`graff.data.DATASET_SIZES`; ``None`` otherwise) and the ``example_params``
    that make one loadable instance when some parameter has no default (``syn-cora``:
    ``homophily=0.5, replica=1``), e.g. for ``graff datasets``."""

    name: str
    aliases: tuple[str, ...]
    family: str
    description: str
    files: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    metric: str = "accuracy"
    splits: str = ""
    size: tuple[int, int, int] | None = None
    example_params: dict[str, Any] = field(default_factory=dict)


def _geom_split_files(name: str) -> list[str]:
    return [f"geom-gcn/splits/{name}_split_0.6_0.2_{i}.npz" for i in range(10)]


_PLANETOID_EXT = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
_GEOM_SPLITS = "the 10 fixed geom-gcn splits (48/32/20 %)"


#: (nodes, directed edges, features) as loaded, of the datasets ``graff reproduce`` runs.
_SIZES: dict[str, tuple[int, int, int]] = {
    "texas": (183, 558, 1703),
    "wisconsin": (251, 900, 1703),
    "cornell": (183, 554, 1703),
    "cornell_old": (183, 554, 1703),
    "film": (7600, 53318, 932),
    "squirrel": (5201, 396706, 2089),
    "chameleon": (2277, 62742, 2325),
    "citeseer": (3327, 9104, 3703),
    "pubmed": (19717, 88648, 500),
    "cora": (2708, 10556, 1433),
    "chameleon-filtered": (890, 17708, 2325),
    "squirrel-filtered": (2223, 93996, 2089),
    "minesweeper": (10000, 78804, 7),
    "tolokers": (11758, 1038000, 10),
}


def _build_registry() -> list[DatasetInfo]:
    infos: list[DatasetInfo] = []
    for nm, desc in (
        ("cora", "Cora citation graph (Planetoid), 2708 nodes, 7 classes"),
        ("citeseer", "CiteSeer citation graph (Planetoid), 3327 nodes, 6 classes"),
        ("pubmed", "PubMed citation graph (Planetoid), 19717 nodes, 3 classes"),
    ):
        infos.append(
            DatasetInfo(
                nm,
                (),
                "planetoid",
                desc,
                [f"planetoid/ind.{nm}.{e}" for e in _PLANETOID_EXT] + _geom_split_files(nm),
                splits=_GEOM_SPLITS + "; nodes outside every mask and unlabelled nodes excluded",
                size=_SIZES[nm],
            )
        )
    for nm, folder, split_name, aliases, desc in (
        ("texas", "texas", "texas", (), "WebKB Texas, 183 nodes, 5 classes"),
        ("wisconsin", "wisconsin", "wisconsin", (), "WebKB Wisconsin, 251 nodes, 5 classes"),
        ("cornell", "cornell", "cornell", (), "WebKB Cornell (current geom-gcn master)"),
        (
            "cornell_old",
            "cornell_old",
            "cornell",
            (),
            "pre-July-2022 Cornell (Texas features/labels, Cornell edges), as used by GRAFF",
        ),
        ("film", "film", "film", ("actor",), "Actor co-occurrence graph, 7600 nodes, 5 classes"),
        ("chameleon", "chameleon", "chameleon", (), "Wikipedia chameleon (geom-gcn)"),
        ("squirrel", "squirrel", "squirrel", (), "Wikipedia squirrel (geom-gcn)"),
    ):
        infos.append(
            DatasetInfo(
                nm,
                aliases,
                "geom-gcn",
                desc,
                [
                    f"geom-gcn/new_data/{folder}/out1_node_feature_label.txt",
                    f"geom-gcn/new_data/{folder}/out1_graph_edges.txt",
                    *_geom_split_files(split_name),
                ],
                splits=_GEOM_SPLITS,
                size=_SIZES[nm],
            )
        )
    for nm, metric, desc in (
        ("chameleon-filtered", "accuracy", "chameleon without duplicate nodes (Platonov 2023)"),
        ("squirrel-filtered", "accuracy", "squirrel without duplicate nodes (Platonov 2023)"),
        ("minesweeper", "roc_auc", "Minesweeper grid graph, binary (Platonov 2023)"),
        ("tolokers", "roc_auc", "Toloka workers graph, binary (Platonov 2023)"),
        # Not in shared/data (≥ 4 MiB each): downloaded from the pinned commit, verified by git
        # blob SHA-1. Sizes as the authors' README gives them (edges stored once, symmetrised).
        (
            "roman-empire",
            "accuracy",
            "Wikipedia word-dependency graph, 22662 nodes, 32927 edges, 300 features, 18 classes "
            "(Platonov 2023; not in shared/data)",
        ),
        (
            "amazon-ratings",
            "accuracy",
            "Amazon co-purchasing graph, 24492 nodes, 93050 edges, 300 features, 5 classes "
            "(Platonov 2023; not in shared/data)",
        ),
        (
            "questions",
            "roc_auc",
            "Yandex Q users graph, 48921 nodes, 153540 edges, 301 features, binary "
            "(Platonov 2023; not in shared/data)",
        ),
    ):
        infos.append(
            DatasetInfo(
                nm,
                (nm.replace("-", "_"),) if "-" in nm else (),
                "heterophilous",
                desc,
                [f"heterophilous-graphs/{nm.replace('-', '_')}.npz"],
                metric=metric,
                splits="the 10 masks shipped with the file (≈50/25/25 %)",
                size=_SIZES.get(nm),
            )
        )
    infos.append(
        DatasetInfo(
            "syn-cora",
            ("syncora",),
            "syn-cora",
            "H2GCN synthetic graphs with Cora features and target homophily, 1490 nodes",
            [f"syn-cora/h{h:.2f}-r{r}.npz" for h in SYN_CORA_HOMOPHILY for r in (1, 2, 3)],
            params={"homophily": None, "replica": 1, **_SPLIT_PARAMS},
            splits=(
                "seeded class-stratified random splits (default 10 × 48/32/20 %); H2GCN's own "
                "protocol (DeepRobust setting='gcn') differs"
            ),
            example_params={"homophily": 0.5, "replica": 1},
        )
    )
    for spec, desc in (
        (
            OGB_DATASETS["ogbn-arxiv"],
            "OGB arXiv CS citation graph, 40 classes, OGB's time split (downloaded on demand; "
            "OGB's site: 169,343 nodes, 1,166,243 edges)",
        ),
        (
            OGB_DATASETS["ogbn-products"],
            "OGB Amazon co-purchasing graph, 47 classes, OGB's sales-ranking split (downloaded "
            "on demand; OGB's site: 2,449,029 nodes, 61,859,140 edges)",
        ),
    ):
        infos.append(
            DatasetInfo(
                spec.name,
                (spec.folder,),
                "ogb",
                desc,
                spec.files,
                splits=f"OGB's fixed '{spec.split}' split, the only one (masks [N, 1])",
            )
        )
    infos.append(
        DatasetInfo(
            "csbm",
            (),
            "synthetic",
            "contextual stochastic block model generated on the fly (graff.data.csbm)",
            [],
            params={
                "num_nodes": 1000,
                "num_classes": 5,
                "homophily": 0.2,
                "avg_degree": 10.0,
                "num_features": 64,
                "feature_signal": 1.0,
                **_SPLIT_PARAMS,
            },
            splits="seeded class-stratified random splits (default 10 × 48/32/20 %)",
        )
    )
    return infos


#: Every registered dataset, by canonical name (aliases resolve through :func:`load_dataset`).
DATASETS: Registry[DatasetInfo] = Registry("dataset")
for _info in _build_registry():
    DATASETS.register(_info.name, _info)


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-")


_LOOKUP: dict[str, str] = {}
for _info in DATASETS.values():
    for _a in (_info.name, *_info.aliases):
        _LOOKUP[_key(_a)] = _info.name


def list_datasets() -> list[DatasetInfo]:
    """All registered datasets (user ``.npz`` graphs load by path, see :func:`load_dataset`)."""
    return list(DATASETS.values())


def _resolve(name: str) -> DatasetInfo:
    check_dataset_name(name)
    canon = _LOOKUP.get(_key(name))
    if canon is None:
        valid = sorted(DATASETS)
        close = difflib.get_close_matches(_key(name), list(_LOOKUP), n=1, cutoff=0.6)
        hint = f" Did you mean {_LOOKUP[close[0]]!r}?" if close else ""
        raise GraphDataError(
            f"unknown dataset {name!r}.{hint} Valid names: {', '.join(valid)}; or 'npz:PATH' / "
            "a path ending in .npz for your own graph"
        )
    return DATASETS[canon]


def _coerce(where: str, key: str, value: Any, default: Any) -> Any:
    """``value`` as the type of ``default`` (int, float or str); text from a CLI is parsed."""
    if default is None or isinstance(default, bool):
        return value
    if isinstance(default, int):
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = int(value.strip())
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise GraphDataError(f"{where}: parameter {key} must be an integer, got {value!r}")
    if isinstance(default, float):
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value.strip())
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                finite = math.isfinite(value)
            except OverflowError:  # an int beyond float range
                finite = False
            if finite:
                return value
        raise GraphDataError(f"{where}: parameter {key} must be a finite number, got {value!r}")
    if isinstance(default, str) and not isinstance(value, str):
        raise GraphDataError(f"{where}: parameter {key} must be a string, got {value!r}")
    return value


def _check_params(info: DatasetInfo, params: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(params) - set(info.params))
    if unknown:
        allowed = ", ".join(f"{k}={v!r}" for k, v in info.params.items()) or "none"
        raise GraphDataError(
            f"dataset {info.name!r} does not take parameter(s) {unknown}; allowed (with "
            f"defaults): {allowed}"
        )
    where = f"dataset {info.name!r}"
    return {
        k: _coerce(where, k, params[k], d) if k in params else d for k, d in info.params.items()
    }


def _syn_cora_homophily(h: Any) -> float:
    try:
        hf = float(h)
    except (TypeError, ValueError):
        hf = float("nan")
    for cand in SYN_CORA_HOMOPHILY:
        if abs(hf - cand) < 1e-9:
            return cand
    raise GraphDataError(
        f"syn-cora needs homophily= one of {list(SYN_CORA_HOMOPHILY)}, got {h!r}; e.g. "
        "load_dataset('syn-cora', homophily=0.3, replica=1)"
    )


def _syn_cora_replica(r: Any) -> int:
    if r in (1, 2, 3) or (isinstance(r, str) and r.strip() in ("1", "2", "3")):
        return int(r)
    raise GraphDataError(f"syn-cora replica must be 1, 2 or 3, got {r!r}")


def _files_for(info: DatasetInfo, params: dict[str, Any]) -> list[str]:
    if info.name == "syn-cora":
        if params.get("homophily") is None:
            return list(info.files)
        h = _syn_cora_homophily(params["homophily"])
        r = _syn_cora_replica(params.get("replica", 1))
        return [f"syn-cora/h{h:.2f}-r{r}.npz"]
    return list(info.files)


def dataset_files_present(
    name: str, data_dir: str | os.PathLike[str] | None = None, **params: Any
) -> tuple[bool, list[str]]:
    """Whether every raw file of ``name`` is in a search directory; never downloads or hashes.

    Returns ``(all_present, missing_relpaths)``. For syn-cora, ``homophily``/``replica`` select one
    file; without them all 36 files are checked. Generated datasets need no files. An OGB
    dataset counts as present when a search directory holds its unzipped folder or its zip.
    """
    info = _resolve(name)
    p = _check_params(info, params)
    if info.family == "ogb":
        return ogb_files_present(OGB_DATASETS[info.name], data_dir)
    missing = [f for f in _files_for(info, p) if file_present(f, data_dir) is None]
    return (not missing, missing)


# --------------------------------------------------------------------------- builders


def _set_meta(data: Data, info: DatasetInfo) -> Data:
    data.name = info.name
    data.metric = info.metric
    return data


def _build_planetoid(info: DatasetInfo, paths: dict[str, Path], params: dict[str, Any]) -> Data:
    files = {e: paths[f"planetoid/ind.{info.name}.{e}"] for e in _PLANETOID_EXT}
    data = R.read_planetoid(files, info.name)
    split_paths = [paths[f] for f in _geom_split_files(info.name)]
    tr, va, te = R.read_geom_gcn_splits(split_paths, data.num_nodes)
    data.train_mask, data.val_mask, data.test_mask = tr, va, te
    out = (~(tr | va | te)).all(dim=1) & (data.y >= 0)
    if int(out.sum()):
        data.notes.append(f"{int(out.sum())} labelled nodes are in no mask of any geom-gcn split")
    return data


def _build_geom(info: DatasetInfo, paths: dict[str, Path], params: dict[str, Any]) -> Data:
    feat, edges, *splits = (paths[f] for f in info.files)
    data = R.read_geom_gcn(feat, edges, sparse_features=info.name == "film")
    tr, va, te = R.read_geom_gcn_splits(splits, data.num_nodes)
    data.train_mask, data.val_mask, data.test_mask = tr, va, te
    if info.name == "cornell_old":
        data.notes.append("cornell_old: Texas's features/labels with old Cornell edges and splits")
    return data


def _build_platonov(info: DatasetInfo, paths: dict[str, Path], params: dict[str, Any]) -> Data:
    return R.read_platonov(paths[info.files[0]])


def _build_ogb(info: DatasetInfo, paths: dict[str, Path], params: dict[str, Any]) -> Data:
    return read_ogb(OGB_DATASETS[info.name], paths)


def _build_syn_cora(info: DatasetInfo, paths: dict[str, Path], params: dict[str, Any]) -> Data:
    (rel,) = _files_for(info, params)
    data = R.read_syn_cora(paths[rel])
    tr, va, te = random_splits(
        data.y, params["num_splits"], params["train_frac"], params["val_frac"], params["seed"]
    )
    data.train_mask, data.val_mask, data.test_mask = tr, va, te
    data.notes.append(
        f"syn-cora {rel}: {params['num_splits']} seeded stratified random splits "
        f"({params['train_frac']:.2f}/{params['val_frac']:.2f}/rest, seed {params['seed']})"
    )
    return data


_BUILDERS: dict[str, Callable[[DatasetInfo, dict[str, Path], dict[str, Any]], Data]] = {
    "planetoid": _build_planetoid,
    "geom-gcn": _build_geom,
    "heterophilous": _build_platonov,
    "syn-cora": _build_syn_cora,
    "ogb": _build_ogb,
}

_USER_PARAMS: dict[str, Any] = {**_SPLIT_PARAMS, "metric": "accuracy"}


def _refuse_ignored_split_params(path: Path, params: dict[str, Any], has_masks: bool) -> None:
    """Split parameters for a file that brings its own masks would be silently ignored."""
    given = sorted(k for k in _SPLIT_PARAMS if k in params)
    if has_masks and given:
        raise GraphDataError(
            f"user graph {path} has its own train/val/test masks, so the split parameter(s) "
            f"{given} would be ignored; drop them (data.params), or remove the masks from the "
            "file to draw seeded random splits"
        )


def _load_user_npz(path_str: str, params: dict[str, Any]) -> Data:
    unknown = sorted(set(params) - set(_USER_PARAMS))
    if unknown:
        raise GraphDataError(
            f"user .npz graphs do not take parameter(s) {unknown}; allowed: {sorted(_USER_PARAMS)}"
        )
    p = {k: _coerce("user .npz graph", k, params.get(k, d), d) for k, d in _USER_PARAMS.items()}
    if p["metric"] not in ("accuracy", "roc_auc"):
        raise GraphDataError(f"metric must be 'accuracy' or 'roc_auc', got {p['metric']!r}")
    path = Path(path_str).expanduser()
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise GraphDataError(
            f"user graph file {path} {what}; pass 'npz:PATH' with PATH an existing .npz"
        )
    try:
        st = path.stat()
        digest = sha256_of(path)
    except OSError as exc:
        raise GraphDataError(f"cannot read user graph file {path}: {exc}") from exc
    resolved = str(path.resolve())
    key = {"loader_version": LOADER_VERSION, "npz": resolved, "params": p}
    source = {**key, "sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    cpath = entry_path(f"npz-{path.stem}", key)
    cached = load_entry(cpath, source)
    if cached is not None:
        _refuse_ignored_split_params(path, params, has_masks=drawn_note(cached) is None)
        return cached
    data, has_masks = read_user_npz(path)
    try:
        data = validate_graph(data)
    except GraphDataError as exc:
        raise GraphDataError(f"user graph {path}: {exc}") from exc
    _refuse_ignored_split_params(path, params, has_masks)
    if not has_masks:
        check_split_params(p, f"user graph {path}")
        tr, va, te = random_splits(
            data.y, p["num_splits"], p["train_frac"], p["val_frac"], p["seed"]
        )
        data.train_mask, data.val_mask, data.test_mask = tr, va, te
        data.notes.append(
            f"{DRAWN_NOTE}: {p['num_splits']} seeded stratified random splits "
            f"({p['train_frac']:.2f}/{p['val_frac']:.2f}/rest, seed {p['seed']})"
        )
    data.name = f"npz:{path.stem}"
    data.metric = p["metric"]
    save_entry(cpath, data, source)
    return data


def load_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool | None = None,
    **params: Any,
) -> Data:
    """Load a node-classification graph by name, in graff's data convention.

    Returned :class:`~torch_geometric.data.Data`:

    * ``x`` float32 ``[N, F]``, raw features (no normalisation; see :func:`row_normalize`);
    * ``edge_index`` int64 ``[2, E]``, undirected, coalesced, without self-loops;
    * ``y`` int64 ``[N]``, ``-1`` for unlabelled nodes;
    * ``train_mask``/``val_mask``/``test_mask`` bool ``[N, S]`` (``S = 10`` for benchmarks),
      never containing an unlabelled node;
    * ``name``, ``metric`` (``"accuracy"``/``"roc_auc"``), ``num_label_classes`` and ``notes``
      (the preprocessing and repairs done, in words).

    Names (case-insensitive, ``_``/``-`` interchangeable; see :func:`list_datasets`): ``cora``,
    ``citeseer``, ``pubmed``, ``texas``, ``wisconsin``, ``cornell``, ``cornell_old``, ``film``
    (``actor``), ``chameleon``, ``squirrel``, ``chameleon-filtered``, ``squirrel-filtered``,
    ``minesweeper``, ``tolokers``, ``roman-empire``, ``amazon-ratings``, ``questions`` (these
    three are not in shared/data: downloaded, or saved by hand, see :func:`fetch_file`),
    ``ogbn-arxiv`` (``arxiv``) and ``ogbn-products`` (``products``) (OGB's files and fixed
    split, downloaded on demand or found as ``DIR/ogb/arxiv/`` or ``DIR/ogb/arxiv.zip``; OGB
    publishes no checksum, so graff records the sha256 of the first copy it reads and verifies
    later loads against it; see :mod:`graff.data._ogb`),
    ``syn-cora`` (params ``homophily`` ∈ {0.0, 0.1, …, 0.9, 0.99,
    1.0}, ``replica`` ∈ {1, 2, 3}, ``num_splits``, ``train_frac``, ``val_frac``, ``seed``),
    ``csbm`` (params = :func:`csbm` keywords).

    **Your own graph**: ``"npz:PATH"`` or a name ending in ``.npz``. The file (``np.savez``) must
    hold ``x`` ``[N, F]`` real numbers or bools (``F >= 1``, ``|x| <= 1e18``), ``y`` ``[N]``
    integer class ids (``0..C-1``, ``-1`` = unlabelled; any integer dtype, bool, or
    integer-valued floats), and either ``edge_index`` ``[2, E]`` or ``edges`` ``[E, 2]`` integer
    (0-based; directed edges are symmetrised). Optional ``train_mask``/``val_mask``/``test_mask``
    bool (or 0/1), each ``[N]``, ``[S, N]`` or ``[N, S]``; without them ``num_splits`` seeded
    stratified random splits are drawn (params ``num_splits`` (1..1000), ``train_frac``,
    ``val_frac`` (> 0: the best epoch is picked on validation), ``seed``, and ``metric``).
    Platonov et al.'s files and the gnn-benchmark format (``adj_*``, ``attr_*``, ``labels``) read
    as they are. Object (pickled) arrays the graph needs are refused, never loaded.

    Parameters given as text (from a command line) are parsed to the type of their default.

    Raw files are found and verified by :func:`fetch_file` (``data_dir``, ``$GRAFF_DATA``, the
    user cache; ``download`` as there; for ``ogbn-*``, :func:`graff.data._ogb.fetch_ogb`, whose
    ``download=None`` asks whether snap.stanford.edu is reachable). Parsed graphs (file-based
    datasets and user ``.npz`` files) are cached under ``cache_dir()/processed``; an entry is
    used only if the checksums of its sources (raw files' sha256; the ``.npz``'s sha256, size
    and mtime) and of itself match, else it is rebuilt (with a :class:`GraphDataWarning` when
    it was damaged).

    Whether the result is a usable classification task (≥ 2 classes, non-empty distinct
    splits, a fitting metric) is checked by :func:`prepare_data` (:func:`check_task`).

    Raises:
        GraphDataError: unknown name or parameter, an unreadable or unusable user file, or a
            graph that fails :func:`validate_graph`.
        DataFileMissingError, DataFileCorruptError: see :func:`fetch_file`.
    """
    check_dataset_name(name)
    stripped = name.strip()
    if stripped.lower().startswith("npz:"):
        return _load_user_npz(stripped[4:], params)
    if stripped.lower().endswith(".npz"):
        return _load_user_npz(stripped, params)
    info = _resolve(stripped)
    p = _check_params(info, params)
    if "num_splits" in p:
        check_split_params(p, f"dataset {info.name!r}")
    if info.name == "csbm":
        data = csbm(**p)
        data = validate_graph(data)
        return _set_meta(data, info)
    if info.name == "syn-cora":
        p["homophily"] = _syn_cora_homophily(p["homophily"])
        p["replica"] = _syn_cora_replica(p["replica"])
    files = _files_for(info, p)
    checksums: dict[str, list[Any]]
    if info.family == "ogb":
        paths, checksums = fetch_ogb(OGB_DATASETS[info.name], data_dir, download=download)
    else:
        paths = {f: fetch_file(f, data_dir, download=download) for f in files}
        man = manifest()
        checksums = {f: [man[f].checksum, man[f].size] for f in files}
    source = {
        "loader_version": LOADER_VERSION,
        "dataset": info.name,
        "params": p,
        "files": checksums,
    }
    cpath = entry_path(info.name, source)
    cached = load_entry(cpath, source)
    if cached is not None:
        return cached
    data = _BUILDERS[info.family](info, paths, p)
    data = validate_graph(data)
    _set_meta(data, info)
    save_entry(cpath, data, source)
    return data

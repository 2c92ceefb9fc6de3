"""Regenerate ``manifest.csv`` from the shared data ``MANIFEST.md``.

Run once by a maintainer (not imported by the library)::

    python -m graff.data._make_manifest /path/to/shared/data/MANIFEST.md

Each table row ``| `relpath` | size | `sha256` | owner/repo@commit:`path` | licence |
`git blob` ...`` becomes the CSV row ``relpath,size,sha256,url,git_blob`` with ``url`` the
canonical raw GitHub address ``https://raw.githubusercontent.com/<owner>/<repo>/<commit>/<path>``.
The commit is used exactly as MANIFEST.md gives it (12 hex digits), which GitHub resolves for raw
downloads.

:data:`UPSTREAM_ONLY` adds the files that shared/data lacks but graff registers: no size or
sha256 (their content was never at hand), only the git blob SHA-1 of the upstream tree entry at
the pinned commit (``git ls-tree -r HEAD`` of the snapshot), by which they are verified
(see :mod:`graff.data._fetch`).
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

_ROW = re.compile(
    r"^\|\s*`(?P<rel>[^`]+)`\s*\|\s*(?P<size>\d+)\s*\|\s*`(?P<sha>[0-9a-f]{64})`\s*\|"
    r"\s*(?P<repo>[\w.-]+/[\w.-]+)@(?P<commit>[0-9a-f]+):`(?P<path>[^`]+)`"
    r"\s*\|[^|]*\|\s*`(?P<blob>[0-9a-f]{40})`"
)

_PLATONOV = "https://raw.githubusercontent.com/yandex-research/heterophilous-graphs"
_PLATONOV_COMMIT = "a431395582e929d88271309716bea4fe24ce6318"

#: ``(relpath, url, git blob SHA-1)`` of registered upstream files absent from shared/data:
#: Platonov et al.'s three large graphs (≥ 4 MiB each), blob ids from the tree of
#: yandex-research/heterophilous-graphs@a431395582e9 (the commit of shared/data's other files).
UPSTREAM_ONLY: tuple[tuple[str, str, str], ...] = tuple(
    (f"heterophilous-graphs/{name}.npz", f"{_PLATONOV}/{_PLATONOV_COMMIT}/data/{name}.npz", blob)
    for name, blob in (
        ("amazon_ratings", "29647a8b0ff0ef856d73d683a8c3595bd5efbd38"),
        ("questions", "4c7cb65057dbc9771af00fdfdee64a41b3875079"),
        ("roman_empire", "1f9bae5e95b28e529015269e98acb237b65d8d3b"),
    )
)


def parse_manifest(text: str) -> list[tuple[str, int, str, str, str]]:
    """Return ``(relpath, size, sha256, url, git_blob)`` for every file row of MANIFEST.md."""
    rows = []
    for line in text.splitlines():
        m = _ROW.match(line)
        if m is None:
            continue
        url = f"https://raw.githubusercontent.com/{m['repo']}/{m['commit']}/{m['path']}"
        rows.append((m["rel"], int(m["size"]), m["sha"], url, m["blob"]))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Write ``manifest.csv`` next to this file from the MANIFEST.md given on the command line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__)
        return 2
    rows: list[tuple[str, int | str, str, str, str]] = list(
        parse_manifest(Path(args[0]).read_text(encoding="utf-8"))
    )
    rows += [(rel, "", "", url, blob) for rel, url, blob in UPSTREAM_ONLY]
    rows.sort(key=lambda row: row[0])
    out = Path(__file__).with_name("manifest.csv")
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["relpath", "size", "sha256", "url", "git_blob"])
        w.writerows(rows)
    print(f"wrote {len(rows)} rows to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Regenerate ``manifest.csv`` from the shared data ``MANIFEST.md``.

Run once by a maintainer (not imported by the library)::

    python -m graff.data._make_manifest /path/to/shared/data/MANIFEST.md

Each table row ``| `relpath` | size | `sha256` | owner/repo@commit:`path` | ...`` becomes
the CSV row
``relpath,size,sha256,url`` with ``url`` the canonical raw GitHub address
``https://raw.githubusercontent.com/<owner>/<repo>/<commit>/<path>``. The commit is used
exactly as MANIFEST.md gives it (12 hex digits), which GitHub resolves for raw downloads.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

_ROW = re.compile(
    r"^\|\s*`(?P<rel>[^`]+)`\s*\|\s*(?P<size>\d+)\s*\|\s*`(?P<sha>[0-9a-f]{64})`\s*\|"
    r"\s*(?P<repo>[\w.-]+/[\w.-]+)@(?P<commit>[0-9a-f]+):`(?P<path>[^`]+)`"
)


def parse_manifest(text: str) -> list[tuple[str, int, str, str]]:
    """Return ``(relpath, size, sha256, url)`` for every file row of MANIFEST.md."""
    rows = []
    for line in text.splitlines():
        m = _ROW.match(line)
        if m is None:
            continue
        url = f"https://raw.githubusercontent.com/{m['repo']}/{m['commit']}/{m['path']}"
        rows.append((m["rel"], int(m["size"]), m["sha"], url))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Write ``manifest.csv`` next to this file from the MANIFEST.md given on the command line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__)
        return 2
    rows = parse_manifest(Path(args[0]).read_text(encoding="utf-8"))
    out = Path(__file__).with_name("manifest.csv")
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["relpath", "size", "sha256", "url"])
        w.writerows(sorted(rows))
    print(f"wrote {len(rows)} rows to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

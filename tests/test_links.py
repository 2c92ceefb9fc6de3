"""Every relative link of README.md and of the documentation pages (docs/**/*.md) names a file
the repository holds, so no link leads nowhere on GitHub or in the built site."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Markdown links and images: [text](target) / ![alt](target); the target up to a space or ")".
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")


def _pages() -> list[Path]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [p for p in pages if "generated" not in p.relative_to(ROOT).parts]


def _links(page: Path) -> list[tuple[int, str]]:
    out, fenced = [], False
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            out += [(number, m.group(1)) for m in LINK.finditer(line)]
    return out


def _relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")


def test_pages_are_found_and_have_links() -> None:
    pages = _pages()
    assert ROOT / "docs" / "index.md" in pages
    assert sum(len(_links(p)) for p in pages) > 50


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_to_a_file_of_the_repository(page: Path) -> None:
    broken = []
    for number, target in _links(page):
        if not _relative(target):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        inside = path == ROOT or ROOT in path.parents
        if not inside or not path.exists() or "shared" in path.relative_to(ROOT).parts:
            broken.append(f"{page.relative_to(ROOT)}:{number}: {target}")
    assert not broken, "links to files the repository does not hold:\n" + "\n".join(broken)


def test_a_broken_link_is_caught(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("see [x](missing.md), [y](https://example.org) and [z](#anchor)\n")
    assert [t for _, t in _links(page) if _relative(t)] == ["missing.md"]


def test_the_package_cites_public_sources_not_our_internal_notes() -> None:
    """What the wheel ships (configs' provenance, published.csv's sources, search spaces,
    code) cites public sources: shared/paper/REFERENCE.md is the team's notes, outside the
    repository, so a user reading "as quoted in shared/paper/REFERENCE.md" has nowhere to go."""
    cited = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "src" / "graff").rglob("*"))
        if path.is_file() and path.suffix in {".py", ".yaml", ".csv", ".md", ".txt"}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "REFERENCE.md" in line or "shared/paper" in line
    ]
    assert not cited, f"internal notes cited at {cited}"

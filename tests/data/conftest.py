"""Fixtures shared by the data tests."""

from __future__ import annotations

from pathlib import Path

import pytest

import graff.data._fetch as fetch_mod


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No host reachable (graff.data._fetch.host_reachable: GitHub, OGB's server), no
    GRAFF_DATA, empty user caches; returns an empty data dir."""
    monkeypatch.setattr(fetch_mod, "host_reachable", lambda host, timeout=2.0: False)
    monkeypatch.delenv("GRAFF_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("GRAFF_CACHE", str(tmp_path / "cache"))
    empty = tmp_path / "data"
    empty.mkdir()
    return empty

"""Shared pytest fixtures.

The tests mirror the package: ``tests/nn/`` tests ``graff.nn``, ``tests/train/`` tests
``graff.train``, and so on; top-level modules (``graff.registry``, ``graff.bench``, ...) are
tested at the top. Every folder is a package (``__init__.py``), so equal basenames
(``nn/test_cache.py``, ``data/test_cache.py``) coexist and shared helpers are imported as
``tests.graff_reference``.

* Every test session writes graff caches to a temporary directory (``GRAFF_CACHE`` and
  ``XDG_CACHE_HOME`` are redirected), never to the user's home.
* Tests run torch on one intra-op thread: their tensors are tiny, and on a busy 2-core
  machine a 2-thread OpenMP pool made them ~40× slower (threads spin waiting for each other).
* ``shared_data_dir`` is the real benchmark data root: ``$GRAFF_DATA`` if set, else
  ``<repo>/../shared/data``; tests using it are skipped when it does not exist. Mark such
  tests with ``@pytest.mark.shared_data``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent


def _shared_data_path() -> Path:
    env = os.environ.get("GRAFF_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _isolated_graff_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point graff's caches at a session temp dir for the whole test run."""
    root = tmp_path_factory.mktemp("graff-cache")
    saved = {k: os.environ.get(k) for k in ("GRAFF_CACHE", "XDG_CACHE_HOME")}
    os.environ["GRAFF_CACHE"] = str(root / "graff")
    os.environ["XDG_CACHE_HOME"] = str(root / "xdg")
    yield root
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread_in_shared_fixtures() -> Iterator[None]:
    """One torch thread already while module- and session-scoped fixtures run (they are set up
    before any function-scoped fixture; the syn-cora figure trained in 24 s instead of 1 s)."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Run each test with one torch thread, restoring the previous setting afterwards."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The shared benchmark data directory; skips the test if it is absent."""
    path = _shared_data_path()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path} (set GRAFF_DATA)")
    return path

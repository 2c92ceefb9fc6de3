# Two entry points (see README): `make demo` and `make test`. Both build the venv themselves.
# `make test` is the fast suite (tests marked slow are skipped, pyproject addopts);
# `make test-slow` runs only those; CI (.ci/run) runs both.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The real benchmark files, read-only; tests that need them are skipped when absent.
GRAFF_DATA ?= $(abspath ../shared/data)
export GRAFF_DATA

.PHONY: demo test test-slow lint check reproduce clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first and pinned: the local CPU build (an unpinned torch pulls a multi-GB CUDA build).
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/graff demo

test: $(VENV)/.installed
	$(PY) -m pytest

test-slow: $(VENV)/.installed
	$(PY) -m pytest -m slow

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests tools benchmarks
	$(VENV)/bin/ruff format --check src tests tools benchmarks
	$(VENV)/bin/mypy src tools

check: lint test

reproduce: $(VENV)/.installed
	$(VENV)/bin/graff reproduce

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

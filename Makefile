# Two entry points (see README): `make demo` and `make test`. Both build the venv themselves.
# `make test` is the fast suite (tests marked slow are skipped, pyproject addopts);
# `make test-slow` runs only those; CI (.ci/run) runs both.
# `make docs` builds the documentation site (docs/, Sphinx) with warnings as errors, runs the
# guides' code (the doctest builder), and writes the HTML outside the repository, to $(DOCS_OUT).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The real benchmark files, read-only; tests that need them are skipped when absent.
GRAFF_DATA ?= $(abspath ../shared/data)
export GRAFF_DATA
# Where `make docs` writes the site (never inside the repository): open $(DOCS_OUT)/index.html.
DOCS_OUT ?= $(abspath ../graff-docs-html)
SPHINX := $(VENV)/bin/sphinx-build -q -W --keep-going

.PHONY: demo test test-slow lint check docs reproduce clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first and pinned: the local CPU build (an unpinned torch pulls a multi-GB CUDA build).
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

# The docs extra (Sphinx, furo, MyST) on top of the dev environment; nothing else is installed.
$(VENV)/.docs-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q --disable-pip-version-check -e '.[docs]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/graff demo

# -n auto: one pytest worker per core (pytest-xdist); run `$(PY) -m pytest` for one process.
# --durations: the slowest tests, so a log shows what holds the suite near its 3-minute bar.
test: $(VENV)/.installed
	$(PY) -m pytest -n auto --durations=8

test-slow: $(VENV)/.installed
	$(PY) -m pytest -n auto -m slow

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests tools benchmarks
	$(VENV)/bin/ruff format --check src tests tools benchmarks
	$(VENV)/bin/mypy src tools

check: lint test

# -E: a fresh environment, so every page is read (and every warning shown) on each build;
# the doctest builder then runs every guide's code and every docstring example.
docs: $(VENV)/.docs-installed
	rm -rf docs/api/generated
	OMP_NUM_THREADS=1 $(SPHINX) -E -b html docs $(DOCS_OUT)
	OMP_NUM_THREADS=1 $(SPHINX) -E -b doctest docs $(DOCS_OUT)/.doctest
	@echo "docs: $(DOCS_OUT)/index.html"

reproduce: $(VENV)/.installed
	$(VENV)/bin/graff reproduce

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache docs/api/generated

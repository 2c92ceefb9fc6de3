"""Sphinx configuration of graff's documentation (``make docs`` builds it; HTML goes outside
the repository, see the Makefile).

Pages are MyST Markdown; the API reference is generated from the docstrings (autosummary over
each public module's ``__all__``); the config-key reference is generated from the schema
(``_ext/graff_docs.py``). Guides' code runs under the doctest builder, which ``make docs``
runs after the HTML build, so a guide whose code fails is a failed build.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import graff  # noqa: E402

project = "graff"
author = "graff contributors"
copyright = "2022-2026, graff contributors"
version = release = graff.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.doctest",
    "graff_docs",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
# The figures, analyses and records the pages show are data, not pages.
exclude_patterns = ["_build", "api/generated/*.md", "analysis/**", "history/**"]
templates_path = ["_templates"]

myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
# Pages link to Markdown files outside docs/ (benchmarks/README.md, ARCHITECTURE.md), which
# resolve on GitHub but are no Sphinx documents; tests/test_links.py checks that every
# relative link of README.md and docs/**/*.md resolves to a file of the repository instead.
suppress_warnings = ["myst.xref_missing"]

# Every cross-reference must resolve (graff_docs.resolve_graff finds graff's objects on their
# one page). Other libraries' types cannot: no intersphinx inventory is reachable offline.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(torch|torch_geometric|numpy|np|scipy|optuna|rich|collections|pathlib|os|typing|"
        r"types|contextlib|argparse|io|datetime|enum|dataclasses|abc)(\..*)?",
    ),
    # annotations Sphinx prints unqualified (from __future__ annotations and typing)
    (
        r"py:.*",
        r"(Tensor|Module|Parameter|Data|Path|PathLike|Callable|Iterator|Iterable|"
        r"Sequence|Mapping|Any|Generator|Optimizer|Axes|Figure|Study|Trial|T|dtype|device)",
    ),
    (r"py:.*", r"(int|float|str|bool|bytes|list|dict|tuple|set|None|object|type|callable)"),
    # napoleon's reading of Google-style types: "x (T, optional)" and "x (dict[str, T])"
    (r"py:class", r"optional|dict\[str"),
]

autosummary_generate = True
autosummary_ignore_module_all = False  # a module's public names are its __all__
autosummary_imported_members = True
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autodoc_default_options = {"show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# Guides run at one thread on tiny graphs; the data of the real benchmarks is optional.
doctest_global_setup = """
import os, tempfile, torch
torch.set_num_threads(1)
os.chdir(tempfile.mkdtemp(prefix="graff-docs-"))
try:
    import pgserver  # noqa: F401
    HAVE_PGSERVER = True
except ImportError:
    HAVE_PGSERVER = False
"""
doctest_default_flags = (
    __import__("doctest").ELLIPSIS
    | __import__("doctest").NORMALIZE_WHITESPACE
    | __import__("doctest").DONT_ACCEPT_TRUE_FOR_1
)

# The modules whose __all__ the API reference documents (api/index.md lists the same ones).
API_MODULES = [
    "graff",
    "graff.nn",
    "graff.energy",
    "graff.data",
    "graff.train",
    "graff.tune",
    "graff.scale",
    "graff.analyze",
    "graff.reproduce",
    "graff.experiments",
    "graff.bench",
    "graff.demo",
    "graff.paper",
    "graff.perf",
    "graff.device",
    "graff.registry",
    "graff.errors",
]
#: The low-level layer under graff.nn (api/index.md, "Low level").
LOW_LEVEL = [
    "graff.nn.sparse",
    "graff.nn.adjacency",
    "graff.nn.functional",
    "graff.nn.cache",
]
API_MODULES += LOW_LEVEL


def _home(obj: object, modules: list[str]) -> str | None:
    """The documented module an object belongs to: the longest one that prefixes (or is) the
    module it was defined in."""
    defined = getattr(obj, "__module__", None) or ""
    best = None
    for m in modules:
        if (defined == m or defined.startswith(m + ".")) and (best is None or len(m) > len(best)):
            best = m
    return best


def _reexports() -> dict[str, dict[str, str]]:
    """``{module: {name: home module}}`` for the names a module re-exports from another
    documented module: each object gets one page, at home; the re-exporter links to it. A
    low-level module's name that its public parent package exports is at home there."""
    import importlib

    out: dict[str, dict[str, str]] = {}
    exported_by: dict[int, list[str]] = {}
    for m in API_MODULES:
        for name in getattr(importlib.import_module(m), "__all__", []):
            exported_by.setdefault(id(getattr(importlib.import_module(m), name)), []).append(m)
    for m in API_MODULES:
        mod = importlib.import_module(m)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            home = _home(obj, API_MODULES) if callable(obj) else None
            if home in LOW_LEVEL:
                public = [
                    e
                    for e in exported_by[id(obj)]
                    if e not in LOW_LEVEL and obj.__module__.startswith(e + ".")
                ]
                home = public[0] if public else home
            if (
                home is not None
                and home != m
                and name in getattr(importlib.import_module(home), "__all__", [])
            ):
                out.setdefault(m, {})[name] = home
    return out


autosummary_context = {"reexports": _reexports()}

html_theme = "furo"
html_title = f"graff {release}"
html_static_path: list[str] = []

"""Sphinx extension of graff's docs: tables generated from the code, so nothing is typed twice.

``.. graff-config-keys::`` — every key of the run config (:mod:`graff.train.config`'s
dataclasses): its dotted name, type, default and meaning. The meaning is the field's ``#:``
comment in the schema; a model key without one takes its ``Args`` entry in
:class:`graff.nn.GRAFF`'s docstring (:class:`~graff.train.config.ModelConfig` says its fields
mean what GRAFF's arguments mean). A key with neither is a build warning.

Cross-references are checked (``nitpicky``): a reference to a graff name resolves to the page
that documents that object (a re-export, a submodule path such as
``graff.train.fit.make_optimizer`` or a name relative to the current module all find the
object's one page, :func:`resolve_graff`); a graff object or module that exists but has no
page of its own (a private module, a helper) is printed as code, unlinked; a name that does
not exist stays a warning, and so fails the build.

Docstrings write absolute values and norms as in the paper, ``|λ₋|``; reST would read
``|…|`` as a substitution, so :func:`escape_bars` escapes bars in prose (never inside
literals, roles, math, code or doctest blocks) before the docstring is parsed.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from collections.abc import Hashable
from types import ModuleType
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import make_refnode

logger = logging.getLogger(__name__)


def _args_section(obj: object) -> dict[str, str]:
    """``name -> text`` from the ``Args:`` section of a Google-style docstring."""
    doc = inspect.getdoc(obj) or ""
    m = re.search(r"^Args:\n(.*?)(?:\n\S|\Z)", doc, re.S | re.M)
    out: dict[str, str] = {}
    if not m:
        return out
    name = None
    for line in m.group(1).splitlines():
        head = re.match(r"^    (\*{0,2}\w+)(?: \([^)]*\))?: ?(.*)$", line)
        if head:
            name = head.group(1).lstrip("*")
            out[name] = head.group(2)
        elif name and line.startswith("        "):
            out[name] += " " + line.strip()
    return out


def _default(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        value: Any = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "(required)"
    if dataclasses.is_dataclass(value):
        return "(section)"
    if value is None:
        return "``null``"
    if isinstance(value, str):
        return f'``"{value}"``' if value else '``""``'
    return f"``{value!r}``"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", r"\|")


def config_key_rows() -> list[tuple[str, str, str, str]]:
    """(key, type, default, meaning) for every key of :class:`graff.train.RunConfig`."""
    from graff.nn import GRAFF
    from graff.train import config as schema

    attr_docs = ModuleAnalyzer.for_module(schema.__name__).find_attr_docs()
    graff_args = _args_section(GRAFF)
    rows: list[tuple[str, str, str, str]] = []

    def walk(cls: type, prefix: str) -> None:
        for f in dataclasses.fields(cls):
            ftype = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
            default = f.default_factory if f.default_factory is not dataclasses.MISSING else None
            if default is not None and dataclasses.is_dataclass(default):
                walk(default, f"{f.name}.")  # type: ignore[arg-type]
                continue
            meaning = " ".join(attr_docs.get((cls.__name__, f.name), [])).strip()
            if not meaning and cls is schema.ModelConfig and f.name in graff_args:
                meaning = graff_args[f.name] + " (as :class:`graff.nn.GRAFF`'s argument)"
            if not meaning:
                logger.warning(
                    "config key %s%s has no `#:` comment in graff.train.config",
                    prefix,
                    f.name,
                    type="graff",
                )
            rows.append((f"{prefix}{f.name}", ftype, _default(f), meaning))

    walk(schema.RunConfig, "")
    return rows


class ConfigKeys(SphinxDirective):
    """A table of every run-config key, generated from the schema."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        lines = [
            ".. list-table::",
            "   :header-rows: 1",
            "   :widths: 18 14 12 56",
            "",
            "   * - key",
            "     - type",
            "     - default",
            "     - meaning",
        ]
        for key, ftype, default, meaning in config_key_rows():
            lines += [
                f"   * - ``{key}``",
                f"     - ``{_cell(ftype)}``",
                f"     - {_cell(default)}",
                f"     - {_cell(meaning) or '—'}",
            ]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="graff-config-keys"), 0, container)
        return container.children


_SPANS = re.compile(r"(``.*?``|`[^`]*`)")


def escape_bars(
    app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """Escape ``|`` in docstring prose (absolute values, not substitutions)."""
    block: int | None = None  # indentation of the line that opened a literal/directive block
    doctest = False
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if block is not None:
            if stripped and indent <= block:
                block = None
            else:
                continue
        if doctest:
            if stripped:
                continue
            doctest = False
        if stripped.startswith(">>>"):
            doctest = True
            continue
        if stripped.startswith(("+-", "+=", "| ")):  # a grid table or a line block
            continue
        if stripped.startswith(".. ") or stripped.endswith("::"):
            block = indent
            if stripped.startswith(".. "):
                continue
        parts = _SPANS.split(line)
        lines[i] = "".join(p if k % 2 else p.replace("|", r"\|") for k, p in enumerate(parts))


#: Napoleon reads an attribute's first line "text: more" as "type: description"; an
#: attribute's comment here is prose, so its lines are kept as they were before napoleon.
_PROSE_KINDS = ("attribute", "data", "property")
_prose: dict[str, list[str]] = {}


def keep_prose(
    app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """Before napoleon: remember an attribute's, constant's or property's docstring."""
    if what in _PROSE_KINDS:
        _prose[name] = list(lines)


def restore_prose(
    app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """After napoleon: put back what :func:`keep_prose` remembered."""
    if what in _PROSE_KINDS and name in _prose:
        lines[:] = _prose.pop(name)


_MISSING = object()


def _lookup(path: str) -> Any:
    """The object named by a dotted ``path`` (a module, or attributes of one), or _MISSING."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, _MISSING)
            if obj is _MISSING:
                return _MISSING
        return obj
    return _MISSING


def _pages(env: Any) -> dict[int, tuple[str, str]]:
    """``id(object) → (docname, anchor)`` of every documented graff object (built once per
    build from the Python domain's objects)."""
    cache = getattr(env, "_graff_pages", None)
    if cache is None:
        cache = {}
        for name, entry in env.get_domain("py").objects.items():
            if not name.startswith("graff") or entry.aliased:
                continue
            obj = _lookup(name)
            if obj is not _MISSING and isinstance(obj, Hashable | type | ModuleType):
                cache.setdefault(id(obj), (entry.docname, entry.node_id))
        env._graff_pages = cache
    return cache


def resolve_graff(app: Sphinx, env: Any, node: Any, contnode: Any) -> Any:
    """A missing Python reference to a graff name: a link to the page of the object it names
    (found by identity), or the code text unlinked when the object exists without a page;
    None (the warning) when it does not exist."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    module, cls = node.get("py:module"), node.get("py:class")
    candidates = [target] if target.startswith("graff") else []
    if module:
        if cls:
            candidates.append(f"{module}.{cls}.{target}")
        candidates.append(f"{module}.{target}")
    page_obj = _lookup(str(node.get("refdoc", "")).rsplit("/", 1)[-1])
    home = getattr(page_obj, "__module__", None) if page_obj is not _MISSING else None
    if isinstance(page_obj, ModuleType):
        home = page_obj.__name__
    if home:
        candidates.append(f"{home}.{target}")
    for path in candidates:
        if not path.startswith("graff"):
            continue
        obj = _lookup(path)
        if obj is _MISSING:
            continue
        page = _pages(env).get(id(obj))
        if page is None:
            return contnode
        return make_refnode(app.builder, node["refdoc"], page[0], page[1], contnode, path)
    return None


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("graff-config-keys", ConfigKeys)
    app.connect("autodoc-process-docstring", keep_prose, priority=400)  # napoleon: 500
    app.connect("autodoc-process-docstring", restore_prose, priority=550)
    app.connect("autodoc-process-docstring", escape_bars, priority=600)
    app.connect("missing-reference", resolve_graff)
    return {"version": "1", "parallel_read_safe": True}

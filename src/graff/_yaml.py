"""Reading the YAML a user writes (configs, search spaces): PyYAML's safe loader, strict
about repeated keys.

PyYAML keeps the last of two equal keys in a mapping without a word, so a config with
``model:`` twice would silently lose the first section. :func:`load_yaml` refuses it and
names the key and both lines.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["DuplicateKeyError", "load_yaml", "yaml_problem"]


class DuplicateKeyError(yaml.YAMLError):
    """A mapping of the document has the same key twice."""


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing a key that appears twice in one mapping."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: PyYAML's own error says so
            break
        line = key_node.start_mark.line + 1
        if first is not None:
            raise DuplicateKeyError(
                f"key {key!r} appears twice in one mapping (lines {first} and {line}); "
                "YAML would keep only the last one: merge them or delete one"
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def load_yaml(text: str) -> Any:
    """Parse ``text`` like :func:`yaml.safe_load`, but a repeated mapping key is a
    :class:`DuplicateKeyError` (a :class:`yaml.YAMLError`) naming the key and its lines."""
    return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass


def yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML error in one line: what is wrong and where (PyYAML's own message spans several
    lines and quotes the text)."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = err.problem or err.context or "invalid YAML"
        if what == "but found another document":
            what = "more than one YAML document (a second '---'); keep one"
        return f"{what}{where}"
    return " ".join(str(err).split())

"""Reading one YAML config document while remembering the line of every key.

Values are built node by node so that each key path (``("proxy", "endpoints", "/pagerduty")``,
list items as ints) maps to the 1-based line where it is written; errors and
``Config.location`` use that.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ._exceptions import ConfigError

KeyPath = tuple[str | int, ...]

_KEY_PATH_PART = re.compile(r"^([^\[\]]*)((?:\[\d+\])*)$")
_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _ConfigLoader(yaml.SafeLoader):
    """YAML 1.2-style scalars, as Backstage's parser reads them.

    PyYAML follows YAML 1.1, where ``on``/``no``/``yes`` are booleans (``country: NO`` becomes
    False) and dates become ``datetime.date``. Operators paste Backstage configs that rely on
    1.2 behaviour, so only true/false are booleans and timestamps stay strings.
    """

    yaml_implicit_resolvers = {
        first: [
            (tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL_TAG, _TIMESTAMP_TAG)
        ]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


_ConfigLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def format_key_path(path: KeyPath) -> str:
    """``("a", "b", 0, "c")`` -> ``a.b[0].c``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def parse_key_path(key_path: str) -> KeyPath:
    """``a.b[0].c`` -> ``("a", "b", 0, "c")``; the inverse of ``format_key_path``."""
    if not key_path:
        return ()
    parts: list[str | int] = []
    for segment in key_path.split("."):
        match = _KEY_PATH_PART.match(segment)
        if match is None:
            parts.append(segment)
            continue
        name, indexes = match.groups()
        if name:
            parts.append(name)
        parts.extend(int(i) for i in re.findall(r"\d+", indexes))
    return tuple(parts)


def parse_yaml(text: str, file: str) -> tuple[Any, dict[KeyPath, int]]:
    """Parse one YAML document; return its value and the line of every key path in it."""
    loader = _ConfigLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        builder = _Builder(loader, file)
        return builder.build(node, ()), builder.lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise ConfigError(
            f"invalid YAML: {problem}; fix the syntax at this line",
            file=file,
            line=mark.line + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from None
    finally:
        loader.dispose()


class _Builder:
    def __init__(self, loader: _ConfigLoader, file: str) -> None:
        self._loader = loader
        self._file = file
        self._open: set[int] = set()
        self.lines: dict[KeyPath, int] = {}

    def build(self, node: Node, path: KeyPath) -> Any:
        if isinstance(node, ScalarNode):
            return self._loader.construct_object(node, deep=True)
        if id(node) in self._open:
            raise ConfigError(
                "a YAML alias refers to a node that contains it; remove the recursive alias",
                file=self._file,
                key_path=format_key_path(path) or None,
                line=node.start_mark.line + 1,
            )
        self._open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return self._sequence(node, path)
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            return self._loader.construct_object(node, deep=True)
        finally:
            self._open.discard(id(node))

    def _sequence(self, node: SequenceNode, path: KeyPath) -> list[Any]:
        items = []
        for index, child in enumerate(node.value):
            self.lines[(*path, index)] = child.start_mark.line + 1
            items.append(self.build(child, (*path, index)))
        return items

    def _mapping(self, node: MappingNode, path: KeyPath) -> dict[str, Any]:
        self._reject_duplicate_keys(node, path)
        # Merge keys (`<<: *defaults`) come first, so the mapping's own keys override them.
        self._loader.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            self.lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, (*path, key))
        return result

    def _key(self, key_node: Node, path: KeyPath) -> str:
        if not isinstance(key_node, ScalarNode):
            raise ConfigError(
                "mapping keys must be plain strings, not lists or mappings",
                file=self._file,
                key_path=format_key_path(path) or None,
                line=key_node.start_mark.line + 1,
            )
        # JSON semantics: every key is a string, written as in the file (`404:` is "404").
        return str(key_node.value)

    def _reject_duplicate_keys(self, node: MappingNode, path: KeyPath) -> None:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
                continue
            key = str(key_node.value)
            if key in seen:
                raise ConfigError(
                    f"duplicate key '{key}'; keep only one of them",
                    file=self._file,
                    key_path=format_key_path((*path, key)),
                    line=key_node.start_mark.line + 1,
                )
            seen.add(key)

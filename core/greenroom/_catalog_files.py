"""Reading the catalog's files: ``catalog.locations`` lists ``{type: file, target: <path or
glob>}`` entries relative to the config file that names them; each file may hold several YAML
documents. A ``kind: Location`` document pulls in more files (``spec.target`` /
``spec.targets``), relative to its own file.

Loading never stops at the first bad file: every missing file, YAML syntax error and invalid
document becomes a :class:`CatalogProblem` (file, line, reason) and everything else still loads.
"""

from __future__ import annotations

import gc
import glob
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ._catalog import Catalog, CatalogProblem
from ._descriptor import entity_from_document, type_name
from ._entity import Entity

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_catalog(locations: Sequence[Mapping[str, Any]] | None, base_dir: Path) -> Catalog:
    """Read every location (``{type: file, target: <path or glob>}``, relative to ``base_dir``).

    Never raises for bad input: problems are collected in :attr:`Catalog.problems`.
    """
    entities: list[Entity] = []
    problems: list[CatalogProblem] = []
    seen_files: set[Path] = set()
    pending: list[tuple[Any, Path, str, int | None]] = [
        (location, base_dir, f"catalog.locations[{index}]", None)
        for index, location in enumerate(locations or [])
    ]
    while pending:
        location, folder, where, line = pending.pop(0)
        files, location_problems = _expand_location(location, folder, where, line)
        problems.extend(location_problems)
        for path in files:
            key = path.resolve()
            if key in seen_files:
                continue
            seen_files.add(key)
            found, file_problems, nested = _read_file(path)
            entities.extend(found)
            problems.extend(file_problems)
            pending.extend(nested)
    return Catalog(entities, problems)


def load_catalog_text(
    yaml_text: str, source: str = "<text>"
) -> tuple[list[Entity], list[CatalogProblem]]:
    """Entities and problems of one YAML text (several documents allowed), e.g. a plugin's demo
    catalog. ``source`` names the text in problems and in :attr:`Entity.source`."""
    entities, problems, _ = _parse_documents(yaml_text, source)
    return entities, problems


def _expand_location(
    location: Any, folder: Path, where: str, line: int | None
) -> tuple[list[Path], list[CatalogProblem]]:
    def problem(reason: str) -> tuple[list[Path], list[CatalogProblem]]:
        return [], [CatalogProblem(where, line, reason)]

    if not isinstance(location, Mapping):
        return problem(
            f"a location must be a mapping like {{type: file, target: catalog-info.yaml}}, "
            f"got {type_name(location)}"
        )
    kind = location.get("type", "file")
    if kind != "file":
        return problem(
            f"Unknown location type {kind!r}; only 'file' is supported, with a target "
            "relative to the config file"
        )
    target = location.get("target")
    if not isinstance(target, str) or not target.strip():
        return problem("a file location needs 'target': a path or glob of catalog-info.yaml files")
    pattern = folder / target
    if any(char in target for char in "*?["):
        matches = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True))
        files = [p for p in matches if p.is_file()]
        if not files:
            return problem(f"no files match {target!r} (looked in {folder})")
        return files, []
    return [pattern], []


def _read_file(
    path: Path,
) -> tuple[list[Entity], list[CatalogProblem], list[tuple[Any, Path, str, int | None]]]:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], [CatalogProblem(source, None, "file not found; check the location's target")], []
    except IsADirectoryError:
        return [], [CatalogProblem(source, None, "is a folder; point the target at a YAML file "
                                   "or use a glob such as 'services/*/catalog-info.yaml'")], []
    except UnicodeDecodeError as exc:
        return [], [CatalogProblem(source, None, f"not UTF-8 text ({exc.reason})")], []
    except OSError as exc:
        return [], [CatalogProblem(source, None, f"cannot read the file: {exc.strerror}")], []
    entities, problems, nested = _parse_documents(text, source)
    return entities, problems, [(loc, path.parent, source, ln) for loc, ln in nested]


def _parse_documents(
    text: str, source: str
) -> tuple[list[Entity], list[CatalogProblem], list[tuple[Any, int]]]:
    """Entities, problems and the nested locations of ``kind: Location`` documents."""
    loader = _Loader(text)
    entities: list[Entity] = []
    problems: list[CatalogProblem] = []
    nested: list[tuple[Any, int]] = []
    # Each document is turned into its entity as soon as it is read, so its node tree can go;
    # the cyclic collector is paused meanwhile: a large file allocates hundreds of thousands
    # of nodes that are all still alive, and each collection would walk them all again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        while loader.check_node():
            node = loader.get_node()
            _add_document(node, _construct(loader, node), source, entities, problems, nested)
    except yaml.YAMLError as exc:
        # A half-read file is not trustworthy: report it and load nothing from it.
        mark = getattr(exc, "problem_mark", None)
        detail = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        reason = f"invalid YAML: {detail}" + (f" ({context})" if context else "")
        return [], [CatalogProblem(source, mark.line + 1 if mark else None, reason + "; no "
                                   "entities were loaded from this file")], []
    finally:
        loader.dispose()
        if collecting:
            gc.enable()
    return entities, problems, nested


def _add_document(
    node: yaml.Node,
    data: Any,
    source: str,
    entities: list[Entity],
    problems: list[CatalogProblem],
    nested: list[tuple[Any, int]],
) -> None:
    if data is None:  # an empty document, e.g. a trailing `---`
        return
    entity, errors = entity_from_document(data, source, node.start_mark.line + 1)
    # Line numbers of every key are only needed to point at a problem or a nested location.
    lines: dict[tuple[Any, ...], int] = {}
    if errors or (entity is not None and entity.kind.lower() == "location"):
        _index_lines(node, (), lines)
    for path, reason in errors:
        problems.append(CatalogProblem(source, _nearest_line(lines, path), reason))
    if entity is None:
        return
    entities.append(entity)
    if entity.kind.lower() == "location":
        nested.extend(_location_targets(entity, lines))


_STR, _SEQ, _MAP = (f"tag:yaml.org,2002:{t}" for t in ("str", "seq", "map"))


class _Slow(Exception):
    """The document needs PyYAML's full constructor (aliases, merge keys, custom tags)."""


def _construct(loader: Any, node: yaml.Node) -> Any:
    """The document's Python value. Catalog files are plain mappings, lists and strings:
    building those straight from the composed nodes is several times faster than PyYAML's
    generic constructor (10,000 entities load in well under the time it takes), and anything
    else (aliases, ``<<`` merges, other tags) goes through PyYAML's constructor as before."""
    try:
        return _fast(loader, node, set())
    except _Slow:
        return loader.construct_document(node)
    finally:
        loader.constructed_objects = {}


def _fast(loader: Any, node: yaml.Node, seen: set[int]) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return node.value if node.tag == _STR else loader.construct_object(node, deep=True)
    if id(node) in seen:  # an alias: share and recurse as PyYAML does
        raise _Slow
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
        return [_fast(loader, item, seen) for item in node.value]
    if isinstance(node, yaml.MappingNode) and node.tag == _MAP:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag != _STR or not isinstance(key_node, yaml.ScalarNode):
                raise _Slow  # merge keys, non-string keys: PyYAML's rules and errors
            result[key_node.value] = _fast(loader, value_node, seen)
        return result
    raise _Slow


def _location_targets(entity: Entity, lines: dict[tuple[Any, ...], int]) -> list[tuple[Any, int]]:
    spec = entity.spec
    kind = spec.get("type", "file")
    targets: list[Any] = []
    if "target" in spec:
        targets.append(spec["target"])
    raw = spec.get("targets")
    targets.extend(raw if isinstance(raw, list) else [raw] if raw is not None else [])
    line = lines.get(("spec",), entity.source_line or 0)
    return [({"type": kind, "target": target}, line) for target in targets]


def _index_lines(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> None:
    """Record the 1-based line of every key path in a composed YAML node tree."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            child = (*path, key)
            lines[child] = key_node.start_mark.line + 1
            _index_lines(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*path, index), lines)


def _nearest_line(lines: dict[tuple[Any, ...], int], path: tuple[Any, ...]) -> int | None:
    # Pydantic reports keys as given; YAML keys are strings, list positions ints.
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())

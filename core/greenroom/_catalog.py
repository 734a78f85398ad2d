"""The catalog: entities read from Backstage descriptor files (``catalog-info.yaml``).

``catalog.locations`` lists ``{type: file, target: <path or glob>}`` entries relative to the
config file that names them; each file may hold several YAML documents. A ``kind: Location``
document pulls in more files (``spec.target`` / ``spec.targets``), relative to its own file.

Loading never stops at the first bad file: every missing file, YAML syntax error, invalid document
and duplicate entity becomes a :class:`CatalogProblem` (file, line, reason) and everything else
still loads. Validation follows Backstage's rules for names, namespaces, kinds, apiVersions and
annotation keys (``@backstage/catalog-model``'s ``KubernetesValidatorFunctions``).
"""

from __future__ import annotations

import dataclasses
import gc
import glob
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from ._entity import Entity, owner_key

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_NAME = re.compile(r"^[a-zA-Z0-9]+(?:[-_.][a-zA-Z0-9]+)*$")
_NAMESPACE = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")
_KIND = re.compile(r"^[a-zA-Z][a-zA-Z0-9]*$")
_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"^{_DNS_LABEL}(?:\.{_DNS_LABEL})*$")
_API_VERSION_NAME = re.compile(r"^[a-zA-Z0-9]+$")

#: Kinds whose ``spec.owner`` Backstage requires.
OWNED_KINDS = frozenset({"component", "api", "system", "resource"})

_NAME_RULE = (
    "expected 1 to 63 characters of [a-zA-Z0-9] in groups separated by single '-', '_' or '.'"
)


def _invalid(field_name: str, value: str, rule: str) -> PydanticCustomError:
    message = f"{field_name} {value!r} is not valid; {rule}"
    return PydanticCustomError("catalog_invalid", message)  # no context: used verbatim


def _check_name(value: str) -> str:
    if not (len(value) <= 63 and _NAME.match(value)):
        raise _invalid("metadata.name", value, _NAME_RULE)
    return value


def _check_namespace(value: str) -> str:
    if not (len(value) <= 63 and _NAMESPACE.match(value)):
        raise _invalid(
            "metadata.namespace",
            value,
            "expected 1 to 63 lower-case characters of [a-z0-9] in groups separated by "
            "single '-', '_' or '.'",
        )
    return value


def _check_kind(value: str) -> str:
    if not (len(value) <= 63 and _KIND.match(value)):
        raise _invalid("kind", value, "expected a letter followed by letters and digits, e.g. "
                       "'Component'")
    return value


def _check_api_version(value: str) -> str:
    prefix, slash, name = value.rpartition("/")
    valid = (
        bool(slash)
        and len(prefix) <= 253
        and _DNS_SUBDOMAIN.match(prefix) is not None
        and len(name) <= 63
        and _API_VERSION_NAME.match(name) is not None
    )
    if not valid:
        raise _invalid("apiVersion", value, "expected '<group>/<version>', e.g. "
                       "'backstage.io/v1alpha1'")
    return value


def _check_annotation_key(value: str) -> str:
    # Backstage: an optional DNS-subdomain prefix and a name, separated by a single '/'.
    prefix, slash, name = value.rpartition("/")
    valid = len(name) <= 63 and _NAME.match(name) is not None and (
        not slash or (len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix) is not None)
    )
    if not valid:
        raise _invalid(
            "metadata.annotations key",
            value,
            "expected '<dns-prefix>/<name>' such as 'pagerduty.com/service-id', where the name "
            "follows the metadata.name rules",
        )
    return value


class _Metadata(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    name: Annotated[str, AfterValidator(_check_name)]
    namespace: Annotated[str, AfterValidator(_check_namespace)] = "default"
    title: str | None = None
    description: str | None = None
    annotations: dict[Annotated[str, AfterValidator(_check_annotation_key)], str] = Field(
        default_factory=dict
    )
    labels: dict[str, str] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)


class _Descriptor(BaseModel):
    """One YAML document of a descriptor file, as Backstage's catalog model defines it."""

    model_config = ConfigDict(extra="allow", strict=True)

    apiVersion: Annotated[str, AfterValidator(_check_api_version)]  # noqa: N815 (YAML key)
    kind: Annotated[str, AfterValidator(_check_kind)]
    metadata: _Metadata
    spec: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class CatalogProblem:
    """Something in the catalog that could not be loaded: where it is and why."""

    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


class Catalog:
    """The loaded entities (sorted by kind, namespace, name) and the problems found loading them.

    Duplicates (same kind, namespace and name, ignoring case) are reported and the first kept.
    """

    def __init__(
        self, entities: Iterable[Entity] = (), problems: Iterable[CatalogProblem] = ()
    ) -> None:
        kept: dict[tuple[str, str, str], Entity] = {}
        found = list(problems)
        for entity in entities:
            key = _entity_key(entity.namespace, entity.kind, entity.name)
            first = kept.get(key)
            if first is not None:
                found.append(
                    CatalogProblem(
                        entity.source or "<unknown>",
                        entity.source_line,
                        f"Duplicate entity {entity.ref}: already defined at {_place(first)}; "
                        "the first definition is kept, remove or rename this one",
                    )
                )
                continue
            kept[key] = entity
        self._by_key = kept
        self.entities: list[Entity] = sorted(
            kept.values(), key=lambda e: (e.kind.lower(), e.namespace.lower(), e.name.lower())
        )
        self.problems: list[CatalogProblem] = found
        self._keys: list[tuple[str, str, str]] | None = None
        self._kinds: list[str] | None = None
        self._owners: list[str] | None = None

    @classmethod
    def from_entities(
        cls, entities: Iterable[Entity], problems: Iterable[CatalogProblem] = ()
    ) -> Catalog:
        return cls(entities, problems)

    def __len__(self) -> int:
        return len(self.entities)

    def replace(self, entity: Entity) -> None:
        """Swap in a changed copy of an entity the catalog holds (same kind, namespace and
        name): the service mapping page adds mapped annotations in memory this way."""
        key = _entity_key(entity.namespace, entity.kind, entity.name)
        old = self._by_key[key]
        self._by_key[key] = entity
        self.entities = [entity if e is old else e for e in self.entities]

    def find(self, namespace: str, kind: str, name: str) -> Entity | None:
        """The entity ``kind:namespace/name``; every part compares case-insensitively."""
        return self._by_key.get(_entity_key(namespace, kind, name))

    def search(
        self, query: str = "", kind: str | None = None, owner: str | None = None
    ) -> list[Entity]:
        """Entities matching every word of ``query`` (in name, title, owner, kind or
        description), of ``kind`` and owned by ``owner`` when given; all case-insensitive."""
        words = query.lower().split()
        if not (words or kind or owner):
            return list(self.entities)
        wanted_owner = owner_key(owner) if owner else None
        wanted_kind = kind.lower() if kind else None
        found = []
        for entity, (entity_kind, entity_owner, text) in zip(
            self.entities, self._search_keys(), strict=True
        ):
            if wanted_kind and entity_kind != wanted_kind:
                continue
            if wanted_owner is not None and entity_owner != wanted_owner:
                continue
            if all(word in text for word in words):
                found.append(entity)
        return found

    def _search_keys(self) -> list[tuple[str, str, str]]:
        """(kind, owner, searchable text) per entity, lower-cased once: a search of 10,000
        entities then costs a few milliseconds, not a rebuild of every entity's text."""
        if self._keys is None:
            self._keys = [
                (
                    e.kind.lower(),
                    owner_key(e.owner or ""),
                    " ".join(
                        part or "" for part in (e.name, e.title, e.owner, e.kind, e.description)
                    ).lower(),
                )
                for e in self.entities
            ]
        return self._keys

    def kinds(self) -> list[str]:
        if self._kinds is None:  # the catalog does not change once loaded
            self._kinds = sorted({e.kind for e in self.entities}, key=str.lower)
        return list(self._kinds)

    def owners(self) -> list[str]:
        if self._owners is None:
            self._owners = sorted({e.owner for e in self.entities if e.owner}, key=str.lower)
        return list(self._owners)


def merge_annotations(entities: Iterable[Entity]) -> list[Entity]:
    """Combine entities that share kind, namespace and name into the first one, adding the
    annotations the others carry (the first value wins on a clash).

    For catalogs assembled from fragments, such as the demo, where each plugin annotates the
    same service for itself; a real catalog reports such duplicates instead.
    """
    merged: dict[tuple[str, str, str], Entity] = {}
    for entity in entities:
        key = _entity_key(entity.namespace, entity.kind, entity.name)
        first = merged.get(key)
        if first is None:
            merged[key] = entity
            continue
        annotations = {**entity.annotations, **first.annotations}
        merged[key] = dataclasses.replace(first, annotations=annotations)
    return list(merged.values())


def _entity_key(namespace: str, kind: str, name: str) -> tuple[str, str, str]:
    return (namespace.lower(), kind.lower(), name.lower())


def _place(entity: Entity) -> str:
    source = entity.source or "<unknown>"
    return f"{source}:{entity.source_line}" if entity.source_line else source


# --- reading files ------------------------------------------------------------------------------


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
            f"got {_type_name(location)}"
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
    entity, errors = _entity_from_document(data, source, node.start_mark.line + 1)
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


def _entity_from_document(
    data: Any, source: str, line: int | None
) -> tuple[Entity | None, list[tuple[tuple[Any, ...], str]]]:
    if not isinstance(data, Mapping):
        return None, [((), f"a catalog document must be a mapping with apiVersion, kind, "
                       f"metadata and spec, got {_type_name(data)}")]
    try:
        descriptor = _Descriptor.model_validate(data)
    except ValidationError as exc:
        return None, [_describe_error(error) for error in exc.errors()]
    if descriptor.kind.lower() in OWNED_KINDS:
        owner = descriptor.spec.get("owner")
        if not isinstance(owner, str) or not owner.strip():
            got = "missing" if owner is None else f"a {_type_name(owner)}"
            return None, [(("spec", "owner") if "owner" in descriptor.spec else ("spec",),
                           f"spec.owner is required for kind {descriptor.kind} and must be a "
                           f"string such as 'team-payments' (got {got})")]
    metadata = descriptor.metadata
    return (
        Entity(
            kind=descriptor.kind,
            name=metadata.name,
            namespace=metadata.namespace,
            api_version=descriptor.apiVersion,
            title=metadata.title,
            description=metadata.description,
            annotations=metadata.annotations,
            labels=metadata.labels,
            tags=tuple(metadata.tags),
            spec=descriptor.spec,
            source=source,
            source_line=line,
        ),
        [],
    )


def _describe_error(error: Mapping[str, Any]) -> tuple[tuple[Any, ...], str]:
    loc = tuple(error["loc"])
    if loc and loc[-1] == "[key]":  # a dict key failed: point at the key itself
        loc = loc[:-1]
        return loc, str(error["msg"])
    where = _key_path(loc)
    kind = error["type"]
    if kind == "missing":
        return loc, f"{where} is required"
    if kind == "catalog_invalid":
        return loc, str(error["msg"])
    if kind.endswith("_type"):
        expected = kind.removesuffix("_type").replace("dict", "mapping").replace("list", "list")
        return loc, f"{where} must be a {expected}, got {_type_name(error.get('input'))}"
    return loc, f"{where}: {error['msg']}"


def _key_path(loc: tuple[Any, ...]) -> str:
    """``metadata.annotations["pagerduty.com/service-id"]``, ``metadata.tags[2]``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(part)):
            text += f".{part}" if text else str(part)
        else:
            text += f"[{str(part)!r}]"
    return text or "document"


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


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

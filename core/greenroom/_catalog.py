"""The catalog: the entities read from Backstage descriptor files (``catalog-info.yaml``, read
by ``greenroom._catalog_files`` and checked by ``greenroom._descriptor``), looked up by
reference, searched, and the problems found loading them.

Duplicates (same kind, namespace and name, ignoring case) are problems too: the first is kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from ._entity import Entity, owner_key


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

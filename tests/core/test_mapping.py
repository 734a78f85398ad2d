"""Service mapping: the stores (memory, SQLite, a PostgreSQL server), the catalog overlay (a
catalog annotation wins, nothing removed, files never written), suggestions and the export.
(The page through the real web app: tests/core/web/test_mapping.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from greenroom import (
    Entity,
    MappableService,
)
from greenroom._db import Database
from greenroom._mapping import (
    MemoryMappingStore,
    ServiceMapping,
    mapped_entity,
    snippet,
    suggest,
)
from greenroom._mapping_sql import SqlMappingStore

ANNOTATION = "alpha.example.com/service"
CATALOG = f"""\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout
  annotations: {{{ANNOTATION}: checkout}}
spec: {{type: service, owner: team-shop}}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger-service
  title: Ledger
  annotations: {{github.com/project-slug: acme/ledger}}
spec: {{type: service, owner: team-pay}}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {{name: team-pay}}
spec: {{type: team}}
"""
SERVICES = [
    MappableService("S-CHK", "Checkout", ANNOTATION, "checkout", ("KEY-CHECKOUT",)),
    MappableService("S-LED", "Ledger Service", ANNOTATION, "ledger"),
    MappableService("S-ID", "Identity", ANNOTATION, "identity"),
]


def _mapping(entity_ref: str, value: str, who: str = "ada") -> ServiceMapping:
    return ServiceMapping("alpha", entity_ref, ANNOTATION, value, who, datetime.now(UTC))


# -- stores -----------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryMappingStore()
        return
    url = (
        f"sqlite:///{tmp_path / 'mappings.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    database = Database(url)
    try:
        yield SqlMappingStore(database)
    finally:
        database.close()


def test_store_saves_replaces_and_deletes(store: Any) -> None:
    assert store.all() == []  # a database without the table yet has no mappings
    store.save(_mapping("component:default/a", "one"))
    store.save(_mapping("component:default/b", "two"))
    store.save(_mapping("component:default/a", "three", who="grace"))
    found = [(m.entity_ref, m.value, m.updated_by) for m in store.all()]
    assert found == [
        ("component:default/a", "three", "grace"),
        ("component:default/b", "two", "ada"),
    ]
    assert all(m.updated_at.tzinfo is not None for m in store.all())
    store.delete("alpha", "component:default/a")
    assert [m.entity_ref for m in store.all()] == ["component:default/b"]
    # A mapping may set more annotations than one (the account of a second PagerDuty account).
    store.save(replace(_mapping("component:default/c", "four"), extra=(("acme/account", "eu"),)))
    [kept] = [m for m in store.all() if m.entity_ref == "component:default/c"]
    assert kept.annotations == {ANNOTATION: "four", "acme/account": "eu"}


# -- the overlay, suggestions, snippets --------------------------------------------------------


def test_a_catalog_annotation_wins_and_nothing_is_removed() -> None:
    annotated = Entity("Component", "checkout", annotations={ANNOTATION: "checkout", "x": "1"})
    plain = Entity("Component", "ledger", annotations={"x": "1"})
    mappings = [_mapping(annotated.ref, "other"), _mapping(plain.ref, "ledger")]
    assert mapped_entity(annotated, mappings) is annotated
    mapped = mapped_entity(plain, mappings)
    assert dict(mapped.annotations) == {"x": "1", ANNOTATION: "ledger"}
    assert dict(plain.annotations) == {"x": "1"}


def test_a_mapping_with_an_account_is_applied_whole_or_not_at_all() -> None:
    """A service of another account adds its account annotation too; a catalog file that
    names another account contradicts the mapping, which then adds nothing."""
    mapping = replace(_mapping("component:default/a", "P1"), extra=(("acme/account", "eu"),))
    plain = Entity("Component", "a")
    assert dict(mapped_entity(plain, [mapping]).annotations) == {
        ANNOTATION: "P1", "acme/account": "eu",
    }
    same = Entity("Component", "a", annotations={"acme/account": "eu"})
    assert mapped_entity(same, [mapping]).annotations[ANNOTATION] == "P1"
    other = Entity("Component", "a", annotations={"acme/account": "us"})
    assert mapped_entity(other, [mapping]) == other


def test_suggestions_by_integration_key_then_by_name() -> None:
    keyed = Entity("Component", "storefront", annotations={"pager/key": "KEY-CHECKOUT"})
    assert suggest(keyed, SERVICES) == (SERVICES[0], "integration key in its annotations")
    named = Entity("Component", "ledger-service", title="Ledger")
    assert suggest(named, SERVICES) == (SERVICES[1], "similar name")
    assert suggest(Entity("Component", "wiki"), SERVICES) is None


def test_snippet_is_yaml_a_catalog_file_takes() -> None:
    entity = Entity("Component", "ledger", source="catalog/ledger.yaml")
    text = snippet(entity, {ANNOTATION: "ledger", "odd": 'a "b": c'})
    assert text.splitlines() == [
        "# component:default/ledger  (catalog/ledger.yaml)",
        "metadata:",
        "  name: ledger",
        "  annotations:",
        f"    {ANNOTATION}: ledger",
        '    odd: "a \\"b\\": c"',
    ]

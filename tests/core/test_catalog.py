"""The catalog in memory: finding and searching entities, duplicates, merged fragments."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenroom import Entity
from greenroom._catalog import Catalog, merge_annotations
from greenroom._catalog_files import load_catalog, load_catalog_text

from .test_catalog_files import FIXTURES, GOOD_LOCATIONS, catalog_document


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog(GOOD_LOCATIONS, FIXTURES)


def test_find_is_case_insensitive(catalog: Catalog) -> None:
    found = catalog.find("DEFAULT", "COMPONENT", "Payments-API")
    assert found is not None and found.name == "payments-api"
    assert catalog.find("default", "api", "payments-api") is None


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("", None),
        ("payments", ["payments-api", "team-payments"]),
        ("PAYMENTS API", ["payments-api"]),
        ("card payments", ["payments-api"]),
        ("team-platform", ["search"]),
        ("system", ["shop"]),
        ("nobody gets paged", ["docs-site"]),
        ("no-such-thing", []),
    ],
)
def test_search_matches_name_title_owner_kind_description(
    catalog: Catalog, query: str, names: list[str] | None
) -> None:
    found = [e.name for e in catalog.search(query)]
    assert found == (names if names is not None else [e.name for e in catalog.entities])


def test_search_filters_by_kind_and_owner(catalog: Catalog) -> None:
    assert [e.name for e in catalog.search(kind="group")] == ["team-payments", "team-web"]
    # `group:default/team-web`, `team-web` and `Group:team-web` are the same owner.
    assert [e.name for e in catalog.search(owner="team-web")] == ["checkout", "docs-site", "shop"]
    assert [e.name for e in catalog.search(owner="group:team-web", kind="Component")] == [
        "checkout",
        "docs-site",
    ]
    assert [e.name for e in catalog.search("docs", owner="team-web")] == ["docs-site"]


def test_duplicates_are_reported_naming_both_places_and_the_first_kept(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(catalog_document("Payments", extra="  title: First\n"))
    (tmp_path / "b.yaml").write_text(
        catalog_document("other") + "---\n"
        + catalog_document("payments", extra="  title: Second\n")
    )
    catalog = load_catalog([{"target": "a.yaml"}, {"target": "b.yaml"}], tmp_path)
    assert [(e.name, e.title) for e in catalog.entities] == [("other", None), ("Payments", "First")]
    [problem] = catalog.problems
    assert (problem.file, problem.line) == (str(tmp_path / "b.yaml"), 8)
    assert problem.reason.startswith(
        f"Duplicate entity component:default/payments: already defined at {tmp_path / 'a.yaml'}:1"
    )


def test_same_name_in_another_namespace_or_kind_is_not_a_duplicate() -> None:
    entities, _ = load_catalog_text(
        catalog_document("a") + "---\n" + catalog_document("a", kind="System") + "---\n"
        + catalog_document("a", extra="  namespace: other\n")
    )
    catalog = Catalog.from_entities(entities)
    assert len(catalog) == 3 and catalog.problems == []


def test_from_entities_reports_duplicates_across_sources() -> None:
    first = Entity(kind="Component", name="shop", spec={"owner": "a"}, source="pagerduty demo")
    second = Entity(kind="component", name="SHOP", spec={"owner": "b"}, source="splunk demo")
    catalog = Catalog.from_entities([first, second])
    assert catalog.entities == [first]
    assert "already defined at pagerduty demo" in catalog.problems[0].reason
    assert catalog.problems[0].file == "splunk demo"


def test_merge_annotations_combines_fragments_of_one_entity() -> None:
    pagerduty = load_catalog_text(
        catalog_document(
            "search-indexer", extra="  annotations:\n    pagerduty.com/service-id: P1\n"
        ),
        source="<demo:pagerduty>",
    )[0]
    splunk = load_catalog_text(
        catalog_document(
            "Search-Indexer",
            extra="  annotations:\n    splunk.com/on-call-team: Search\n"
            "    pagerduty.com/service-id: ignored\n",
        ),
        source="<demo:splunk-on-call>",
    )[0]
    other = load_catalog_text(catalog_document("wiki"))[0]
    merged = merge_annotations([*pagerduty, *other, *splunk])
    catalog = Catalog.from_entities(merged)
    assert catalog.problems == []
    indexer = catalog.find("default", "component", "search-indexer")
    assert indexer is not None and indexer.source == "<demo:pagerduty>"
    assert dict(indexer.annotations) == {
        "pagerduty.com/service-id": "P1",
        "splunk.com/on-call-team": "Search",
    }
    assert [e.name for e in catalog.entities] == ["search-indexer", "wiki"]

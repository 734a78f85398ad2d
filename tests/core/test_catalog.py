"""The catalog loader: Backstage descriptor files in, entities and located problems out."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenroom import Entity
from greenroom._catalog import (
    Catalog,
    CatalogProblem,
    load_catalog,
    load_catalog_text,
    merge_annotations,
)

FIXTURES = Path(__file__).parent / "fixtures" / "catalog"

GOOD_LOCATIONS = [
    {"type": "file", "target": "catalog-info.yaml"},
    {"type": "file", "target": "services/**/*.yaml"},
    {"type": "file", "target": "teams/locations.yaml"},
]


def _document(name: str = "svc", kind: str = "Component", extra: str = "") -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\n"
        f"kind: {kind}\n"
        "metadata:\n"
        f"  name: {name}\n"
        f"{extra}"
        "spec:\n"
        "  owner: team-a\n"
    )


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog(GOOD_LOCATIONS, FIXTURES)


# --- loading good files -------------------------------------------------------------------------


def test_loads_every_document_of_every_location_sorted(catalog: Catalog) -> None:
    assert catalog.problems == []
    assert [e.ref for e in catalog.entities] == [
        "component:default/checkout",
        "component:default/docs-site",
        "component:default/payments-api",
        "component:platform/search",
        "group:default/team-payments",
        "group:default/team-web",
        "location:default/teams",
        "system:default/shop",
    ]


def test_entity_fields_and_source(catalog: Catalog) -> None:
    payments = catalog.find("default", "Component", "payments-api")
    assert payments is not None
    assert payments.title == "Payments API"
    assert payments.description == "Takes card payments for the web shop."
    assert payments.owner == "team-payments"
    assert payments.type == "service" and payments.lifecycle == "production"
    assert dict(payments.annotations) == {"pagerduty.com/service-id": "PSERV01"}
    assert payments.tags == ("payments", "python")
    assert payments.source == str(FIXTURES / "catalog-info.yaml")
    assert payments.source_line == 2  # the document starts after the comment line
    checkout = catalog.find("default", "component", "checkout")
    assert checkout is not None and checkout.source_line == 16


def test_namespace_defaults_to_default_and_is_kept_when_given(catalog: Catalog) -> None:
    search = catalog.find("platform", "component", "search")
    assert search is not None and search.namespace == "platform"
    assert catalog.find("default", "component", "search") is None


def test_glob_targets_reach_nested_folders(catalog: Catalog) -> None:
    docs = catalog.find("default", "component", "docs-site")
    assert docs is not None
    assert docs.source == str(FIXTURES / "services" / "extra" / "docs.yaml")


def test_location_entities_pull_in_their_targets_once(catalog: Catalog) -> None:
    # teams/locations.yaml lists itself too: it must not loop or load twice.
    assert catalog.find("default", "group", "team-web") is not None
    assert len([e for e in catalog.entities if e.kind == "Location"]) == 1


def test_entity_is_an_immutable_record(catalog: Catalog) -> None:
    payments = catalog.find("default", "component", "payments-api")
    assert payments is not None
    with pytest.raises(TypeError):
        payments.annotations["pagerduty.com/service-id"] = "other"  # type: ignore[index]


# --- find and search ----------------------------------------------------------------------------


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


# --- bad files ----------------------------------------------------------------------------------


def test_missing_file_is_a_problem_and_the_rest_loads(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(_document("ok"))
    catalog = load_catalog(
        [{"type": "file", "target": "ok.yaml"}, {"type": "file", "target": "gone.yaml"}], tmp_path
    )
    assert [e.name for e in catalog.entities] == ["ok"]
    assert catalog.problems == [
        CatalogProblem(str(tmp_path / "gone.yaml"), None,
                       "file not found; check the location's target")
    ]


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(_document("ok"))
    (tmp_path / "broken.yaml").write_text(
        _document("first") + "---\nkind: Component\nmetadata:\n  name: [unclosed\n  x: y\n"
    )
    catalog = load_catalog([{"target": "*.yaml"}], tmp_path)
    assert [e.name for e in catalog.entities] == ["ok"]
    [problem] = catalog.problems
    assert problem.file == str(tmp_path / "broken.yaml")
    assert problem.line == 11  # `x: y`, where the unclosed flow sequence breaks
    assert problem.reason.startswith("invalid YAML: ")
    assert "no entities were loaded from this file" in problem.reason


def test_folder_and_non_utf8_targets_are_problems(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    catalog = load_catalog(
        [{"target": "folder"}, {"target": "latin1.yaml"}], tmp_path
    )
    reasons = [p.reason for p in catalog.problems]
    assert reasons[0].startswith("is a folder; point the target at a YAML file")
    assert reasons[1].startswith("not UTF-8 text")


def test_glob_matching_nothing_is_a_problem(tmp_path: Path) -> None:
    catalog = load_catalog([{"type": "file", "target": "services/*.yaml"}], tmp_path)
    assert catalog.entities == []
    assert catalog.problems == [
        CatalogProblem("catalog.locations[0]", None,
                       f"no files match 'services/*.yaml' (looked in {tmp_path})")
    ]


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ({"type": "url", "target": "https://github.com/x/catalog-info.yaml"},
         "Unknown location type 'url'; only 'file' is supported"),
        ({"type": "file"}, "a file location needs 'target'"),
        ("catalog-info.yaml", "a location must be a mapping"),
    ],
)
def test_bad_locations_are_problems(tmp_path: Path, location: object, reason: str) -> None:
    (tmp_path / "ok.yaml").write_text(_document("ok"))
    catalog = load_catalog([location, {"target": "ok.yaml"}], tmp_path)  # type: ignore[list-item]
    assert [e.name for e in catalog.entities] == ["ok"]
    [problem] = catalog.problems
    assert problem.file == "catalog.locations[0]"
    assert problem.reason.startswith(reason)


# --- bad documents ------------------------------------------------------------------------------


def test_bad_document_is_reported_at_its_line_and_its_neighbours_load(tmp_path: Path) -> None:
    (tmp_path / "mixed.yaml").write_text(
        _document("good-one")
        + "---\n"
        + _document("bad name")
        + "---\n"
        + _document("good-two")
    )
    catalog = load_catalog([{"target": "mixed.yaml"}], tmp_path)
    assert [e.name for e in catalog.entities] == ["good-one", "good-two"]
    [problem] = catalog.problems
    assert (problem.file, problem.line) == (str(tmp_path / "mixed.yaml"), 11)
    assert problem.reason.startswith("metadata.name 'bad name' is not valid")
    assert str(problem) == f"{tmp_path / 'mixed.yaml'}:11: {problem.reason}"


@pytest.mark.parametrize(
    "name",
    ["a", "A1", "my-service", "my_service", "my.service", "a-b_c.d", "x" * 63],
)
def test_valid_names(name: str) -> None:
    entities, problems = load_catalog_text(_document(name))
    assert problems == [] and entities[0].name == name


@pytest.mark.parametrize(
    "name", ["x" * 64, "-a", "a-", "a--b", "a-.b", "with space", "ümlaut", "a/b", "''"]
)
def test_invalid_names(name: str) -> None:
    entities, problems = load_catalog_text(_document(name))
    assert entities == []
    [problem] = problems
    assert problem.line == 4
    assert problem.reason.startswith("metadata.name ")
    assert "1 to 63 characters of [a-zA-Z0-9]" in problem.reason


@pytest.mark.parametrize(
    ("extra", "line", "reason"),
    [
        ("  namespace: Prod\n", 5, "metadata.namespace 'Prod' is not valid; expected 1 to 63 "
         "lower-case characters"),
        ("  annotations:\n    pagerduty.com/service-id: 12345\n", 6,
         "metadata.annotations['pagerduty.com/service-id'] must be a string, got number"),
        ("  annotations:\n    ok.example/key: v\n    'not valid key!': v\n", 7,
         "metadata.annotations key 'not valid key!' is not valid"),
        ("  annotations:\n    -bad.example/key: v\n", 6,
         "metadata.annotations key '-bad.example/key' is not valid"),
        ("  annotations: [a, b]\n", 5, "metadata.annotations must be a mapping, got list"),
        ("  title: 42\n", 5, "metadata.title must be a string, got number"),
    ],
)
def test_invalid_metadata(extra: str, line: int, reason: str) -> None:
    entities, problems = load_catalog_text(_document(extra=extra), source="x.yaml")
    assert entities == []
    assert [(p.file, p.line) for p in problems] == [("x.yaml", line)]
    assert problems[0].reason.startswith(reason)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("kind: Component\nmetadata:\n  name: a\nspec:\n  owner: x\n", 1, "apiVersion is required"),
        ("apiVersion: v1\nkind: Component\nmetadata:\n  name: a\nspec:\n  owner: x\n", 1,
         "apiVersion 'v1' is not valid"),
        ("apiVersion: backstage.io/v1alpha1\nkind: 2Component\nmetadata:\n  name: a\n", 2,
         "kind '2Component' is not valid"),
        ("apiVersion: backstage.io/v1alpha1\nkind: Component\nspec:\n  owner: x\n", 1,
         "metadata is required"),
        ("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  title: t\n", 3,
         "metadata.name is required"),
        ("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: 7\n", 4,
         "metadata.name must be a string, got number"),
        ("- just\n- a list\n", 1, "a catalog document must be a mapping"),
    ],
)
def test_invalid_document_shape(text: str, line: int, reason: str) -> None:
    entities, problems = load_catalog_text(text)
    assert entities == []
    assert problems[0].line == line
    assert problems[0].reason.startswith(reason)


@pytest.mark.parametrize("kind", ["Component", "API", "System", "Resource", "component"])
def test_owner_is_required_for_owned_kinds(kind: str) -> None:
    text = (
        f"apiVersion: backstage.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: a\n"
        "spec:\n  type: x\n"
    )
    entities, problems = load_catalog_text(text)
    assert entities == []
    [problem] = problems
    assert problem.line == 5
    assert problem.reason.startswith(f"spec.owner is required for kind {kind}")
    assert "(got missing)" in problem.reason


def test_owner_must_be_a_string() -> None:
    text = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: a\n"
        "spec:\n  type: x\n  owner:\n    - team-a\n"
    )
    [problem] = load_catalog_text(text)[1]
    assert problem.line == 7
    assert "(got a list)" in problem.reason


def test_kinds_without_an_owner_rule_load_without_one() -> None:
    text = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: ops\nspec: {}\n"
    entities, problems = load_catalog_text(text)
    assert problems == [] and entities[0].owner is None


def test_empty_documents_are_skipped() -> None:
    entities, problems = load_catalog_text("---\n" + _document("a") + "---\n---\n")
    assert [e.name for e in entities] == ["a"] and problems == []


def test_load_catalog_text_names_its_source() -> None:
    entities, _ = load_catalog_text(_document("demo"), source="plugin pagerduty demo catalog")
    assert entities[0].source == "plugin pagerduty demo catalog"
    assert entities[0].source_line == 1


# --- duplicates ---------------------------------------------------------------------------------


def test_duplicates_are_reported_naming_both_places_and_the_first_kept(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(_document("Payments", extra="  title: First\n"))
    (tmp_path / "b.yaml").write_text(
        _document("other") + "---\n" + _document("payments", extra="  title: Second\n")
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
        _document("a") + "---\n" + _document("a", kind="System") + "---\n"
        + _document("a", extra="  namespace: other\n")
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
        _document("search-indexer", extra="  annotations:\n    pagerduty.com/service-id: P1\n"),
        source="<demo:pagerduty>",
    )[0]
    splunk = load_catalog_text(
        _document("Search-Indexer", extra="  annotations:\n    splunk.com/on-call-team: Search\n"
                  "    pagerduty.com/service-id: ignored\n"),
        source="<demo:splunk-on-call>",
    )[0]
    other = load_catalog_text(_document("wiki"))[0]
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

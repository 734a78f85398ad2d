"""Reading the catalog's files: locations, globs, ``kind: Location`` documents, and every bad
file or document reported at its place while the rest loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenroom._catalog import Catalog, CatalogProblem
from greenroom._catalog_files import load_catalog, load_catalog_text

FIXTURES = Path(__file__).parent / "fixtures" / "catalog"

GOOD_LOCATIONS = [
    {"type": "file", "target": "catalog-info.yaml"},
    {"type": "file", "target": "services/**/*.yaml"},
    {"type": "file", "target": "teams/locations.yaml"},
]


def catalog_document(name: str = "svc", kind: str = "Component", extra: str = "") -> str:
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


def test_missing_file_is_a_problem_and_the_rest_loads(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(catalog_document("ok"))
    catalog = load_catalog(
        [{"type": "file", "target": "ok.yaml"}, {"type": "file", "target": "gone.yaml"}], tmp_path
    )
    assert [e.name for e in catalog.entities] == ["ok"]
    assert catalog.problems == [
        CatalogProblem(str(tmp_path / "gone.yaml"), None,
                       "file not found; check the location's target")
    ]


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(catalog_document("ok"))
    (tmp_path / "broken.yaml").write_text(
        catalog_document("first") + "---\nkind: Component\nmetadata:\n  name: [unclosed\n  x: y\n"
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
    (tmp_path / "ok.yaml").write_text(catalog_document("ok"))
    catalog = load_catalog([location, {"target": "ok.yaml"}], tmp_path)  # type: ignore[list-item]
    assert [e.name for e in catalog.entities] == ["ok"]
    [problem] = catalog.problems
    assert problem.file == "catalog.locations[0]"
    assert problem.reason.startswith(reason)


def test_bad_document_is_reported_at_its_line_and_its_neighbours_load(tmp_path: Path) -> None:
    (tmp_path / "mixed.yaml").write_text(
        catalog_document("good-one")
        + "---\n"
        + catalog_document("bad name")
        + "---\n"
        + catalog_document("good-two")
    )
    catalog = load_catalog([{"target": "mixed.yaml"}], tmp_path)
    assert [e.name for e in catalog.entities] == ["good-one", "good-two"]
    [problem] = catalog.problems
    assert (problem.file, problem.line) == (str(tmp_path / "mixed.yaml"), 11)
    assert problem.reason.startswith("metadata.name 'bad name' is not valid")
    assert str(problem) == f"{tmp_path / 'mixed.yaml'}:11: {problem.reason}"


def test_empty_documents_are_skipped() -> None:
    entities, problems = load_catalog_text("---\n" + catalog_document("a") + "---\n---\n")
    assert [e.name for e in entities] == ["a"] and problems == []


def test_load_catalog_text_names_its_source() -> None:
    entities, _ = load_catalog_text(
        catalog_document("demo"), source="plugin pagerduty demo catalog"
    )
    assert entities[0].source == "plugin pagerduty demo catalog"
    assert entities[0].source_line == 1

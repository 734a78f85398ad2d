"""Backstage's rules for one descriptor document: names, namespaces, kinds, apiVersions,
annotation keys and owners, each refusal at its line."""

from __future__ import annotations

import pytest

from greenroom._catalog_files import load_catalog_text

from .test_catalog_files import catalog_document


@pytest.mark.parametrize(
    "name",
    ["a", "A1", "my-service", "my_service", "my.service", "a-b_c.d", "x" * 63],
)
def test_valid_names(name: str) -> None:
    entities, problems = load_catalog_text(catalog_document(name))
    assert problems == [] and entities[0].name == name


@pytest.mark.parametrize(
    "name", ["x" * 64, "-a", "a-", "a--b", "a-.b", "with space", "ümlaut", "a/b", "''"]
)
def test_invalid_names(name: str) -> None:
    entities, problems = load_catalog_text(catalog_document(name))
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
    entities, problems = load_catalog_text(catalog_document(extra=extra), source="x.yaml")
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

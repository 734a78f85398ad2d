"""The coverage policy as configured: rule selection and the config's validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenroom import ConfigError, Entity
from greenroom._config import Config, load_config
from greenroom._coverage_policy import CoverageRule, load_policy


def entity(kind: str = "Component", **spec: str) -> Entity:
    annotations = {"acme.io/team": "x"} if spec.pop("annotated", "") else {}
    return Entity(kind=kind, name="svc", spec=spec, annotations=annotations)


def test_rule_selects_by_every_given_selector() -> None:
    rule = CoverageRule(name="r", kinds=["component", "API"], lifecycles=["production"],
                        owners=["group:default/team-a"], types=["service"])
    assert rule.selects(entity(lifecycle="production", owner="team-a", type="service"))
    assert not rule.selects(entity(lifecycle="experimental", owner="team-a", type="service"))
    assert not rule.selects(entity(lifecycle="production", owner="team-b", type="service"))
    assert not rule.selects(entity("Group", lifecycle="production", owner="team-a",
                                   type="service"))
    assert not rule.selects(entity(owner="team-a", type="service"))  # no lifecycle at all


def test_annotation_selectors_key_or_key_value() -> None:
    assert CoverageRule(name="r", annotations=["acme.io/team"]).selects(entity(annotated="1"))
    assert not CoverageRule(name="r", annotations=["acme.io/team"]).selects(entity())
    assert CoverageRule(name="r", annotations=["acme.io/team=x"]).selects(entity(annotated="1"))
    assert not CoverageRule(name="r", annotations=["acme.io/team=y"]).selects(
        entity(annotated="1")
    )


def test_selectors_may_be_grouped() -> None:
    policy = load_policy(Config({"coverage": {"rules": [
        {"name": "r", "selectors": {"kinds": ["API"], "lifecycles": ["production"]}}
    ]}}))
    assert policy.rules[0].kinds == ["API"]
    assert policy.rules[0].describe() == "kind API, lifecycle production"


def test_no_rules_means_no_policy() -> None:
    assert load_policy(Config({})).rules == []


@pytest.mark.parametrize(
    ("yaml_text", "key_path", "words"),
    [
        ("coverage:\n  rules:\n    - {kinds: [API]}\n", "coverage.rules[0].name", "required"),
        ("coverage:\n  rules:\n    - {name: r, kind: [API]}\n", "coverage.rules[0].kind",
         "Extra inputs"),
        ("coverage:\n  rules:\n    - {name: r, lifecycles: production}\n",
         "coverage.rules[0].lifecycles", "valid list"),
        ("coverage:\n  rules:\n    - {name: r, annotations: ['=x']}\n",
         "coverage.rules[0].annotations", "has no key"),
        ("coverage:\n  rules:\n    - {name: r}\n    - {name: r}\n", "coverage.rules",
         "two rules are named 'r'"),
    ],
)
def test_bad_policy_names_file_key_path_and_problem(
    tmp_path: Path, yaml_text: str, key_path: str, words: str
) -> None:
    path = tmp_path / "app-config.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as caught:
        load_policy(load_config([path]))
    assert caught.value.key_path == key_path
    assert words in str(caught.value)
    assert str(path) in str(caught.value)

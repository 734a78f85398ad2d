"""Which plugin ids are accepted, and the reason given for each refusal (Backstage's
create-plugin rules)."""

from __future__ import annotations

import pytest

from greenroom_scaffold import PluginSpec, ScaffoldError, check_plugin_id

ID_RULE = "Plugin IDs must be lowercase and contain only letters, digits, and dashes."


@pytest.mark.parametrize("plugin_id", ["acme-pager", "a", "pager2", "ops-genie-eu1"])
def test_valid_ids_are_accepted(plugin_id: str) -> None:
    check_plugin_id(plugin_id)


@pytest.mark.parametrize(
    "plugin_id", ["Acme", "acme_pager", "acme pager", "-acme", "acme-", "acme--pager", "é"]
)
def test_ids_breaking_the_rule_are_refused_with_the_rule(plugin_id: str) -> None:
    with pytest.raises(ScaffoldError) as refused:
        check_plugin_id(plugin_id)
    assert str(refused.value) == ID_RULE


def test_a_long_id_is_refused() -> None:
    check_plugin_id("northwind-pager-euw1")
    with pytest.raises(ScaffoldError) as refused:
        check_plugin_id("northwind-pager-euw12")
    assert "is 21 characters long; at most 20" in str(refused.value)


def test_an_empty_id_asks_for_one() -> None:
    with pytest.raises(ScaffoldError) as refused:
        check_plugin_id("")
    assert str(refused.value) == "Please enter an ID for the plugin"


@pytest.mark.parametrize("plugin_id", ["3am", "acme-3"])
def test_a_part_starting_with_a_digit_would_make_an_invalid_api_id(plugin_id: str) -> None:
    with pytest.raises(ScaffoldError) as refused:
        check_plugin_id(plugin_id)
    assert f"invalid API id 'plugin.{plugin_id}.api'" in str(refused.value)
    assert "must start with a letter" in str(refused.value)


@pytest.mark.parametrize(
    ("plugin_id", "distribution"), [("pagerduty", "greenroom"), ("splunk-on-call", "greenroom")]
)
def test_an_installed_plugin_id_is_refused(plugin_id: str, distribution: str) -> None:
    with pytest.raises(ScaffoldError) as refused:
        check_plugin_id(plugin_id)
    message = str(refused.value)
    assert f"Plugin ID '{plugin_id}' is already used by an installed plugin" in message
    assert f"distribution '{distribution}'" in message
    assert message.endswith("Please try again with a different plugin ID")


def test_an_id_whose_package_name_is_taken_is_refused() -> None:
    # `greenroom_scaffold` is this generator's own package.
    with pytest.raises(ScaffoldError) as refused:
        check_plugin_id("scaffold")
    assert "'greenroom_scaffold'" in str(refused.value)
    assert "already installed" in str(refused.value)


def test_names_derived_from_the_id() -> None:
    spec = PluginSpec(id="acme-pager", author="Jane", description="Pages")
    assert spec.module == "greenroom_acme_pager"
    assert spec.distribution == "greenroom-acme-pager"
    assert spec.title == "Acme Pager"
    assert spec.class_prefix == "AcmePager"
    assert spec.api_id == "plugin.acme-pager.api"

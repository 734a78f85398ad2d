"""Layering config as Backstage's config loader does: files merged over defaults, later wins,
``null`` removes, and ``APP_CONFIG_*`` environment variables over everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenroom import ConfigError
from greenroom._config import ConfigLocation, load_config

from ._config_files import write

# --- merging -------------------------------------------------------------------------------------


def test_later_files_win_and_mappings_merge_deeply(tmp_path: Path) -> None:
    base = write(
        tmp_path,
        "base.yaml",
        """
        app: {title: Base, baseUrl: http://base}
        plugins: {pagerduty: {cacheTtl: 30, eventsBaseUrl: http://events}}
        """,
    )
    local = write(
        tmp_path,
        "local.yaml",
        """
        app: {title: Local}
        plugins: {pagerduty: {cacheTtl: 5}}
        """,
    )

    config = load_config([base, local], env={})

    assert config.data == {
        "app": {"title": "Local", "baseUrl": "http://base"},
        "plugins": {"pagerduty": {"cacheTtl": 5, "eventsBaseUrl": "http://events"}},
    }


def test_lists_and_scalars_are_replaced_not_merged(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", "methods: [GET, POST]\nendpoint: {target: http://a}\n")
    local = write(tmp_path, "local.yaml", "methods: [GET]\nendpoint: http://b\n")

    config = load_config([base, local], env={})

    assert config.get("methods") == ["GET"]
    assert config.get("endpoint") == "http://b"
    assert config.location("endpoint") == ConfigLocation(str(local), 2)
    assert config.location("endpoint.target") is None


def test_null_removes_a_key_set_by_an_earlier_file(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", "plugins: {pagerduty: {cacheTtl: 30, enabled: true}}\n")
    local = write(tmp_path, "local.yaml", "plugins: {pagerduty: {cacheTtl: null}}\n")

    config = load_config([base, local], env={})

    assert config.data == {"plugins": {"pagerduty": {"enabled": True}}}
    assert config.location("plugins.pagerduty.cacheTtl") is None


def test_defaults_are_merged_before_the_files(tmp_path: Path) -> None:
    local = write(tmp_path, "local.yaml", "app: {title: Mine}\n")
    defaults = [
        {"app": {"title": "Demo", "baseUrl": "http://demo"}},
        {"proxy": {"endpoints": {"/pagerduty": "http://sim"}}},
    ]

    config = load_config([local], env={}, defaults=defaults)

    assert config.data == {
        "app": {"title": "Mine", "baseUrl": "http://demo"},
        "proxy": {"endpoints": {"/pagerduty": "http://sim"}},
    }
    assert defaults[0] == {"app": {"title": "Demo", "baseUrl": "http://demo"}}


def test_a_value_left_out_for_an_unset_variable_keeps_the_earlier_value(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", "backend: {secret: dev-secret}\n")
    production = write(tmp_path, "production.yaml", "backend: {secret: '${BACKEND_SECRET}'}\n")

    config = load_config([base, production], env={})

    assert config.get("backend.secret") == "dev-secret"
    assert [m.variable for m in config.missing_variables] == ["BACKEND_SECRET"]


# --- APP_CONFIG_ overrides -----------------------------------------------------------------------


def test_app_config_variables_override_files(tmp_path: Path) -> None:
    path = write(tmp_path, "app-config.yaml", "pagerDuty: {eventsBaseUrl: https://events}\n")
    env = {
        "APP_CONFIG_pagerDuty_eventsBaseUrl": "http://127.0.0.1:9000",
        "APP_CONFIG_plugins_pagerduty_cacheTtl": "15",
        "APP_CONFIG_plugins_splunk-on-call_enabled": "false",
        "APP_CONFIG_app_extra": '{"a": [1, "b"]}',
        "APP_CONFIG_app_title": "{not json",
        "APP_CONFIG_app_ignored": "",
    }

    config = load_config([path], env=env)

    assert config.data == {
        "pagerDuty": {"eventsBaseUrl": "http://127.0.0.1:9000"},
        "plugins": {"pagerduty": {"cacheTtl": 15}, "splunk-on-call": {"enabled": False}},
        "app": {"extra": {"a": [1, "b"]}, "title": "{not json"},
    }
    assert config.location("pagerDuty.eventsBaseUrl") == ConfigLocation(
        "environment variable APP_CONFIG_pagerDuty_eventsBaseUrl", None
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"APP_CONFIG_app__title": "x"}, "Invalid env config key 'app__title'"),
        ({"APP_CONFIG_app_title": "null"}, "value may not be null"),
        ({"APP_CONFIG_app": "3", "APP_CONFIG_app_title": "x"}, "Could not nest config"),
        (
            {"APP_CONFIG_app": '{"title": "a"}', "APP_CONFIG_app_title": "b"},
            "Refusing to override existing config at key 'app_title'",
        ),
    ],
)
def test_bad_app_config_variables_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config([], env=env)


def test_the_process_environment_is_used_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREENROOM_TEST_TITLE", "From the environment")
    monkeypatch.setenv("APP_CONFIG_app_owner", "sre")
    path = write(tmp_path, "app-config.yaml", "app: {title: '${GREENROOM_TEST_TITLE}'}\n")

    config = load_config([path])

    assert config.get("app") == {"title": "From the environment", "owner": "sre"}

"""The effective config (``greenroom._config``): reading values, where each was written, and
keeping secrets out of everything it shows. Loading's parts: test_config_yaml.py,
test_config_resolve.py, test_config_layers.py, test_config_validate.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from greenroom import ConfigError
from greenroom._config import Config, ConfigLocation, load_config

from ._config_files import FIXTURE_SECRETS, FIXTURES, load_operator_config, write


@pytest.fixture
def operator_config() -> Config:
    if not FIXTURES.is_dir():
        pytest.skip(f"config fixtures missing at {FIXTURES}")
    return load_operator_config()


# --- reading values ------------------------------------------------------------------------------


def test_get_reads_dotted_paths_with_defaults() -> None:
    config = Config({"a": {"b": {"c": 1}, "items": [{"name": "x"}]}, "gone": None})

    assert config.get("a.b.c") == 1
    assert config.get("a.items[0].name") == "x"
    assert config.get("a.b.missing", "default") == "default"
    assert config.get("a.items[3].name", "default") == "default"
    assert config.get("a.b.c.deeper", "default") == "default"
    assert config.get("gone", "default") == "default"


def test_require_names_the_key_path_and_how_to_set_it() -> None:
    with pytest.raises(ConfigError) as caught:
        Config({"app": {}}).require("app.baseUrl")

    assert caught.value.key_path == "app.baseUrl"
    assert "APP_CONFIG_app_baseUrl" in str(caught.value)
    assert Config({"app": {"baseUrl": "http://x"}}).require("app.baseUrl") == "http://x"


def test_require_of_a_value_dropped_for_an_unset_variable_names_the_variable(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "app-config.yaml", "backend:\n  secret: ${BACKEND_SECRET}\n")

    with pytest.raises(ConfigError) as caught:
        load_config([path], env={}).require("backend.secret")

    assert "environment variable BACKEND_SECRET is not set" in str(caught.value)
    assert (caught.value.file, caught.value.line) == (str(path), 2)


def test_location_gives_file_and_line_of_every_key(tmp_path: Path) -> None:
    base = write(
        tmp_path, "base.yaml", "app:\n  title: Base\n  baseUrl: http://x\nlist:\n  - a\n  - b\n"
    )
    local = write(tmp_path, "local.yaml", "\n\napp:\n  title: Local\n")

    config = load_config([base, local], env={})

    assert config.location("app.title") == ConfigLocation(str(local), 4)
    assert config.location("app.baseUrl") == ConfigLocation(str(base), 3)
    assert config.location("list[1]") == ConfigLocation(str(base), 6)
    assert config.location("app.nothing") is None


# --- secrets -------------------------------------------------------------------------------------


def test_the_operator_fixture_merges_as_an_operator_expects(operator_config: Config) -> None:
    assert operator_config.get("app.baseUrl") == "https://greenroom.example.com"
    assert operator_config.get("proxy.endpoints./splunk-on-call.allowedMethods") == ["GET", "POST"]
    assert operator_config.get("plugins.pagerduty") == {
        "eventsBaseUrl": "https://events.pagerduty.com/v2"
    }
    assert operator_config.get("plugins.splunk-on-call.username") == "greenroom-bot"
    assert operator_config.get("proxy.endpoints./splunk-on-call.headers") == {
        "X-VO-Api-Id": "vo-api-id-5678",
        "X-VO-Api-Key": "vo-key-from-file-4242",
        "Accept": "application/json",
    }


def test_redacted_hides_secret_keys_and_substituted_headers(operator_config: Config) -> None:
    redacted = operator_config.redacted()

    headers = redacted["proxy"]["endpoints"]["/splunk-on-call"]["headers"]
    assert headers == {
        "X-VO-Api-Id": "<redacted>",  # substituted into a header
        "X-VO-Api-Key": "<redacted>",  # key name, and read from a $file
        "Accept": "application/json",  # written in the config, not secret
    }
    auth = redacted["proxy"]["endpoints"]["/pagerduty"]["headers"]["Authorization"]
    assert auth == "<redacted>"
    assert redacted["proxy"]["endpoints"]["/pagerduty"]["target"] == "https://api.pagerduty.com"
    # The config itself is untouched.
    assert operator_config.get("proxy.endpoints./pagerduty.headers.Authorization") == (
        "Token token=pd-token-0123456789"
    )


@pytest.mark.parametrize(
    "key", ["apiToken", "routingKey", "clientSecret", "PASSWORD", "authorization", "X-Api-KEY"]
)
def test_keys_named_like_secrets_are_redacted_at_any_depth(key: str) -> None:
    config = Config({"plugins": {"x": {key: "value-to-hide", "nested": {key: {"deep": 42}}}}})

    assert config.redacted() == {
        "plugins": {"x": {key: "<redacted>", "nested": {key: {"deep": "<redacted>"}}}}
    }
    assert "value-to-hide" not in config.dump_redacted()


def test_dump_redacted_is_yaml_without_any_secret(operator_config: Config) -> None:
    dumped = operator_config.dump_redacted()

    for secret in FIXTURE_SECRETS:
        assert secret not in dumped
    assert yaml.safe_load(dumped)["plugins"]["splunk-on-call"]["username"] == "greenroom-bot"


def test_secret_values_and_scrub_cover_whole_values_and_substituted_parts(
    operator_config: Config,
) -> None:
    assert operator_config.secret_values >= {"Token token=pd-token-0123456789", *FIXTURE_SECRETS}

    log_line = "GET https://api.pagerduty.com failed; sent pd-token-0123456789 and vo-api-id-5678"
    scrubbed = operator_config.scrub(log_line)

    assert scrubbed == "GET https://api.pagerduty.com failed; sent <redacted> and <redacted>"


def test_a_secret_repeated_in_an_ordinary_value_is_scrubbed_when_shown(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "app-config.yaml",
        """
        proxy:
          endpoints:
            /x: {target: 'http://h', headers: {X-Team: '${TEAM_SECRET}'}}
        debug: {note: 'team secret is ${TEAM_SECRET}'}
        """,
    )

    config = load_config([path], env={"TEAM_SECRET": "abcdef-123"})

    assert config.redacted()["debug"]["note"] == "team secret is <redacted>"


def test_values_substituted_outside_headers_stay_visible(tmp_path: Path) -> None:
    path = write(tmp_path, "app-config.yaml", "app: {baseUrl: '${BASE_URL}'}\n")

    config = load_config([path], env={"BASE_URL": "http://portal.internal"})

    assert config.redacted() == {"app": {"baseUrl": "http://portal.internal"}}


def test_short_substituted_header_values_are_still_redacted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "app-config.yaml",
        """
        proxy:
          endpoints:
            /x: {target: 'http://h', headers: {X-Team: '${TEAM}', X-Env: {$env: ENV_NAME}}}
        """,
    )

    config = load_config([path], env={"TEAM": "t1", "ENV_NAME": "e2"})

    assert config.redacted()["proxy"]["endpoints"]["/x"]["headers"] == {
        "X-Team": "<redacted>",
        "X-Env": "<redacted>",
    }


def test_declared_secret_key_paths_are_redacted_and_scrubbed(tmp_path: Path) -> None:
    path = tmp_path / "app-config.yaml"
    endpoint = "https://alert.victorops.com/integrations/generic/20131114/alert/abcdef123456"
    path.write_text(f"splunkOnCall:\n  eventsRestEndpoint: {endpoint}\n")
    assert "abcdef123456" in load_config([path], env={}).dump_redacted()
    config = load_config([path], env={}, secret_paths=["splunkOnCall.eventsRestEndpoint"])
    assert config.get("splunkOnCall.eventsRestEndpoint") == endpoint
    assert "abcdef123456" not in config.dump_redacted()
    assert "abcdef123456" not in config.scrub(f"failed to reach {endpoint}")


def test_the_password_in_a_database_url_is_redacted_wherever_config_is_shown() -> None:
    from greenroom._config import Config

    config = Config({"database": {"url": "postgresql+psycopg://app:pa55w0rd@db:5432/portal"}})
    assert config.redacted()["database"]["url"] == (
        "postgresql+psycopg://app:<redacted>@db:5432/portal"
    )
    assert "pa55w0rd" not in config.dump_redacted()
    assert "pa55w0rd" not in config.scrub("could not connect as app with pa55w0rd")

"""Config loading, as Backstage's config loader does it: merging, `${VAR}`, includes, overrides,
errors, secrets."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, field_validator

from greenroom import ConfigError
from greenroom._config import (
    Config,
    ConfigLocation,
    MissingVariable,
    load_config,
    validate_section,
)

FIXTURES = Path(__file__).parent / "fixtures" / "config"
ENV = {"SECRET": "my-secret", "TOKEN": "my-token"}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_value(tmp_path: Path, value: Any, env: dict[str, str]) -> Config:
    """Load a config whose only value is ``a.value`` (dumped so YAML quoting cannot interfere)."""
    path = tmp_path / "app-config.yaml"
    path.write_text(yaml.safe_dump({"a": {"value": value}}), encoding="utf-8")
    return load_config([path], env=env)


# --- merging ---------------------------------------------------------------------------------


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


def test_yaml_reads_booleans_and_dates_like_yaml_1_2(tmp_path: Path) -> None:
    path = write(
        tmp_path, "app-config.yaml", "country: NO\nanswer: yes\non: true\nday: 2024-05-01\n"
    )

    config = load_config([path], env={})

    assert config.data == {"country": "NO", "answer": "yes", "on": True, "day": "2024-05-01"}


# --- ${VAR} substitution: every example of Backstage's config-loader substitution tests ------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("hello ${SECRET}", "hello my-secret"),
        ("${SECRET      } $${} ${TOKEN }", "my-secret ${} my-token"),
        ("foo $${ESCAPE_ME} $$${ESCAPE_ME_TOO} $${}", "foo ${ESCAPE_ME} $${ESCAPE_ME_TOO} ${}"),
        ("${ TOKEN }", "my-token"),
        ("no variables at all", "no variables at all"),
    ],
)
def test_variables_are_substituted(tmp_path: Path, value: str, expected: str) -> None:
    assert load_value(tmp_path, value, ENV).get("a.value") == expected


@pytest.mark.parametrize("value", ["foo ${MISSING}", "empty substitute ${}", "${SECRET} ${NOPE}"])
def test_a_value_with_any_unset_variable_is_absent_not_empty(tmp_path: Path, value: str) -> None:
    config = load_value(tmp_path, value, ENV)

    assert config.data == {"a": {}}
    assert config.get("a.value", "fallback") == "fallback"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "https://events.pagerduty.com"),
        ({"EVENTS_URL": ""}, "https://events.pagerduty.com"),
        ({"EVENTS_URL": "http://127.0.0.1:9000"}, "http://127.0.0.1:9000"),
    ],
)
def test_default_is_used_when_the_variable_is_unset_or_empty(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    config = load_value(tmp_path, "${EVENTS_URL:-https://events.pagerduty.com}", env)

    assert config.get("a.value") == expected
    assert config.missing_variables == []


def test_a_variable_set_to_the_empty_string_substitutes_empty(tmp_path: Path) -> None:
    assert load_value(tmp_path, "[${EMPTY}]", {"EMPTY": ""}).get("a.value") == "[]"


def test_list_items_with_unset_variables_are_dropped(tmp_path: Path) -> None:
    config = load_value(tmp_path, ["${SECRET}", "${MISSING}", "plain"], ENV)

    assert config.get("a.value") == ["my-secret", "plain"]
    assert config.missing_variables[0].key_path == "a.value[1]"


def test_missing_variables_name_key_variable_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "app-config.yaml",
        """
        proxy:
          endpoints:
            '/pagerduty':
              target: https://api.pagerduty.com
              headers:
                Authorization: Token token=${PAGERDUTY_TOKEN}
        """,
    )

    config = load_config([path], env={})

    assert config.missing_variables == [
        MissingVariable(
            key_path="proxy.endpoints./pagerduty.headers.Authorization",
            variable="PAGERDUTY_TOKEN",
            file=str(path),
            line=7,
        )
    ]
    assert config.get("proxy.endpoints./pagerduty.headers") == {}
    assert "PAGERDUTY_TOKEN is not set" in str(config.missing_variables[0])


# --- include objects ---------------------------------------------------------------------------


def test_env_include_reads_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "app-config.yaml", "backend:\n  secret:\n    $env: BACKEND_SECRET\n")

    assert load_config([path], env={"BACKEND_SECRET": "s3cr3t-value"}).data == {
        "backend": {"secret": "s3cr3t-value"}
    }


def test_env_include_of_an_unset_variable_is_absent_and_recorded(tmp_path: Path) -> None:
    path = write(tmp_path, "app-config.yaml", "backend:\n  secret:\n    $env: BACKEND_SECRET\n")

    config = load_config([path], env={})

    assert config.data == {"backend": {}}
    assert config.missing_variables == [
        MissingVariable("backend.secret", "BACKEND_SECRET", str(path), 2)
    ]


def test_file_include_reads_contents_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "deploy/secrets/token.txt", "file-token-value")
    write(tmp_path, "deploy/app-config.yaml", "backend:\n  secret: {$file: secrets/token.txt}\n")
    monkeypatch.chdir(tmp_path)  # somewhere else than the config file's folder

    config = load_config(["deploy/app-config.yaml"], env={})

    assert config.get("backend.secret") == "file-token-value"
    assert config.location("backend.secret") == ConfigLocation(
        str(Path("deploy/app-config.yaml")), 2
    )


def test_file_include_names_the_path_variable_and_key_when_the_file_is_missing(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "app-config.yaml", "backend:\n  secret: {$file: nowhere.txt}\n")

    with pytest.raises(ConfigError) as caught:
        load_config([path], env={})

    assert caught.value.file == str(path)
    assert caught.value.key_path == "backend.secret"
    assert caught.value.line == 2
    assert "nowhere.txt does not exist" in str(caught.value)


def test_include_selects_a_dotted_path_of_another_file(tmp_path: Path) -> None:
    other = write(
        tmp_path,
        "shared/other.yaml",
        """
        a:
          b:
            token: ${TOKEN}
            nested: {$file: ../token.txt}
        """,
    )
    write(tmp_path, "token.txt", "nested-file-token")
    path = write(tmp_path, "app-config.yaml", "section:\n  $include: shared/other.yaml#a.b\n")

    config = load_config([path], env=ENV)

    assert config.get("section") == {"token": "my-token", "nested": "nested-file-token"}
    # Lines inside the included file point into that file.
    assert config.location("section.token") == ConfigLocation(str(other), 4)


def test_include_without_a_dotted_path_takes_the_whole_file(tmp_path: Path) -> None:
    write(tmp_path, "other.json", '{"x": [1, 2]}')
    path = write(tmp_path, "app-config.yaml", "section: {$include: other.json}\n")

    assert load_config([path], env={}).get("section") == {"x": [1, 2]}


def test_include_key_with_adjacent_keys_is_refused_with_the_backstage_text(tmp_path: Path) -> None:
    path = write(tmp_path, "app-config.yaml", "backend:\n  secret:\n    $env: A\n    other: b\n")

    with pytest.raises(ConfigError) as caught:
        load_config([path], env={"A": "x"})

    assert caught.value.message == "include key $env should not have adjacent keys"
    assert (caught.value.file, caught.value.key_path, caught.value.line) == (
        str(path),
        "backend.secret",
        2,
    )


def test_unknown_include_is_refused_with_the_backstage_text(tmp_path: Path) -> None:
    path = write(tmp_path, "app-config.yaml", "backend:\n  secret: {$foo: bar}\n")

    with pytest.raises(ConfigError) as caught:
        load_config([path], env={})

    assert caught.value.message == "unknown include $foo"
    assert caught.value.key_path == "backend.secret"
    assert str(caught.value) == f"{path}:2 at 'backend.secret': unknown include $foo"


@pytest.mark.parametrize(
    ("include", "files", "message"),
    [
        ("{$env: [A]}", {}, "$env include value is not a string"),
        ("{$include: other.txt}", {"other.txt": "x"}, "no configuration parser available"),
        ("{$include: 'other.yaml#a.b'}", {"other.yaml": "a: 3\n"}, "value at 'a' in included"),
        ("{$include: app-config.yaml}", {}, "includes itself"),
        ("{$file: '${SECRETS_DIR}/token'}", {}, "$file substitution value was undefined"),
    ],
)
def test_bad_includes_say_what_is_wrong_and_where(
    tmp_path: Path, include: str, files: dict[str, str], message: str
) -> None:
    for name, text in files.items():
        write(tmp_path, name, text)
    path = write(tmp_path, "app-config.yaml", f"section:\n  value: {include}\n")

    with pytest.raises(ConfigError) as caught:
        load_config([path], env={})

    assert message in caught.value.message
    assert caught.value.file == str(path)
    assert caught.value.key_path == "section.value"


def test_syntax_errors_in_an_included_file_name_that_file(tmp_path: Path) -> None:
    other = write(tmp_path, "other.yaml", "a:\n  b: [unclosed\n")
    path = write(tmp_path, "app-config.yaml", "section: {$include: other.yaml}\n")

    with pytest.raises(ConfigError) as caught:
        load_config([path], env={})

    assert caught.value.file == str(other)
    assert caught.value.line is not None


# --- APP_CONFIG_ overrides ---------------------------------------------------------------------


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


# --- reading values ----------------------------------------------------------------------------


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


# --- file errors -------------------------------------------------------------------------------


def test_yaml_syntax_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "app-config.yaml", "app:\n  title: ok\n  broken: [a, b\nother: 1\n")

    with pytest.raises(ConfigError) as caught:
        load_config([path], env={})

    assert caught.value.file == str(path)
    assert caught.value.line in (3, 4)
    assert str(caught.value).startswith(f"{path}:{caught.value.line}: invalid YAML")


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config([tmp_path / "app-config.local.yaml"], env={})

    assert caught.value.file == str(tmp_path / "app-config.local.yaml")
    assert "does not exist; check the path given with --config" in str(caught.value)


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "a list"), ("just text\n", "a string")])
def test_a_top_level_that_is_not_a_mapping_is_refused(tmp_path: Path, text: str, kind: str) -> None:
    path = write(tmp_path, "app-config.yaml", text)

    with pytest.raises(ConfigError, match=f"must be a mapping of keys to values, got {kind}"):
        load_config([path], env={})


def test_an_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    path = write(tmp_path, "app-config.yaml", "# nothing yet\n")

    assert load_config([path], env={}).data == {}


def test_duplicate_keys_are_refused_with_their_line(tmp_path: Path) -> None:
    path = write(tmp_path, "app-config.yaml", "app:\n  title: a\n  title: b\n")

    with pytest.raises(ConfigError) as caught:
        load_config([path], env={})

    assert (caught.value.key_path, caught.value.line) == ("app.title", 3)


# --- secrets -----------------------------------------------------------------------------------

FIXTURE_ENV = {"PAGERDUTY_TOKEN": "pd-token-0123456789", "SPLUNK_ON_CALL_API_ID": "vo-api-id-5678"}
FIXTURE_SECRETS = ["pd-token-0123456789", "vo-api-id-5678", "vo-key-from-file-4242"]


@pytest.fixture
def operator_config() -> Config:
    if not FIXTURES.is_dir():
        pytest.skip(f"config fixtures missing at {FIXTURES}")
    return load_config(
        [FIXTURES / "app-config.yaml", FIXTURES / "app-config.production.yaml"], env=FIXTURE_ENV
    )


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


# --- validate_section --------------------------------------------------------------------------


class PagerDutySettings(BaseModel):
    cacheTtl: int = 60
    eventsBaseUrl: str = "https://events.pagerduty.com/v2"


class TokenSettings(BaseModel):
    apiToken: int

    @field_validator("apiToken", mode="before")
    @classmethod
    def explain(cls, value: object) -> object:
        if isinstance(value, str) and not value.isdigit():
            raise ValueError(f"'{value}' is not a numeric token")
        return value


def test_validate_section_returns_the_model(operator_config: Config) -> None:
    settings = validate_section(operator_config, "plugins.pagerduty", PagerDutySettings)

    assert settings == PagerDutySettings(
        cacheTtl=60, eventsBaseUrl="https://events.pagerduty.com/v2"
    )


def test_a_missing_section_validates_as_empty() -> None:
    assert (
        validate_section(Config({}), "plugins.pagerduty", PagerDutySettings) == PagerDutySettings()
    )


def test_a_wrong_value_names_file_key_path_line_and_expectation(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "app-config.yaml",
        """
        plugins:
          pagerduty:
            eventsBaseUrl: https://events.pagerduty.com/v2
            cacheTtl: soon
        """,
    )
    config = load_config([path], env={})

    with pytest.raises(ConfigError) as caught:
        validate_section(config, "plugins.pagerduty", PagerDutySettings)

    error = caught.value
    assert (error.file, error.key_path, error.line) == (str(path), "plugins.pagerduty.cacheTtl", 5)
    assert "valid integer" in error.message
    assert "soon" not in str(error)


def test_a_missing_required_setting_points_at_its_section(tmp_path: Path) -> None:
    path = write(tmp_path, "app-config.yaml", "plugins:\n  secure:\n    other: 1\n")

    with pytest.raises(ConfigError) as caught:
        validate_section(load_config([path], env={}), "plugins.secure", TokenSettings)

    assert caught.value.key_path == "plugins.secure.apiToken"
    assert caught.value.line == 2
    assert "required setting is missing" in caught.value.message


def test_validation_errors_never_echo_a_secret(tmp_path: Path) -> None:
    path = write(tmp_path, "app-config.yaml", "plugins:\n  secure:\n    apiToken: ${TOKEN}\n")
    config = load_config([path], env={"TOKEN": "tok-not-numeric-xyz"})

    with pytest.raises(ConfigError) as caught:
        validate_section(config, "plugins.secure", TokenSettings)

    assert "tok-not-numeric-xyz" not in str(caught.value)
    assert "'<redacted>' is not a numeric token" in str(caught.value)
    assert caught.value.key_path == "plugins.secure.apiToken"


def test_a_section_that_is_not_a_mapping_is_reported_at_its_key(tmp_path: Path) -> None:
    path = write(tmp_path, "app-config.yaml", "plugins:\n  pagerduty: [1, 2]\n")

    with pytest.raises(ConfigError) as caught:
        validate_section(load_config([path], env={}), "plugins.pagerduty", PagerDutySettings)

    assert (caught.value.key_path, caught.value.line) == ("plugins.pagerduty", 2)
    assert "got a list" in caught.value.message


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


class StrictSettings(BaseModel, extra="forbid"):
    cacheTtl: int = 60


def test_excluded_keys_belong_to_the_host_and_are_not_validated(tmp_path: Path) -> None:
    path = write(
        tmp_path, "app-config.yaml", "plugins:\n  x:\n    enabled: true\n    cacheTtl: 5\n"
    )
    config = load_config([path], env={})

    with pytest.raises(ConfigError, match="unknown setting .Extra inputs are not permitted"):
        validate_section(config, "plugins.x", StrictSettings)
    settings = validate_section(config, "plugins.x", StrictSettings, exclude={"enabled"})

    assert settings == StrictSettings(cacheTtl=5)
    assert config.get("plugins.x.enabled") is True


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

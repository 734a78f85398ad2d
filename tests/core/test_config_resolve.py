"""One config file made plain data: every example of Backstage's config-loader substitution
tests (``${VAR}``), include objects (``$env``, ``$file``, ``$include``), and files that are
missing or not a mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenroom import ConfigError
from greenroom._config import ConfigLocation, MissingVariable, load_config

from ._config_files import ENV, load_value, write

# --- ${VAR} substitution: every example of Backstage's config-loader substitution tests ----------


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


# --- include objects -----------------------------------------------------------------------------


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


# --- file errors ---------------------------------------------------------------------------------


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

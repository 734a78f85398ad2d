"""Checking a config section against a plugin's pydantic model: errors name the file, key
path, line and expectation, never the value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, field_validator

from greenroom import ConfigError
from greenroom._config import Config, load_config, validate_section

from ._config_files import FIXTURES, load_operator_config, write


@pytest.fixture
def operator_config() -> Config:
    if not FIXTURES.is_dir():
        pytest.skip(f"config fixtures missing at {FIXTURES}")
    return load_operator_config()


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

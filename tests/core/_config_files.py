"""Config files for the config tests: writing them, and the operator's fixture files (a
base config and a production one, as an operator keeps them)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import yaml

from greenroom._config import Config, load_config

FIXTURES = Path(__file__).parent / "fixtures" / "config"
ENV = {"SECRET": "my-secret", "TOKEN": "my-token"}
FIXTURE_ENV = {"PAGERDUTY_TOKEN": "pd-token-0123456789", "SPLUNK_ON_CALL_API_ID": "vo-api-id-5678"}
FIXTURE_SECRETS = ["pd-token-0123456789", "vo-api-id-5678", "vo-key-from-file-4242"]


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


def load_operator_config() -> Config:
    """The operator's two files merged, with the environment they reference."""
    return load_config(
        [FIXTURES / "app-config.yaml", FIXTURES / "app-config.production.yaml"], env=FIXTURE_ENV
    )

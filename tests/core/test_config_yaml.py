"""Reading a config file's YAML: YAML 1.2 booleans and dates, syntax errors and duplicate keys
named with their file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenroom import ConfigError
from greenroom._config import load_config

from ._config_files import write


def test_yaml_reads_booleans_and_dates_like_yaml_1_2(tmp_path: Path) -> None:
    path = write(
        tmp_path, "app-config.yaml", "country: NO\nanswer: yes\non: true\nday: 2024-05-01\n"
    )

    config = load_config([path], env={})

    assert config.data == {"country": "NO", "answer": "yes", "on": True, "day": "2024-05-01"}


def test_yaml_syntax_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "app-config.yaml", "app:\n  title: ok\n  broken: [a, b\nother: 1\n")

    with pytest.raises(ConfigError) as caught:
        load_config([path], env={})

    assert caught.value.file == str(path)
    assert caught.value.line in (3, 4)
    assert str(caught.value).startswith(f"{path}:{caught.value.line}: invalid YAML")


def test_duplicate_keys_are_refused_with_their_line(tmp_path: Path) -> None:
    path = write(tmp_path, "app-config.yaml", "app:\n  title: a\n  title: b\n")

    with pytest.raises(ConfigError) as caught:
        load_config([path], env={})

    assert (caught.value.key_path, caught.value.line) == ("app.title", 3)

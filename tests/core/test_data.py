"""The data folder and the app secret kept there."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from greenroom import ConfigError
from greenroom._config import Config, load_config
from greenroom._data import SECRET_FILE, app_secret, data_folder


def test_the_data_folder_comes_from_the_environment_else_dot_greenroom() -> None:
    assert data_folder({"GREENROOM_DATA": "/srv/greenroom"}) == Path("/srv/greenroom")
    assert data_folder({}) == Path(".greenroom")


def test_a_secret_is_generated_once_kept_private_and_reused(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    first = app_secret(Config({}), folder)
    assert len(first) >= 32
    kept = folder / SECRET_FILE
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert app_secret(Config({}), folder) == first
    assert [p.name for p in folder.iterdir()] == [SECRET_FILE]  # no temporary file left


def test_processes_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    code = (
        "import sys; from greenroom._config import Config; from greenroom._data import app_secret;"
        f"print(app_secret(Config({{}}), __import__('pathlib').Path({str(folder)!r})))"
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    secrets = {run.communicate(timeout=120)[0].strip() for run in runs}
    assert len(secrets) == 1
    assert secrets == {(folder / SECRET_FILE).read_text().strip()}


def test_a_configured_secret_wins_and_nothing_is_written(tmp_path: Path) -> None:
    secret = "s" * 40
    assert app_secret(Config({"app": {"secret": secret}}), tmp_path / "data") == secret
    assert not (tmp_path / "data").exists()


def test_a_short_configured_secret_is_refused_with_where_and_how(tmp_path: Path) -> None:
    config_file = tmp_path / "app-config.yaml"
    config_file.write_text("app:\n  title: Acme\n  secret: hunter2\n")
    with pytest.raises(ConfigError) as caught:
        app_secret(load_config([config_file]), tmp_path / "data")
    message = str(caught.value)
    assert f"{config_file}:3" in message and "app.secret" in message
    assert "at least 32 characters" in message and "secrets.token_urlsafe" in message
    assert "hunter2" not in message


def test_an_unusable_kept_secret_says_how_to_recover(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / SECRET_FILE).write_text("\n")
    with pytest.raises(ConfigError, match="delete the file"):
        app_secret(Config({}), folder)

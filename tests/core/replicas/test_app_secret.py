"""``app.secret`` is required once several replicas share a portal (``redis.url``, or a
PostgreSQL ``database.url``): each would otherwise sign cookies with a secret of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from greenroom import ConfigError
from greenroom._config import Config
from greenroom._data import app_secret

SECRET = "one-secret-for-every-replica-0123456789abcdef"


@pytest.mark.parametrize(("section", "setting"), [
    ({"redis": {"url": "redis://cache:6379/0"}}, "redis.url"),
    ({"database": {"url": "postgresql+psycopg://app:pw@db/portal"}}, "database.url"),
])
def test_a_shared_portal_without_app_secret_is_a_start_up_error_naming_it(
    tmp_path: Path, section: dict[str, object], setting: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        app_secret(Config(section), tmp_path)
    assert raised.value.key_path == "app.secret"
    assert setting in str(raised.value)
    assert list(tmp_path.iterdir()) == []  # no secret of its own generated on the side
    assert app_secret(Config({**section, "app": {"secret": SECRET}}), tmp_path) == SECRET


def test_one_process_with_sqlite_still_generates_its_secret(tmp_path: Path) -> None:
    config = Config({"database": {"url": f"sqlite:///{tmp_path / 'portal.db'}"}})
    assert len(app_secret(config, tmp_path / "data")) >= 32


@pytest.mark.parametrize("workers", ["1", "2"])
def test_greenroom_serve_refuses_to_start_and_says_which_setting(
    tmp_path: Path, workers: str
) -> None:
    config = tmp_path / "app-config.yaml"
    config.write_text(
        "auth: {allowGuests: true}\nredis:\n  url: redis://:pa55-w0rd-secret@127.0.0.1:1/0\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "greenroom.cli", "serve", "--config", str(config), "--port", "0",
         "--workers", workers],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert run.returncode != 0
    assert "app.secret is required when redis.url is set" in run.stdout + run.stderr
    assert "pa55-w0rd-secret" not in run.stdout + run.stderr

"""The data folder (``GREENROOM_DATA``, default ``./.greenroom/``) and the app secret kept there.

``app.secret`` signs the session cookie (flash alerts, CSRF seeds, and whatever sign-in keeps
there), so every process and replica of one portal must share it. When the config has none, the
first process generates one and writes it to the data folder; the others, and later restarts,
read the same file. The write is atomic and first-writer-wins (a hard link of a fully written
temporary file), so two workers starting together still agree.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ._exceptions import ConfigError

if TYPE_CHECKING:
    from ._config import Config

DATA_ENV = "GREENROOM_DATA"
DEFAULT_DATA_FOLDER = ".greenroom"
SECRET_FILE = "app-secret"
#: A shorter secret could be guessed; 32 characters of token_urlsafe carry 192 bits.
MIN_SECRET_LENGTH = 32


def data_folder(env: Mapping[str, str] | None = None) -> Path:
    """Where the portal keeps what it generates: ``$GREENROOM_DATA``, else ``./.greenroom``."""
    env = os.environ if env is None else env
    return Path(env.get(DATA_ENV) or DEFAULT_DATA_FOLDER).expanduser()


def app_secret(config: Config, folder: Path | None = None) -> str:
    """``app.secret`` from the config, else the one kept in the data folder (made once)."""
    configured = config.get("app.secret")
    if configured is not None:
        value = str(configured)
        if len(value) < MIN_SECRET_LENGTH:
            where = config.location("app.secret")
            raise ConfigError(
                f"app.secret must be at least {MIN_SECRET_LENGTH} characters; generate one with "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(48))', or remove the "
                "key to have one generated in the data folder",
                file=where.file if where else None, key_path="app.secret",
                line=where.line if where else None,
            )
        return value
    shared_by = _shared_by_replicas(config)
    if shared_by:
        # Each replica would otherwise sign with its own secret and refuse the others' cookies.
        raise ConfigError(
            f"app.secret is required when {shared_by} is set: every replica must sign sessions "
            "and CSRF tokens with the same secret. Set app.secret to the same value (at least "
            f"{MIN_SECRET_LENGTH} characters, e.g. ${{GREENROOM_APP_SECRET}}) on every replica; "
            "generate one with python3 -c 'import secrets; print(secrets.token_urlsafe(48))'",
            key_path="app.secret",
        )
    return _kept_secret(folder or data_folder())


def _shared_by_replicas(config: Config) -> str:
    """The setting that says several replicas serve this portal (``""`` when none does)."""
    if config.get("redis.url"):
        return "redis.url"
    database = str(config.get("database.url") or "")
    if database.startswith(("postgresql", "postgres:")):
        return "database.url (PostgreSQL)"
    return ""


def _kept_secret(folder: Path) -> str:
    path = folder / SECRET_FILE
    with contextlib.suppress(FileNotFoundError):
        return _read(path)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)  # fails when another process got there first: use theirs
    finally:
        temporary.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> str:
    value = path.read_text().strip()
    if len(value) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"{path} holds no usable app secret (fewer than {MIN_SECRET_LENGTH} characters); "
            "delete the file to have a new one generated (signed-in sessions end), or set "
            "app.secret in the config"
        )
    return value

"""The portal's SQL database: where it is, its engine, and its schema migrations.

``database.url`` names it (SQLAlchemy URL). Without one the portal keeps an embedded SQLite file
``greenroom.db`` in its data folder (``GREENROOM_DATA``, default ``./.greenroom/``); portals with
several replicas point them all at one PostgreSQL server (``postgresql+psycopg://...``).

The schema is owned by the Alembic migrations in ``greenroom/_migrations``. ``upgrade()`` runs at
start-up and from ``greenroom db upgrade``. It first compares the database's revision with the
head revision (one small query) so that a portal already at head starts without loading
Alembic's machinery; when an upgrade is due, concurrent starters are serialised (a PostgreSQL
advisory lock, or a lock file beside an SQLite database) and the second one finds nothing to do.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError, SQLAlchemyError

from ._data import data_folder
from ._exceptions import ConfigError, DatabaseError

log = logging.getLogger("greenroom.db")

SQLITE_FILE = "greenroom.db"
MIGRATIONS = "greenroom:_migrations"
VERSION_TABLE = "greenroom_alembic_version"
# Any constant shared by every replica; the value itself means nothing ("gr" + "db" in ASCII).
_ADVISORY_LOCK_KEY = 0x67726462

# Stable names for constraints and indexes, so that Alembic migrations can refer to them on any
# database (SQLAlchemy's "Constraint naming conventions" documentation).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
# The modules whose tables register on ``metadata`` when imported. They are imported only when a
# database is opened (a portal without one never loads SQLAlchemy); the migrations' environment
# and the test comparing the migrations with the code import them all.
TABLE_MODULES = (
    "greenroom._audit._tables",
    "greenroom._auth._revocations_sql",
    "greenroom._mapping_sql",
)


def schema() -> sa.MetaData:
    """``metadata`` with every table of the portal registered on it."""
    import importlib

    for name in TABLE_MODULES:
        importlib.import_module(name)
    return metadata


def database_url(configured: str | None, env: Mapping[str, str] | None = None) -> str:
    """The configured URL, or the embedded SQLite file in the data folder."""
    if configured:
        return str(configured)
    folder = data_folder(env).resolve()
    return f"sqlite:///{folder / SQLITE_FILE}"


def redact_url(url: str) -> str:
    """``url`` with its password replaced, for anything a person or a log reads."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    if parsed.password is None:
        return url
    return parsed.render_as_string(hide_password=True)


class Database:
    """One engine for the portal's SQL database, with its migrations, ping and close."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConfigError(
                "not a database URL; use postgresql+psycopg://user:password@host/db or "
                "sqlite:///path/to/file.db",
                key_path="database.url",
            ) from exc
        self.dialect = parsed.get_backend_name()
        self._sqlite_path: Path | None = None
        kwargs: dict[str, Any] = {"pool_pre_ping": True, "future": True}
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                self._sqlite_path = Path(database)
                self._sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            # Wait for another writer (a second replica or thread) rather than fail at once.
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs["pool_size"] = 5
            kwargs["max_overflow"] = 5
            kwargs["pool_timeout"] = 10
            if self.dialect == "postgresql":
                kwargs["connect_args"] = {"connect_timeout": 5}
        try:
            self.engine: Engine = sa.create_engine(url, **kwargs)
        except (ArgumentError, ImportError) as exc:
            raise ConfigError(
                f"cannot use this database URL: {type(exc).__name__}; supported are "
                "sqlite:///FILE and postgresql+psycopg://...",
                key_path="database.url",
            ) from exc
        if self.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._lock = threading.Lock()

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        """One unit of work: commits when the block ends, rolls back when it raises."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise DatabaseError(self.display_url, exc) from exc

    def ping(self) -> None:
        with self.begin() as connection:
            connection.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()

    # -- migrations -------------------------------------------------------------------------

    def current_revision(self) -> str | None:
        """The schema revision the database is at (None: empty database). One query when the
        version table exists (every start but the first); a look at the catalog otherwise."""
        try:
            with self.engine.connect() as connection:
                try:
                    rows = connection.execute(
                        sa.text(f"SELECT version_num FROM {VERSION_TABLE}")
                    ).all()
                    return str(rows[0][0]) if rows else None
                except (ProgrammingError, OperationalError):
                    connection.rollback()
                    return _current_revision(connection)
        except SQLAlchemyError as exc:
            raise DatabaseError(self.display_url, exc) from exc

    def is_at_head(self) -> bool:
        return self.current_revision() == head_revision()

    def upgrade(self, revision: str = "head") -> bool:
        """Bring the schema to ``revision``; False when it was already there."""
        if revision == "head" and self.is_at_head():
            return False
        with self._migration_lock() as connection:
            # Another replica may have upgraded while this one waited for the lock.
            if revision == "head" and _current_revision(connection) == head_revision():
                return False
            self._run_alembic(connection, "upgrade", revision)
        return True

    def downgrade(self, revision: str = "base") -> None:
        with self._migration_lock() as connection:
            self._run_alembic(connection, "downgrade", revision)

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[Connection]:
        with self._lock:
            if self.dialect == "postgresql":
                with self.begin() as connection:
                    connection.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
                    )
                    yield connection
            elif self._sqlite_path is not None:
                with _file_lock(self._sqlite_path.with_name(self._sqlite_path.name + ".lock")):
                    with self.begin() as connection:
                        yield connection
            else:
                with self.begin() as connection:
                    yield connection

    def _run_alembic(self, connection: Connection, command: str, revision: str) -> None:
        from alembic import command as alembic_command

        config = _alembic_config()
        config.attributes["connection"] = connection
        log.info("database %s: %s to %s", self.display_url, command, revision)
        try:
            getattr(alembic_command, command)(config, revision)
        except SQLAlchemyError as exc:
            raise DatabaseError(self.display_url, exc) from exc


def head_revision() -> str:
    """The newest migration shipped with this Greenroom (no Alembic import needed)."""
    from ._migrations import HEAD

    return HEAD


def alembic_head_revision() -> str | None:
    """The newest migration as Alembic finds it in the scripts (tests compare it with HEAD)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _alembic_config() -> Any:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", MIGRATIONS)
    config.set_main_option("version_table", VERSION_TABLE)
    return config


def _current_revision(connection: Connection) -> str | None:
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    return str(rows[0][0]) if rows else None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while one replica writes; busy_timeout waits for a writer's lock.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    import fcntl

    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


__all__ = [
    "Database",
    "NAMING_CONVENTION",
    "database_url",
    "head_revision",
    "metadata",
    "redact_url",
    "schema",
]

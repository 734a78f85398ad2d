"""The audit trail on every store: memory, SQLite and a real PostgreSQL server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from greenroom import cli
from greenroom._audit import (
    Actor,
    AuditEntry,
    AuditQuery,
    AuditTrail,
    AuditUnavailableError,
    MemoryAuditStore,
)
from greenroom._audit._sql import SqlAuditStore
from greenroom._db import VERSION_TABLE, Database, head_revision, redact_url

ALICE = Actor("alice", "alice@example.com", "Alice Example", "oidc")
BOB = Actor("bob", "bob@example.com", "Bob", "proxy")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.upgrade()
    yield db
    db.close()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def trail(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditTrail]:
    if request.param == "memory":
        yield AuditTrail(MemoryAuditStore())
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    db = Database(url)
    db.upgrade()
    yield AuditTrail(SqlAuditStore(db))
    db.close()


# -- schema -----------------------------------------------------------------------------------


def test_an_empty_database_upgrades_to_head_and_back(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert db.current_revision() is None
        assert db.upgrade() is True
        assert db.current_revision() == head_revision()
        names = set(sa.inspect(db.engine).get_table_names())
        assert {"audit_entries", "revoked_sessions"} <= names
        assert db.upgrade() is False  # already at head: nothing to do
        db.downgrade("base")
        assert db.current_revision() is None
        left = set(sa.inspect(db.engine).get_table_names())
        assert not {"audit_entries", "revoked_sessions"} & left
    finally:
        db.close()


def test_the_head_a_portal_checks_at_start_up_is_alembics_head() -> None:
    from greenroom._db import alembic_head_revision

    assert alembic_head_revision() == head_revision()


def test_migrations_create_exactly_the_tables_the_code_uses(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from greenroom._db import schema

    with database.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE}
        )
        differences = compare_metadata(context, schema())
    assert differences == []


def test_replicas_starting_together_migrate_once(database_url: str) -> None:
    replicas = [Database(database_url) for _ in range(3)]
    results: list[bool] = []
    errors: list[BaseException] = []

    def start(db: Database) -> None:
        try:
            results.append(db.upgrade())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(db,)) for db in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert errors == []
        assert sorted(results) == [False, False, True]
        assert all(db.current_revision() == head_revision() for db in replicas)
    finally:
        for db in replicas:
            db.close()


# -- intent, outcome, refusals ------------------------------------------------------------


async def test_an_action_is_unknown_while_the_vendor_is_called_then_succeeded(
    trail: AuditTrail,
) -> None:
    async with trail.action(
        ALICE, "incident.resolve", entities=["default/component/checkout"],
        provider="pagerduty", incident_id="PABC123", summary="fixed by rollback",
        request_id="req-1",
    ) as record:
        during = (await trail.query(AuditQuery())).entries
        assert [e.outcome for e in during] == ["unknown"]
        assert during[0].id == record.entry_id
    [entry] = (await trail.query(AuditQuery())).entries
    assert entry.outcome == "succeeded"
    assert entry.actor == ALICE
    assert (entry.action, entry.entity, entry.provider, entry.incident_id) == (
        "incident.resolve", "default/component/checkout", "pagerduty", "PABC123",
    )
    assert entry.summary == "fixed by rollback"
    assert entry.request_id == "req-1"
    assert entry.completed_at is not None and entry.completed_at >= entry.at


async def test_a_vendor_error_completes_the_entry_as_failed_with_its_message(
    trail: AuditTrail,
) -> None:
    with pytest.raises(RuntimeError):
        async with trail.action(BOB, "incident.acknowledge"):
            raise RuntimeError("Request failed with 404, Incident Not Found")
    [entry] = (await trail.query(AuditQuery())).entries
    assert entry.outcome == "failed"
    assert "Incident Not Found" in entry.message


class _CompleteFails(MemoryAuditStore):
    def complete(self, *args: object, **kwargs: object) -> None:
        raise OSError("disk gone")


async def test_a_failure_between_intent_and_outcome_leaves_unknown() -> None:
    store = _CompleteFails()
    trail = AuditTrail(store)
    async with trail.action(ALICE, "incident.trigger"):
        pass
    [entry] = (await trail.query(AuditQuery())).entries
    assert entry.outcome == "unknown"


def test_a_process_that_dies_after_the_intent_leaves_unknown(database: Database) -> None:
    """A crash (the process killed while the vendor is being called) leaves a visible entry."""
    script = (
        "import asyncio, os\n"
        "from greenroom._audit import Actor, AuditTrail\n"
        "from greenroom._audit._sql import SqlAuditStore\n"
        "from greenroom._db import Database\n"
        "async def main():\n"
        f"    trail = AuditTrail(SqlAuditStore(Database({database.url!r})))\n"
        "    async with trail.action(Actor('carol', 'carol@example.com'), 'incident.resolve',\n"
        "                            incident_id='P1'):\n"
        "        os._exit(3)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == 3, done.stderr.decode()
    page = SqlAuditStore(database).query(AuditQuery())
    assert [(e.actor.user_id, e.incident_id, e.outcome) for e in page.entries] == [
        ("carol", "P1", "unknown")
    ]


async def test_entries_survive_a_restart(database_url: str) -> None:
    first = Database(database_url)
    first.upgrade()
    async with AuditTrail(SqlAuditStore(first)).action(ALICE, "incident.note", summary="hi"):
        pass
    first.close()
    second = Database(database_url)
    try:
        assert second.upgrade() is False
        [entry] = (await AuditTrail(SqlAuditStore(second)).query(AuditQuery())).entries
        assert (entry.actor.email, entry.action, entry.outcome, entry.summary) == (
            "alice@example.com", "incident.note", "succeeded", "hi",
        )
    finally:
        second.close()


async def test_repeated_refusals_of_one_caller_share_one_entry_per_minute(
    trail: AuditTrail,
) -> None:
    for _ in range(5):
        await trail.refused(BOB, "proxy.pagerduty", "rule 1 allows group:sre", per_minute=True)
    await trail.refused(ALICE, "proxy.pagerduty", "rule 1 allows group:sre", per_minute=True)
    entries = (await trail.query(AuditQuery(outcome="refused"))).entries
    counts = {e.actor.user_id: e.count for e in entries}
    assert counts == {"bob": 5, "alice": 1}
    assert all(e.message == "rule 1 allows group:sre" for e in entries)


async def test_an_action_refusal_is_one_entry_each(trail: AuditTrail) -> None:
    for _ in range(2):
        await trail.refused(BOB, "incident.resolve", "guests never act")
    entries = (await trail.query(AuditQuery())).entries
    assert [(e.outcome, e.count) for e in entries] == [("refused", 1), ("refused", 1)]


async def test_secrets_typed_into_a_summary_are_scrubbed() -> None:
    trail = AuditTrail(MemoryAuditStore(), scrub=lambda t: t.replace("u+hunter22pd", "<redacted>"))
    async with trail.action(
        ALICE, "incident.trigger",
        summary="token u+hunter22pd leaked; Authorization: Bearer abcdefgh12345678; password=x1",
    ):
        pass
    [entry] = (await trail.query(AuditQuery())).entries
    assert "hunter22" not in entry.summary
    assert "abcdefgh12345678" not in entry.summary
    assert "x1" not in entry.summary.split("password")[-1]


# -- reading ----------------------------------------------------------------------------------


async def _fill(trail: AuditTrail) -> None:
    rows = [
        (ALICE, "incident.trigger", ["default/component/checkout"], "pagerduty", "succeeded"),
        (BOB, "incident.acknowledge", ["default/component/payments"], "splunk-on-call", "failed"),
        (ALICE, "incident.resolve",
         ["default/component/checkout", "default/component/payments"], "pagerduty", "succeeded"),
        (BOB, "proxy.pagerduty", [], "pagerduty", "refused"),
        (ALICE, "incident.note", ["default/component/search"], "pagerduty", "succeeded"),
    ]
    for actor, action, entities, provider, outcome in rows:
        if outcome == "refused":
            await trail.refused(actor, action, "no", provider=provider)
            continue
        try:
            async with trail.action(actor, action, entities=entities, provider=provider):
                if outcome == "failed":
                    raise RuntimeError("boom")
        except RuntimeError:
            pass


async def test_filters_pick_entries_by_actor_action_entity_provider_outcome(
    trail: AuditTrail,
) -> None:
    await _fill(trail)

    async def actions(**filters: object) -> list[str]:
        page = await trail.query(AuditQuery(**filters))  # type: ignore[arg-type]
        return [e.action for e in page.entries]

    assert await actions(actor="alice@example.com") == [
        "incident.note", "incident.resolve", "incident.trigger",
    ]
    assert await actions(actor="bob") == ["proxy.pagerduty", "incident.acknowledge"]
    assert await actions(action="incident.*") == [
        "incident.note", "incident.resolve", "incident.acknowledge", "incident.trigger",
    ]
    # An action on several entities is found from any of them.
    assert await actions(entity="default/component/payments") == [
        "incident.resolve", "incident.acknowledge",
    ]
    assert await actions(provider="splunk-on-call") == ["incident.acknowledge"]
    assert await actions(outcome="refused") == ["proxy.pagerduty"]
    assert await actions(outcome="failed") == ["incident.acknowledge"]
    future = datetime.now(UTC) + timedelta(hours=1)
    assert await actions(since=future) == []
    assert len(await actions(until=future)) == 5


async def test_pages_follow_the_next_cursor_without_gaps_or_repeats(trail: AuditTrail) -> None:
    for number in range(7):
        async with trail.action(ALICE, "incident.note", summary=f"note {number}"):
            pass
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await trail.query(AuditQuery(limit=3, after=cursor))
        seen.extend(e.summary for e in page.entries)
        pages += 1
        if page.next is None:
            break
        cursor = page.next
    assert pages == 3
    assert seen == [f"note {n}" for n in reversed(range(7))]


async def test_retention_prunes_only_entries_older_than_the_limit(trail: AuditTrail) -> None:
    old = AuditEntry(ALICE, "incident.note", "succeeded", at=datetime.now(UTC) - timedelta(days=3))
    trail.store.add(old)
    async with trail.action(BOB, "incident.note"):
        pass
    trail.retention_days = 2
    assert await trail.prune() == 1
    assert [e.actor.user_id for e in (await trail.query(AuditQuery())).entries] == ["bob"]


async def test_an_unreachable_database_refuses_the_action_before_the_vendor_is_called() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = Database(f"postgresql+psycopg://greenroom:s3cretpass@127.0.0.1:{port}/none")
    trail = AuditTrail(SqlAuditStore(db), where=db.display_url)
    called = False
    with pytest.raises(AuditUnavailableError) as caught:
        async with trail.action(ALICE, "incident.resolve"):
            called = True
    assert called is False
    assert "s3cretpass" not in str(caught.value)
    assert "***" in str(caught.value)
    db.close()


def test_passwords_in_database_urls_are_redacted() -> None:
    assert redact_url("postgresql+psycopg://app:pa55word@db:5432/portal") == (
        "postgresql+psycopg://app:***@db:5432/portal"
    )
    assert redact_url("sqlite:////data/greenroom.db") == "sqlite:////data/greenroom.db"


# -- greenroom audit export / db upgrade ------------------------------------------------------


def test_export_writes_entries_since_a_time_as_jsonl_and_csv(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    store = SqlAuditStore(database)
    now = datetime.now(UTC)
    store.add(AuditEntry(ALICE, "incident.trigger", "succeeded", at=now - timedelta(days=2),
                         summary="old"))
    store.add(AuditEntry(BOB, "incident.resolve", "failed", at=now, summary='new, "quoted"',
                         entities=("default/component/checkout",)))
    config = tmp_path / "app-config.yaml"
    config.write_text(f"database:\n  url: {database.url}\n")
    since = (now - timedelta(days=1)).isoformat()

    assert cli.main(["audit", "export", "--config", str(config), "--since", since]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["summary"] for line in lines] == ['new, "quoted"']

    assert cli.main(["audit", "export", "--config", str(config), "--format", "csv"]) == 0
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["actor_email"], r["summary"], r["outcome"]) for r in rows] == [
        ("alice@example.com", "old", "succeeded"),
        ("bob@example.com", 'new, "quoted"', "failed"),
    ]
    assert rows[1]["entity"] == "default/component/checkout"


def test_export_refuses_a_time_that_is_not_iso(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli.main(["audit", "export", "--since", "yesterday"])
    assert "ISO 8601" in capsys.readouterr().err


def test_db_upgrade_command_migrates_the_default_sqlite_file(
    greenroom_data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GREENROOM_CONFIG", raising=False)
    assert cli.main(["db", "upgrade"]) == 0
    assert "upgraded to" in capsys.readouterr().out
    assert (greenroom_data / "greenroom.db").exists()
    assert cli.main(["db", "upgrade"]) == 0
    assert "already at" in capsys.readouterr().out
    assert cli.main(["db", "current"]) == 0
    assert capsys.readouterr().out.strip() == head_revision()

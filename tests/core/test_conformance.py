"""The conformance kit catches a provider that breaks the contract, and passes one that keeps it.

Each case writes a small provider plugin's test module that subclasses
``IncidentProviderConformance`` (as a plugin author would) and runs pytest on it in a
subprocess, so the kit is exercised exactly as third-party plugins use it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PROVIDER_TESTS = textwrap.dedent(
    '''
    from datetime import UTC, datetime, timedelta

    import pytest

    from greenroom import (
        OPEN_STATUSES, ActionOutcome, BulkAnswer, Capability, CoverageCheck, Entity, Identity,
        Incident, IncidentStatus, NotFoundError, UnauthorizedError,
    )
    from greenroom.testing import IncidentProviderConformance

    ANNOTATION = "memory.example.com/service"
    LIE = {lie}
    BULK = {bulk!r}


    class MemoryProvider:
        id = "memory"
        title = "Memory"
        capabilities = frozenset(
            {{Capability.INCIDENTS, Capability.TRIGGER, Capability.ACKNOWLEDGE, Capability.RESOLVE}}
        )
        annotations = (ANNOTATION,)

        def __init__(self, token_ok=True):
            self.token_ok = token_ok
            now = datetime.now(UTC)
            self.store = {{
                "1": ["Disk full", IncidentStatus.TRIGGERED, now - timedelta(minutes=5)],
                "2": ["Queue backlog", IncidentStatus.ACKNOWLEDGED, now - timedelta(hours=1)],
            }}

        def is_available(self, entity):
            return ANNOTATION in entity.annotations

        def _check(self, entity):
            if not self.token_ok:
                raise UnauthorizedError("Missing or invalid token")
            if entity.annotations.get(ANNOTATION) != "known":
                raise NotFoundError("Service Not Found")

        def _reported(self, status):
            # The defect under test: acknowledged incidents reported as triggered.
            if LIE and status is IncidentStatus.ACKNOWLEDGED:
                return IncidentStatus.TRIGGERED
            return status

        async def list_incidents(self, entity, *, statuses=OPEN_STATUSES, since=None):
            self._check(entity)
            found = [
                Incident(
                    provider=self.id, id=key, title=title, status=self._reported(status),
                    created_at=created, entity_ref=entity.ref,
                )
                for key, (title, status, created) in self.store.items()
            ]
            found = [i for i in found if i.status in statuses]
            return sorted(found, key=lambda i: i.created_at, reverse=True)

        async def on_call(self, entity):
            raise NotImplementedError

        async def recent_changes(self, entity):
            raise NotImplementedError

        async def trigger(self, entity, request, user):
            self._check(entity)
            key = str(len(self.store) + 1)
            self.store[key] = [request.summary, IncidentStatus.TRIGGERED, datetime.now(UTC)]
            return ActionOutcome("Alarm successfully triggered", key)

        async def acknowledge(self, entity, incident_id, user):
            self.store[incident_id][1] = IncidentStatus.ACKNOWLEDGED
            return ActionOutcome("acknowledged", incident_id)

        async def resolve(self, entity, incident_id, user):
            self.store[incident_id][1] = IncidentStatus.RESOLVED
            return ActionOutcome("resolved", incident_id)

        async def check_coverage(self, entity):
            try:
                self._check(entity)
            except NotFoundError as exc:
                return CoverageCheck("broken", str(exc), self.id)
            return CoverageCheck("covered", "", self.id)


    class BulkMemoryProvider(MemoryProvider):
        """Bulk reads over the same store; "stale" drops acknowledged incidents (the defect
        of an index built from the wrong statuses)."""

        async def bulk_open_incidents(self, entities):
            found, errors = {{}}, {{}}
            for e in entities:
                if not self.is_available(e):
                    continue
                try:
                    incidents = await self.list_incidents(e)
                except Exception as exc:
                    errors[e.ref] = exc
                    continue
                if BULK == "stale":
                    incidents = [i for i in incidents if i.status is IncidentStatus.TRIGGERED]
                found[e.ref] = incidents
            return BulkAnswer(found, errors)

        async def bulk_on_call(self, entities):
            raise NotImplementedError

        async def bulk_coverage(self, entities):
            return {{e.ref: await self.check_coverage(e) for e in entities if self.is_available(e)}}


    def entity_for(service):
        return Entity(kind="Component", name="svc", annotations={{ANNOTATION: service}},
                      spec={{"owner": "team-a"}})


    class TestMemoryProviderConformance(IncidentProviderConformance):
        @pytest.fixture
        def provider(self):
            return BulkMemoryProvider() if BULK else MemoryProvider()

        @pytest.fixture
        def entity(self):
            return entity_for("known")

        @pytest.fixture
        def missing_entity(self):
            return entity_for("nowhere")

        @pytest.fixture
        def unauthorized_provider(self):
            return MemoryProvider(token_ok=False)

        @pytest.fixture
        def user(self):
            return Identity("ada", "ada@example.com", "Ada", authenticated=True)
    '''
)


def run_suite(
    tmp_path: Path, *, lie: bool, bulk: str = ""
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_memory_provider.py").write_text(PROVIDER_TESTS.format(lie=lie, bulk=bulk))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o",
         "asyncio_mode=auto", "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )


def test_a_provider_that_keeps_the_contract_passes(tmp_path: Path) -> None:
    result = run_suite(tmp_path, lie=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
    assert "failed" not in result.stdout


def test_an_acknowledged_incident_reported_as_triggered_fails_the_suite(tmp_path: Path) -> None:
    result = run_suite(tmp_path, lie=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "test_trigger_acknowledge_resolve_move_the_incident" in result.stdout
    assert "acknowledged incident reported as triggered" in result.stdout


def test_faithful_bulk_reads_pass(tmp_path: Path) -> None:
    result = run_suite(tmp_path, lie=False, bulk="faithful")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed" not in result.stdout


def test_bulk_reads_that_disagree_with_per_entity_reads_fail_the_suite(tmp_path: Path) -> None:
    result = run_suite(tmp_path, lie=False, bulk="stale")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "test_bulk_reads_match_per_entity_reads" in result.stdout
    assert "bulk open incidents differ from list_incidents" in result.stdout

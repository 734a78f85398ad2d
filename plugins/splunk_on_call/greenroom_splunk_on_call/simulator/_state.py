"""The simulator's mutable organisation: incidents move through UNACKED -> ACKED -> RESOLVED."""

from __future__ import annotations

import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from . import _seed


@dataclass
class Transition:
    name: str
    at: datetime
    by: str | None = None
    message: str | None = None
    manually: bool = True

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "at": _seed.format_time(self.at)}
        if self.by is not None:
            body["by"] = self.by
        if self.message:
            body["message"] = self.message
        body["manually"] = self.manually
        return body


@dataclass
class SimIncident:
    number: int
    entity_id: str
    display_name: str
    entity_state: str
    phase: str
    start_time: datetime
    routing_key: str | None
    paged_policies: list[str]
    paged_users: list[str]
    monitor_name: str
    monitor_type: str
    host: str | None = None
    alert_count: int = 1
    last_alert_time: datetime | None = None
    last_alert_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    first_alert_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    transitions: list[Transition] = field(default_factory=list)
    state_message: str = ""


@dataclass
class Fault:
    """An injected failure for requests whose path starts with ``path``."""

    path: str = ""
    method: str | None = None
    status: int | None = None
    latency: float = 0.0
    malformed: bool = False
    #: How many matching requests to affect; None for all of them.
    times: int | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return path.startswith(self.path)


REQUEST_LOG_SIZE = 1000


class SimulatorState:
    """Teams, users, policies, routing keys, rotations and incidents of one fake organisation."""

    def __init__(self, *, now: datetime | None = None, rate_limit_per_minute: int = 60) -> None:
        self.lock = threading.RLock()
        self.rate_limit_per_minute = rate_limit_per_minute
        self.faults: list[Fault] = []
        self.calls: dict[str, deque[float]] = {}
        #: Every request the simulator answered: (method, path, query, json body or None).
        #: The latest ones only, so a long-running demo does not grow.
        self.requests: deque[tuple[str, str, str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self.teams = list(_seed.TEAMS)
        self.users = list(_seed.USERS)
        self.policies = list(_seed.POLICIES)
        self.routing_keys = list(_seed.ROUTING_KEYS)
        self.rotation_epoch = (now or datetime.now(UTC)) - timedelta(days=3)
        self.incidents: dict[int, SimIncident] = {}
        self._seed_incidents(now or datetime.now(UTC))

    # -- lookups ---------------------------------------------------------------------------

    def team_by_slug(self, slug: str) -> _seed.SeedTeam | None:
        return next((t for t in self.teams if t.slug == slug), None)

    def team_by_name(self, name: str) -> _seed.SeedTeam | None:
        return next((t for t in self.teams if t.name == name), None)

    def policy(self, slug: str) -> _seed.SeedPolicy | None:
        return next((p for p in self.policies if p.slug == slug), None)

    def user(self, username: str) -> _seed.SeedUser | None:
        return next((u for u in self.users if u.username == username), None)

    def routing_key(self, key: str) -> _seed.SeedRoutingKey:
        found = next((k for k in self.routing_keys if k.routing_key == key), None)
        if found is not None:
            return found
        # Unknown routing keys go to the organisation's default key, as on the real service.
        return next(k for k in self.routing_keys if k.is_default)

    def on_call_now(self, policy: _seed.SeedPolicy, now: datetime) -> str | None:
        if not policy.rotation:
            return None
        weeks = int((now - self.rotation_epoch) / timedelta(weeks=1))
        return policy.rotation[weeks % len(policy.rotation)]

    def teams_of_policies(self, policy_slugs: list[str]) -> list[str]:
        slugs: list[str] = []
        for slug in policy_slugs:
            policy = self.policy(slug)
            if policy is not None and policy.team not in slugs:
                slugs.append(policy.team)
        return slugs

    def open_incident_for_entity(self, entity_id: str) -> SimIncident | None:
        return next(
            (
                i
                for i in self.incidents.values()
                if i.entity_id == entity_id and i.phase != "RESOLVED"
            ),
            None,
        )

    # -- changes ---------------------------------------------------------------------------

    def next_number(self) -> int:
        return max(self.incidents, default=0) + 1

    def open_incident(
        self,
        *,
        display_name: str,
        policies: list[str],
        users: list[str],
        monitor_name: str,
        monitor_type: str,
        routing_key: str | None,
        entity_id: str | None = None,
        entity_state: str = "CRITICAL",
        start_time: datetime | None = None,
        state_message: str = "",
    ) -> SimIncident:
        now = datetime.now(UTC)
        incident = SimIncident(
            number=self.next_number(),
            entity_id=entity_id or str(uuid.uuid4()),
            display_name=display_name,
            entity_state=entity_state,
            phase="UNACKED",
            start_time=start_time or now,
            routing_key=routing_key,
            paged_policies=policies,
            paged_users=users,
            monitor_name=monitor_name,
            monitor_type=monitor_type,
            last_alert_time=now,
            state_message=state_message,
        )
        self.incidents[incident.number] = incident
        return incident

    def transition(
        self, incident: SimIncident, phase: str, by: str | None, message: str | None = None
    ) -> tuple[bool, str]:
        """Move an incident on; returns ``(accepted, message)`` as the ack/resolve API does."""
        if incident.phase == "RESOLVED":
            return False, f"Incident {incident.number} is already resolved"
        if phase == "ACKED" and incident.phase == "ACKED":
            return False, f"Incident {incident.number} is already acknowledged"
        incident.phase = phase
        incident.transitions.append(
            Transition(phase, datetime.now(UTC), by, message, manually=by is not None)
        )
        return True, ""

    # -- seed ------------------------------------------------------------------------------

    def _seed_incidents(self, now: datetime) -> None:
        seeds = [*_seed.resolved_history(100), *_seed.OPEN_INCIDENTS]
        for seed in seeds:
            start = now - seed.started_ago
            incident = SimIncident(
                number=seed.number,
                entity_id=f"{seed.routing_key}/{seed.host or 'service'}/{seed.number}",
                display_name=seed.summary,
                entity_state=seed.entity_state,
                phase="UNACKED",
                start_time=start,
                routing_key=seed.routing_key,
                paged_policies=list(seed.policies),
                paged_users=list(seed.extra_users),
                monitor_name=seed.monitor_name,
                monitor_type=seed.monitor_type,
                host=seed.host,
                alert_count=seed.alert_count,
                last_alert_time=start,
            )
            if seed.acked_ago is not None:
                incident.phase = "ACKED"
                incident.transitions.append(
                    Transition("ACKED", now - seed.acked_ago, seed.acked_by)
                )
            if seed.resolved_ago is not None:
                incident.phase = "RESOLVED"
                incident.transitions.append(
                    Transition("RESOLVED", now - seed.resolved_ago, seed.resolved_by)
                )
            self.incidents[incident.number] = incident

"""The simulator's mutable organisation: incidents move through UNACKED -> ACKED -> RESOLVED."""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Callable
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


def generated_team_name(n: int) -> str:
    """The name of the ``n``-th generated team (1-based) of a scaled organisation."""
    return f"Generated Team {n:05d}"


def generated_routing_key(n: int) -> str:
    return f"gen-routing-{n:05d}"


def generated_annotations(n: int, alternate: bool = False) -> dict[str, str]:
    """Catalog annotations naming the ``n``-th generated team: its routing key, or with
    ``alternate`` its name (``greenroom.testing.generated_catalog`` takes this)."""
    if alternate:
        return {"splunk.com/on-call-team": generated_team_name(n)}
    return {"splunk.com/on-call-routing-key": generated_routing_key(n)}


class SimulatorState:
    """Teams, users, policies, routing keys, rotations and incidents of one fake organisation."""

    def __init__(
        self, *, now: datetime | None = None, rate_limit_per_minute: int = 60, scale: int = 0
    ) -> None:
        self.lock = threading.RLock()
        self.rate_limit_per_minute = rate_limit_per_minute
        self.faults: list[Fault] = []
        self.calls: dict[str, deque[float]] = {}
        #: Every request the simulator answered: (method, path, query, json body or None).
        #: The latest ones only (REQUEST_LOG_SIZE), so a long-running demo does not grow.
        self.requests: list[tuple[str, str, str, Any]] = []
        self.teams = list(_seed.TEAMS)
        self.users = list(_seed.USERS)
        self.policies = list(_seed.POLICIES)
        self.routing_keys = list(_seed.ROUTING_KEYS)
        self.rotation_epoch = (now or datetime.now(UTC)) - timedelta(days=3)
        self.incidents: dict[int, SimIncident] = {}
        #: Called with (incident, acting user or None) after every change (the simulator's
        #: outgoing webhooks listen here; nobody does while seeding).
        self.on_incident_change: Callable[[SimIncident, str | None], None] | None = None
        self._seed_incidents(now or datetime.now(UTC))
        if scale:
            self._seed_scale(scale, now or datetime.now(UTC))

    # -- lookups (by dict: a scaled organisation has thousands of each) ----------------------

    def _lookup(self) -> dict[str, dict[str, Any]]:
        sizes = (len(self.teams), len(self.policies), len(self.users), len(self.routing_keys))
        if getattr(self, "_lookup_sizes", None) != sizes:
            self._lookup_sizes = sizes
            self._lookups: dict[str, dict[str, Any]] = {
                "team_slug": {}, "team_name": {}, "policy": {}, "user": {}, "key": {},
                "team_policies": {}, "team_members": {},
            }
            found = self._lookups
            for team in self.teams:
                found["team_slug"].setdefault(team.slug, team)
                found["team_name"].setdefault(team.name, team)
            for policy in self.policies:
                found["policy"].setdefault(policy.slug, policy)
                found["team_policies"].setdefault(policy.team, []).append(policy)
            for user in self.users:
                found["user"].setdefault(user.username, user)
                for team_name in user.teams:
                    found["team_members"][team_name] = found["team_members"].get(team_name, 0) + 1
            for key in self.routing_keys:
                found["key"].setdefault(key.routing_key, key)
        return self._lookups

    def team_by_slug(self, slug: str) -> _seed.SeedTeam | None:
        return self._lookup()["team_slug"].get(slug)  # type: ignore[no-any-return]

    def team_by_name(self, name: str) -> _seed.SeedTeam | None:
        return self._lookup()["team_name"].get(name)  # type: ignore[no-any-return]

    def policy(self, slug: str) -> _seed.SeedPolicy | None:
        return self._lookup()["policy"].get(slug)  # type: ignore[no-any-return]

    def policies_of_team(self, team_slug: str) -> list[_seed.SeedPolicy]:
        return self._lookup()["team_policies"].get(team_slug, [])  # type: ignore[no-any-return]

    def member_count(self, team_name: str) -> int:
        return self._lookup()["team_members"].get(team_name, 0)  # type: ignore[no-any-return]

    def user(self, username: str) -> _seed.SeedUser | None:
        return self._lookup()["user"].get(username)  # type: ignore[no-any-return]

    def routing_key(self, key: str) -> _seed.SeedRoutingKey:
        found = self._lookup()["key"].get(key)
        if found is not None:
            return found  # type: ignore[no-any-return]
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

    def _seed_scale(self, count: int, now: datetime) -> None:
        """``count`` more teams, each with a policy, a routing key and two members, and an
        open incident for every fourth team: an organisation the size of a large catalog."""
        for n in range(1, count + 1):
            name = f"Generated Team {n:05d}"
            slug = f"team-gen{n:05d}x{n * 7919 % 100000:05d}"
            members = (f"gen.user{n:05d}a", f"gen.user{n:05d}b")
            self.teams.append(_seed.SeedTeam(name, slug))
            for username in members:
                self.users.append(
                    _seed.SeedUser(
                        username, "Gen", username.rsplit(".", 1)[-1], f"{username}@example.com",
                        (name,),
                    )
                )
            policy_slug = f"pol-gen{n:05d}x{n * 104729 % 100000:05d}"
            self.policies.append(_seed.SeedPolicy(f"{name} On-Call", policy_slug, slug, members))
            self.routing_keys.append(_seed.SeedRoutingKey(generated_routing_key(n), (policy_slug,)))
            if n % 4 == 0:
                number = self.next_number()
                incident = SimIncident(
                    number=number,
                    entity_id=f"{generated_routing_key(n)}/service/{number}",
                    display_name=f"Generated incident for team {n:05d}",
                    entity_state="CRITICAL" if n % 8 else "WARNING",
                    phase="UNACKED" if n % 3 else "ACKED",
                    start_time=now - timedelta(minutes=n % 600 + 1),
                    routing_key=generated_routing_key(n),
                    paged_policies=[policy_slug],
                    paged_users=[],
                    monitor_name="Prometheus",
                    monitor_type="API",
                    last_alert_time=now - timedelta(minutes=n % 600 + 1),
                )
                if incident.phase == "ACKED":
                    incident.transitions.append(
                        Transition("ACKED", incident.start_time + timedelta(minutes=1), members[0])
                    )
                self.incidents[number] = incident

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
        if self.on_incident_change is not None:
            self.on_incident_change(incident, None)
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
        if self.on_incident_change is not None:
            self.on_incident_change(incident, by)
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

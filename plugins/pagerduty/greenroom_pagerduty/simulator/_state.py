"""The simulated PagerDuty account: users, schedules, escalation policies, services,
incidents and change events, seeded deterministically.

Services, policies and integration keys named in the demo catalog have fixed ids; incident
history is drawn from ``random.Random(seed)`` over the last 30 days so response metrics have
something to measure.
"""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

API_BASE = "https://api.pagerduty.com"
DEFAULT_HTML_BASE = "https://greenroom-demo.pagerduty.com"


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SimUser:
    id: str
    name: str
    email: str
    color: str = "purple"
    role: str = "user"
    job_title: str = ""


@dataclass
class SimSchedule:
    id: str
    name: str
    #: Rotation: one user per ``shift_hours``, starting at midnight UTC of day 0.
    user_ids: list[str]
    shift_hours: int = 24


@dataclass
class SimPolicy:
    id: str
    name: str
    #: One list of targets per escalation level: ("schedule"|"user", id).
    levels: list[list[tuple[str, str]]]


#: A service's ``incident_urgency_rule`` (PagerDuty REST API, IncidentUrgencyRule): ``type``
#: ``constant`` with ``urgency`` ``high``, ``low`` or ``severity_based`` (an event's severity
#: decides: critical and error are high, warning and info low), or ``use_support_hours`` with
#: one rule ``during_support_hours`` and one ``outside_support_hours``.
HIGH_RULE: dict[str, Any] = {"type": "constant", "urgency": "high"}
LOW_RULE: dict[str, Any] = {"type": "constant", "urgency": "low"}
SEVERITY_RULE: dict[str, Any] = {"type": "constant", "urgency": "severity_based"}
SUPPORT_HOURS_RULE: dict[str, Any] = {
    "type": "use_support_hours",
    "during_support_hours": {"type": "constant", "urgency": "high"},
    "outside_support_hours": {"type": "constant", "urgency": "low"},
}
#: The simulated services' support hours: 09:00 to 17:00 UTC, Monday to Friday.
SUPPORT_HOURS = (9, 17)


def urgency_by_rule(rule: dict[str, Any], at: datetime, severity: str | None = None) -> str:
    """The urgency PagerDuty gives a new incident of a service with ``rule``."""
    if rule.get("type") == "use_support_hours":
        moment = at.astimezone(UTC)
        during = moment.weekday() < 5 and SUPPORT_HOURS[0] <= moment.hour < SUPPORT_HOURS[1]
        inner = rule.get("during_support_hours" if during else "outside_support_hours") or {}
        return urgency_by_rule(inner, at, severity)
    urgency = str(rule.get("urgency") or "high")
    if urgency == "severity_based":
        return "low" if severity in {"warning", "info"} else "high"
    return urgency


def urgency_choosable(rule: dict[str, Any]) -> bool:
    """Whether the service leaves a new incident's urgency open (dynamic notifications:
    severity-based or support hours) rather than fixing it (a constant high or low rule)."""
    return rule.get("type") == "use_support_hours" or rule.get("urgency") == "severity_based"


@dataclass
class SimService:
    id: str
    name: str
    description: str
    policy_id: str
    integration_id: str
    integration_key: str
    team: str = "Engineering"
    created_at: datetime = field(default_factory=lambda: datetime(2023, 3, 1, tzinfo=UTC))
    urgency_rule: dict[str, Any] = field(default_factory=lambda: dict(HIGH_RULE))


@dataclass
class SimIncident:
    id: str
    number: int
    title: str
    service_id: str
    status: str
    urgency: str
    created_at: datetime
    incident_key: str
    assignee_ids: list[str]
    acknowledged_at: datetime | None = None
    acknowledger_ids: list[str] = field(default_factory=list)
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    updated_at: datetime | None = None
    alerts: int = 1
    #: Who created it through ``POST /incidents`` (None: an event opened it), and its body.
    created_by: str | None = None
    details: str = ""


@dataclass
class SimChangeEvent:
    id: str
    summary: str
    timestamp: datetime
    source: str
    service_id: str
    integration_id: str
    link: str | None = None
    custom_details: dict[str, Any] = field(default_factory=dict)


# Fixed ids and keys: the demo catalog (greenroom_pagerduty._demo) refers to these.
CHECKOUT_SERVICE_ID = "PCHK0UT"
CHECKOUT_INTEGRATION_KEY = "c4e1a6a0b3f84d2e9c7b5a1d0e2f3a4b"
SEARCH_SERVICE_ID = "PSRCH1X"
PAYMENTS_SERVICE_ID = "PPAYM3N"
PAYMENTS_INTEGRATION_KEY = "9f8e7d6c5b4a43219f8e7d6c5b4a4321"
LEGACY_SERVICE_ID = "PLGCY7B"
IDENTITY_SERVICE_ID = "PIDNT4Y"
IDENTITY_INTEGRATION_KEY = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"

_USERS = [
    ("PUSR0AL", "Ada Lovelace", "ada.lovelace@example.com", "Staff Engineer"),
    ("PUSR0GH", "Grace Hopper", "grace.hopper@example.com", "SRE Lead"),
    ("PUSR0AT", "Alan Turing", "alan.turing@example.com", "Backend Engineer"),
    ("PUSR0KJ", "Katherine Johnson", "katherine.johnson@example.com", "SRE"),
    ("PUSR0LT", "Linus Torvalds", "linus.torvalds@example.com", "Platform Engineer"),
    ("PUSR0MH", "Margaret Hamilton", "margaret.hamilton@example.com", "Engineering Manager"),
    ("PUSR0DR", "Dennis Ritchie", "dennis.ritchie@example.com", "Backend Engineer"),
    ("PUSR0BL", "Barbara Liskov", "barbara.liskov@example.com", "Principal Engineer"),
]
_COLORS = ["purple", "teal", "orange", "green", "red", "blue", "brown", "pink"]

_TITLES = {
    CHECKOUT_SERVICE_ID: [
        "High error rate on POST /checkout",
        "p99 latency above 2s for checkout",
        "Cart service returning 503",
        "Payment callback queue backing up",
    ],
    SEARCH_SERVICE_ID: [
        "Indexer lag above 15 minutes",
        "Elasticsearch cluster status yellow",
        "Reindex job failed",
    ],
    PAYMENTS_SERVICE_ID: [
        "Card authorisation failures above 5%",
        "Settlement batch did not complete",
        "Fraud scoring timeouts",
        "Webhook deliveries failing",
    ],
    IDENTITY_SERVICE_ID: ["Login failures spike", "Token signing key expiring soon"],
}


def generated_service(n: int) -> tuple[str, str]:
    """(service id, integration key) of the ``n``-th generated service (1-based)."""
    return f"PG{n:05d}", hashlib.sha256(f"generated-{n}".encode()).hexdigest()[:32]


def generated_annotations(n: int, alternate: bool = False) -> dict[str, str]:
    """Catalog annotations naming the ``n``-th generated service: its integration key, or with
    ``alternate`` its service id (``greenroom.testing.generated_catalog`` takes this)."""
    service_id, key = generated_service(n)
    if alternate:
        return {"pagerduty.com/service-id": service_id}
    return {"pagerduty.com/integration-key": key}


class PagerDutyState:
    """Mutable account state behind the simulator's endpoints."""

    def __init__(
        self,
        *,
        seed: int = 7,
        now: datetime | None = None,
        html_base: str = DEFAULT_HTML_BASE,
        scale: int = 0,
    ) -> None:
        self.rng = random.Random(seed)
        self.html_base = html_base.rstrip("/")
        self.now = now or datetime.now(UTC)
        self.users: dict[str, SimUser] = {}
        self.schedules: dict[str, SimSchedule] = {}
        self.policies: dict[str, SimPolicy] = {}
        self.services: dict[str, SimService] = {}
        self.incidents: dict[str, SimIncident] = {}
        self.change_events: list[SimChangeEvent] = []
        self._next_number = 1000
        #: Called with (incident, webhook event type, acting user id) after every change
        #: (the simulator's webhook subscriptions listen here).
        self.on_incident_change: Callable[[SimIncident, str, str | None], None] | None = None
        self._seed()
        if scale:
            self._seed_scale(scale)

    # -- ids -----------------------------------------------------------------------------

    def new_id(self, prefix: str = "P") -> str:
        alphabet = string.ascii_uppercase + string.digits
        while True:
            candidate = prefix + "".join(self.rng.choice(alphabet) for _ in range(6))
            if candidate not in self.incidents:
                return candidate

    def new_hex(self, length: int = 32) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(length))

    # -- seed ----------------------------------------------------------------------------

    def _seed(self) -> None:
        for index, (uid, name, email, title) in enumerate(_USERS):
            self.users[uid] = SimUser(uid, name, email, _COLORS[index], job_title=title)
        self.schedules = {
            "PSCHCK1": SimSchedule(
                "PSCHCK1", "Checkout Primary", ["PUSR0AL", "PUSR0AT", "PUSR0DR"]
            ),
            "PSCHSR1": SimSchedule("PSCHSR1", "Search Weekly", ["PUSR0LT", "PUSR0BL"], 168),
            "PSCHPY1": SimSchedule("PSCHPY1", "Payments Primary", ["PUSR0KJ", "PUSR0GH"]),
            "PSCHPY2": SimSchedule("PSCHPY2", "Payments Secondary", ["PUSR0DR", "PUSR0AT"]),
        }
        self.policies = {
            "PEPCHK1": SimPolicy(
                "PEPCHK1",
                "Checkout Escalation",
                [[("schedule", "PSCHCK1")], [("user", "PUSR0GH")], [("user", "PUSR0MH")]],
            ),
            "PEPSRC1": SimPolicy("PEPSRC1", "Search Escalation", [[("schedule", "PSCHSR1")]]),
            "PEPPAY1": SimPolicy(
                "PEPPAY1",
                "Payments Escalation",
                [[("schedule", "PSCHPY1")], [("schedule", "PSCHPY2")], [("user", "PUSR0MH")]],
            ),
            # A policy with no rules: the card's "Empty escalation policy" state.
            "PEPLGC1": SimPolicy("PEPLGC1", "Legacy (unstaffed)", []),
            "PEPIDN1": SimPolicy("PEPIDN1", "Identity Escalation", [[("user", "PUSR0BL")]]),
        }
        services = [
            SimService(
                CHECKOUT_SERVICE_ID,
                "Checkout API",
                "Takes orders and payments",
                "PEPCHK1",
                "PINTCHK",
                CHECKOUT_INTEGRATION_KEY,
                "Commerce",
                urgency_rule=SEVERITY_RULE,
            ),
            SimService(
                SEARCH_SERVICE_ID,
                "Search Indexer",
                "Keeps the product index fresh",
                "PEPSRC1",
                "PINTSRC",
                self.new_hex(),
                "Discovery",
                urgency_rule=LOW_RULE,
            ),
            SimService(
                PAYMENTS_SERVICE_ID,
                "Payments API",
                "Card authorisation and settlement",
                "PEPPAY1",
                "PINTPAY",
                PAYMENTS_INTEGRATION_KEY,
                "Payments",
                urgency_rule=SUPPORT_HOURS_RULE,
            ),
            SimService(
                LEGACY_SERVICE_ID,
                "Legacy Batch",
                "Nightly batch jobs nobody owns",
                "PEPLGC1",
                "PINTLGC",
                self.new_hex(),
                "Platform",
                urgency_rule=LOW_RULE,
            ),
            SimService(
                IDENTITY_SERVICE_ID,
                "Identity Service",
                "Logins and tokens",
                "PEPIDN1",
                "PINTIDN",
                IDENTITY_INTEGRATION_KEY,
                "Platform",
            ),
        ]
        self.services = {s.id: s for s in services}
        for service_id, titles in _TITLES.items():
            self._seed_history(service_id, titles)
        # Open incidents now, so the cards have something to show and act on.
        self._seed_open(CHECKOUT_SERVICE_ID, "High error rate on POST /checkout", "triggered", 25)
        self._seed_open(CHECKOUT_SERVICE_ID, "Cart service returning 503", "acknowledged", 140)
        self._seed_open(PAYMENTS_SERVICE_ID, "Webhook deliveries failing", "triggered", 12)
        self._seed_open(IDENTITY_SERVICE_ID, "Login failures spike", "triggered", 5)
        # More open incidents than one page (25) holds: the card pages with offset/more.
        for n in range(32):
            self._seed_open(
                LEGACY_SERVICE_ID,
                f"Batch job {n + 1:02d} exceeded its window",
                "triggered",
                60 * 24 * 3 - n * 90,
            )
        self._seed_changes()

    def _seed_scale(self, count: int) -> None:
        """``count`` more services, five to an escalation policy (a schedule of three people,
        then a manager), and an open incident on every fourth service: an account the size
        of a large catalog. Ids and keys are derived from the number (see generated_service)."""
        people = max(8, count // 5)
        for n in range(1, people + 1):
            uid = f"PGU{n:04d}"
            self.users[uid] = SimUser(
                uid, f"Generated Person {n}", f"gen.person{n}@example.com",
                _COLORS[n % len(_COLORS)],
            )
        user_ids = list(self.users)
        for p in range((count + 4) // 5):
            schedule_id, policy_id = f"PGS{p:04d}", f"PGE{p:04d}"
            rota = [user_ids[(p * 3 + k) % len(user_ids)] for k in range(3)]
            self.schedules[schedule_id] = SimSchedule(schedule_id, f"Generated Rota {p}", rota)
            manager = user_ids[(p * 3 + 3) % len(user_ids)]
            self.policies[policy_id] = SimPolicy(
                policy_id,
                f"Generated Escalation {p}",
                [[("schedule", schedule_id)], [("user", manager)]],
            )
        for n in range(1, count + 1):
            service_id, key = generated_service(n)
            self.services[service_id] = SimService(
                service_id,
                f"Generated Service {n:05d}",
                "Generated for catalog-scale runs",
                f"PGE{(n - 1) // 5:04d}",
                f"PGI{n:05d}",
                key,
                "Generated",
            )
            if n % 4 == 0:
                self._seed_open(
                    service_id,
                    f"Generated incident on service {n:05d}",
                    "acknowledged" if n % 3 == 0 else "triggered",
                    n % 600 + 1,
                )

    def _seed_history(self, service_id: str, titles: list[str]) -> None:
        for _ in range(self.rng.randint(8, 14)):
            created = self.now - timedelta(minutes=self.rng.randint(60 * 6, 60 * 24 * 30))
            acked = created + timedelta(minutes=self.rng.randint(1, 25))
            resolved = acked + timedelta(minutes=self.rng.randint(5, 240))
            responder = self.on_call_user_ids(self.services[service_id].policy_id, created)
            who = responder[0] if responder else "PUSR0MH"
            title = self.rng.choice(titles)
            # Drawn for every service so the seeded history stays the same; only a
            # severity-based rule lets the draw (standing for the event's severity) decide.
            severity = self.rng.choice(["critical", "error", "warning"])
            rule = self.services[service_id].urgency_rule
            incident = self._add_incident(
                service_id, title, created, urgency=urgency_by_rule(rule, created, severity)
            )
            incident.status = "resolved"
            incident.acknowledged_at, incident.acknowledger_ids = acked, [who]
            incident.resolved_at, incident.resolved_by = resolved, who
            incident.updated_at = resolved
            incident.assignee_ids = []

    def _seed_open(
        self, service_id: str, title: str, status: str, minutes_ago: int,
        severity: str = "critical",
    ) -> None:
        created = self.now - timedelta(minutes=minutes_ago)
        rule = self.services[service_id].urgency_rule
        incident = self._add_incident(
            service_id, title, created, urgency=urgency_by_rule(rule, created, severity)
        )
        if status == "acknowledged":
            incident.status = "acknowledged"
            incident.acknowledged_at = incident.created_at + timedelta(minutes=4)
            incident.acknowledger_ids = list(incident.assignee_ids[:1])
            incident.updated_at = incident.acknowledged_at

    def _seed_changes(self) -> None:
        sources = {
            CHECKOUT_SERVICE_ID: ("github-actions", "Deploy checkout-api"),
            SEARCH_SERVICE_ID: ("argo-cd", "Sync search-indexer"),
            PAYMENTS_SERVICE_ID: ("github-actions", "Deploy payments-api"),
            IDENTITY_SERVICE_ID: ("spinnaker", "Rollout identity-service"),
        }
        for service_id, (source, verb) in sources.items():
            service = self.services[service_id]
            for n in range(7):
                at = self.now - timedelta(hours=n * 9 + self.rng.randint(1, 8))
                version = f"v2.{40 - n}.{self.rng.randint(0, 9)}"
                self.change_events.append(
                    SimChangeEvent(
                        id=self.new_hex(26).upper(),
                        summary=f"{verb} {version}",
                        timestamp=at,
                        source=source,
                        service_id=service_id,
                        integration_id=service.integration_id,
                        link=f"https://ci.example.com/{service.id.lower()}/{version}",
                        custom_details={"version": version, "build_state": "passed"},
                    )
                )

    # -- behaviour -----------------------------------------------------------------------

    def _add_incident(
        self, service_id: str, title: str, created: datetime, *, urgency: str, key: str = ""
    ) -> SimIncident:
        self._next_number += 1
        policy_id = self.services[service_id].policy_id
        incident = SimIncident(
            id=self.new_id("Q"),
            number=self._next_number,
            title=title,
            service_id=service_id,
            status="triggered",
            urgency=urgency,
            created_at=created,
            incident_key=key or self.new_hex(),
            assignee_ids=self.on_call_user_ids(policy_id, created)[:1],
            updated_at=created,
        )
        self.incidents[incident.id] = incident
        return incident

    def trigger(self, service_id: str, title: str, dedup_key: str, severity: str) -> SimIncident:
        """Events API trigger: reuse the open incident with this dedup key, or open one (its
        urgency from the service's rule; the Events API cannot choose it)."""
        urgency = urgency_by_rule(self.services[service_id].urgency_rule, datetime.now(UTC),
                                  severity)
        for incident in self.incidents.values():
            if (
                incident.service_id == service_id
                and incident.incident_key == dedup_key
                and incident.status != "resolved"
            ):
                incident.alerts += 1
                return incident
        incident = self._add_incident(
            service_id, title, datetime.now(UTC), urgency=urgency, key=dedup_key
        )
        self._changed(incident, "incident.triggered", None)
        return incident

    def create(
        self, service_id: str, title: str, *, incident_key: str, urgency: str | None,
        user_id: str | None, details: str = "",
    ) -> SimIncident | None:
        """REST ``POST /incidents``: a new incident, or None when an open incident of the
        service has this ``incident_key`` (PagerDuty refuses the request then). Without an
        urgency the service's rule decides (no severity: a severity-based rule gives high)."""
        if any(
            i.service_id == service_id and i.incident_key == incident_key
            and i.status != "resolved"
            for i in self.incidents.values()
        ):
            return None
        now = datetime.now(UTC)
        incident = self._add_incident(
            service_id, title, now,
            urgency=urgency or urgency_by_rule(self.services[service_id].urgency_rule, now),
            key=incident_key or self.new_hex(),
        )
        incident.created_by, incident.details = user_id, details
        self._changed(incident, "incident.triggered", user_id)
        return incident

    def _changed(self, incident: SimIncident, event_type: str, user_id: str | None) -> None:
        if self.on_incident_change is not None:
            self.on_incident_change(incident, event_type, user_id)

    def open_incident_by_key(self, service_id: str, dedup_key: str) -> SimIncident | None:
        for incident in self.incidents.values():
            if (
                incident.service_id == service_id
                and incident.incident_key == dedup_key
                and incident.status != "resolved"
            ):
                return incident
        return None

    def set_status(self, incident: SimIncident, status: str, user_id: str | None) -> None:
        now = datetime.now(UTC)
        if status == "acknowledged":
            incident.status = "acknowledged"
            incident.acknowledged_at = now
            incident.acknowledger_ids = [user_id] if user_id else []
        elif status == "resolved":
            incident.status = "resolved"
            incident.resolved_at = now
            incident.resolved_by = user_id
            incident.assignee_ids = []
        incident.updated_at = now
        self._changed(incident, f"incident.{status}", user_id)

    def on_call_user_ids(self, policy_id: str, at: datetime | None = None) -> list[str]:
        return [user_id for _, user_id, _ in self.on_call(policy_id, at)]

    def on_call(
        self, policy_id: str, at: datetime | None = None
    ) -> list[tuple[int, str, SimSchedule | None]]:
        """(escalation level, user id, schedule or None) for everyone on call at ``at``."""
        at = at or datetime.now(UTC)
        policy = self.policies.get(policy_id)
        if policy is None:
            return []
        result: list[tuple[int, str, SimSchedule | None]] = []
        for level, targets in enumerate(policy.levels, start=1):
            for kind, target_id in targets:
                if kind == "user":
                    result.append((level, target_id, None))
                else:
                    schedule = self.schedules[target_id]
                    result.append((level, self.shift_user(schedule, at), schedule))
        return result

    def shift_bounds(self, schedule: SimSchedule, at: datetime) -> tuple[datetime, datetime]:
        epoch = datetime(2024, 1, 1, tzinfo=UTC)
        length = timedelta(hours=schedule.shift_hours)
        index = int((at - epoch) / length)
        start = epoch + index * length
        return start, start + length

    def shift_user(self, schedule: SimSchedule, at: datetime) -> str:
        epoch = datetime(2024, 1, 1, tzinfo=UTC)
        index = int((at - epoch) / timedelta(hours=schedule.shift_hours))
        return schedule.user_ids[index % len(schedule.user_ids)]

    def user_by_email(self, email: str) -> SimUser | None:
        for user in self.users.values():
            if user.email.lower() == email.lower():
                return user
        return None

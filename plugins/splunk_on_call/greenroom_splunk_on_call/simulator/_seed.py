"""The simulator's seed data: a small but realistic Splunk On-Call organisation.

Team slugs follow the vendor's `team-[\\w\\d]{16}` shape and never equal the team's name, so a
client that filters incidents by name instead of slug sees nothing (the bug Backstage's
Splunk On-Call plugin shipped: it matched incidents to teams by name).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

ORG_SLUG = "greenroom-demo"


@dataclass
class SeedUser:
    username: str
    first_name: str
    last_name: str
    email: str
    teams: tuple[str, ...]


@dataclass
class SeedTeam:
    name: str
    slug: str
    is_default: bool = False


@dataclass
class SeedPolicy:
    name: str
    slug: str
    team: str  # team slug
    #: Who takes turns on call, one week each.
    rotation: tuple[str, ...] = ()


@dataclass
class SeedRoutingKey:
    routing_key: str
    policies: tuple[str, ...]  # policy slugs
    is_default: bool = False


@dataclass
class SeedIncident:
    number: int
    summary: str
    policies: tuple[str, ...]
    started_ago: timedelta
    routing_key: str
    entity_state: str = "CRITICAL"
    monitor_name: str = "Prometheus"
    monitor_type: str = "API"
    host: str | None = None
    acked_ago: timedelta | None = None
    acked_by: str | None = None
    resolved_ago: timedelta | None = None
    resolved_by: str | None = None
    alert_count: int = 1
    extra_users: tuple[str, ...] = field(default_factory=tuple)


TEAMS = (
    SeedTeam("payments", "team-Pm7xQ2vL9kRt4Ws1"),
    SeedTeam("Platform Infrastructure", "team-Inf8Hq3Zx0Lp2Yc6", is_default=True),
    SeedTeam("Checkout", "team-Ck4Rw9Ty1Bn5Md7E"),
    SeedTeam("Search", "team-Sr2Jk6Vb8Nq0Xz3F"),
    SeedTeam("Data Science", "team-Ds5Gh1Kl7Qw3Er9T"),
)

USERS = (
    SeedUser("ada.lovelace", "Ada", "Lovelace", "ada.lovelace@example.com", ("payments",)),
    SeedUser("alan.turing", "Alan", "Turing", "alan.turing@example.com", ("payments",)),
    SeedUser(
        "barbara.liskov", "Barbara", "Liskov", "barbara.liskov@example.com", ("payments", "Search")
    ),
    SeedUser(
        "grace.hopper",
        "Grace",
        "Hopper",
        "grace.hopper@example.com",
        ("Platform Infrastructure", "Checkout"),
    ),
    SeedUser(
        "linus.torvalds", "Linus", "Torvalds", "linus@example.com", ("Platform Infrastructure",)
    ),
    SeedUser("margaret.hamilton", "Margaret", "Hamilton", "mhamilton@example.com", ("Checkout",)),
    SeedUser("ken.thompson", "Ken", "Thompson", "ken@example.com", ("Search",)),
    SeedUser("karen.sparck", "Karen", "Spärck Jones", "karen@example.com", ("Data Science",)),
    # The demo portal's guest user: its email maps to a Splunk On-Call username (README).
    SeedUser("guest", "Guest", "Engineer", "guest@example.com", ("payments", "Checkout")),
)

POLICIES = (
    SeedPolicy(
        "Payments Primary",
        "pol-Pp1aYm3nT5sQ7uW9",
        "team-Pm7xQ2vL9kRt4Ws1",
        ("ada.lovelace", "alan.turing", "barbara.liskov"),
    ),
    SeedPolicy(
        "Payments Secondary",
        "pol-Pp2bZn4oU6tR8vX0",
        "team-Pm7xQ2vL9kRt4Ws1",
        ("alan.turing", "ada.lovelace"),
    ),
    SeedPolicy(
        "Platform On-Call",
        "pol-Pl3cAo5pV7uS9wY1",
        "team-Inf8Hq3Zx0Lp2Yc6",
        ("grace.hopper", "linus.torvalds"),
    ),
    SeedPolicy(
        "Checkout On-Call",
        "pol-Ck4dBp6qW8vT0xZ2",
        "team-Ck4Rw9Ty1Bn5Md7E",
        ("margaret.hamilton", "grace.hopper", "guest"),
    ),
    SeedPolicy(
        "Search On-Call",
        "pol-Sr5eCq7rX9wU1yA3",
        "team-Sr2Jk6Vb8Nq0Xz3F",
        ("ken.thompson", "barbara.liskov"),
    ),
    # Nobody is scheduled: the team's on-call list is empty.
    SeedPolicy("Data Science Business Hours", "pol-Ds6fDr8sY0xV2zB4", "team-Ds5Gh1Kl7Qw3Er9T"),
)

ROUTING_KEYS = (
    SeedRoutingKey("routingdefault", ("pol-Pl3cAo5pV7uS9wY1",), is_default=True),
    SeedRoutingKey("payments-api", ("pol-Pp1aYm3nT5sQ7uW9",)),
    # One key that pages two teams: entities annotated with it show one card per team.
    SeedRoutingKey("checkout-web", ("pol-Ck4dBp6qW8vT0xZ2", "pol-Pp1aYm3nT5sQ7uW9")),
    SeedRoutingKey("search", ("pol-Sr5eCq7rX9wU1yA3",)),
    SeedRoutingKey("shared-infra", ("pol-Pl3cAo5pV7uS9wY1", "pol-Sr5eCq7rX9wU1yA3")),
    SeedRoutingKey("data-pipelines", ("pol-Ds6fDr8sY0xV2zB4",)),
)

OPEN_INCIDENTS = (
    SeedIncident(
        141,
        "Card authorisation latency above SLO",
        ("pol-Pp1aYm3nT5sQ7uW9",),
        timedelta(minutes=12),
        "payments-api",
        host="payments-api-7f9c",
        alert_count=3,
    ),
    SeedIncident(
        142,
        "Refund queue backlog growing",
        ("pol-Pp1aYm3nT5sQ7uW9",),
        timedelta(hours=2, minutes=5),
        "payments-api",
        entity_state="WARNING",
        acked_ago=timedelta(hours=1, minutes=50),
        acked_by="alan.turing",
    ),
    SeedIncident(
        143,
        "Checkout 5xx rate elevated",
        ("pol-Ck4dBp6qW8vT0xZ2", "pol-Pp1aYm3nT5sQ7uW9"),
        timedelta(minutes=34),
        "checkout-web",
        monitor_name="Splunk",
        monitor_type="Splunk",
        alert_count=7,
    ),
    SeedIncident(
        144,
        "Disk usage above 90% on db-replica-2",
        ("pol-Pl3cAo5pV7uS9wY1",),
        timedelta(hours=5),
        "routingdefault",
        host="db-replica-2",
        acked_ago=timedelta(hours=4, minutes=40),
        acked_by="grace.hopper",
    ),
    SeedIncident(
        145,
        "Search indexer lagging behind",
        ("pol-Sr5eCq7rX9wU1yA3",),
        timedelta(minutes=48),
        "search",
        entity_state="WARNING",
    ),
)

_HISTORY_SUMMARIES = (
    "Elevated error rate",
    "Latency above SLO",
    "Health check failing",
    "Queue depth above threshold",
    "Certificate expires in 7 days",
    "Memory pressure on worker pool",
)


def resolved_history(start_number: int, *, seed: int = 6) -> list[SeedIncident]:
    """About 30 days of resolved incidents with ack and resolve times, per escalation policy."""
    rng = random.Random(seed)
    history: list[SeedIncident] = []
    number = start_number
    for policy in POLICIES:
        if not policy.rotation:
            continue
        for _ in range(4):
            started = timedelta(days=rng.uniform(1, 29), minutes=rng.randint(0, 59))
            to_ack = timedelta(minutes=rng.randint(1, 25))
            to_resolve = to_ack + timedelta(minutes=rng.randint(5, 180))
            responder = rng.choice(policy.rotation)
            routing_key = next(
                (key.routing_key for key in ROUTING_KEYS if policy.slug in key.policies),
                "routingdefault",
            )
            history.append(
                SeedIncident(
                    number,
                    f"{rng.choice(_HISTORY_SUMMARIES)} ({policy.name})",
                    (policy.slug,),
                    started,
                    routing_key,
                    entity_state=rng.choice(("CRITICAL", "CRITICAL", "WARNING")),
                    acked_ago=started - to_ack,
                    acked_by=responder,
                    resolved_ago=started - to_resolve,
                    resolved_by=responder,
                )
            )
            number += 1
    history.sort(key=lambda incident: incident.started_ago, reverse=True)
    for offset, incident in enumerate(history):
        incident.number = start_number + offset
    return history


def format_time(moment: datetime) -> str:
    """The API's `yyyy-MM-dd'T'HH:mm:ssZ` format, in UTC."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

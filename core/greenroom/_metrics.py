"""Response metrics: time to acknowledge and time to resolve over the last 30 days.

A built-in plugin (``response-metrics``) made with ``create_plugin`` like any other. Its card
asks every enabled provider that declares ``Capability.HISTORY`` for the entity's resolved
incidents and shows the median and 90th percentile with a small server-rendered SVG chart.
The statistics are pure functions, so their numbers can be checked exactly.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ._api import ApiHolder
from ._availability import provider_is_available
from ._core_apis import config_api_ref, incident_providers_api_ref
from ._entity import Entity
from ._plugin import Card, CardContext, create_plugin
from ._provider import Capability, Incident, IncidentProvider, IncidentStatus

WINDOW = timedelta(days=30)


# --- statistics ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` (0..1) percentile, interpolating linearly between closest ranks
    (numpy's default): ``percentile([1, 2, 3, 4], 0.5) == 2.5``."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * fraction
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """Median and 90th percentile of a set of durations, in seconds."""

    count: int
    median: float | None
    p90: float | None


def summarize(seconds: Sequence[float]) -> Summary:
    if not seconds:
        return Summary(0, None, None)
    return Summary(len(seconds), percentile(seconds, 0.5), percentile(seconds, 0.9))


@dataclass(frozen=True)
class ResponseMetrics:
    acknowledge: Summary
    resolve: Summary
    #: (incident, seconds to acknowledge or None, seconds to resolve), oldest first.
    points: tuple[tuple[Incident, float | None, float], ...]


def _seconds(start: datetime, end: datetime | None) -> float | None:
    if end is None:
        return None
    value = (_aware(end) - _aware(start)).total_seconds()
    # Clocks of vendors disagree by a little; a negative duration is noise, not data.
    return max(value, 0.0)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def response_metrics(
    incidents: Iterable[Incident], *, now: datetime, window: timedelta = WINDOW
) -> ResponseMetrics:
    """Metrics over the incidents resolved within ``window`` before ``now``.

    An incident resolved without an acknowledgement counts for time to resolve only.
    """
    since = _aware(now) - window
    points = []
    for incident in incidents:
        if incident.status is not IncidentStatus.RESOLVED or incident.resolved_at is None:
            continue
        if _aware(incident.resolved_at) < since:
            continue
        resolve = _seconds(incident.created_at, incident.resolved_at)
        assert resolve is not None
        points.append((incident, _seconds(incident.created_at, incident.acknowledged_at), resolve))
    points.sort(key=lambda p: _aware(p[0].created_at))
    return ResponseMetrics(
        acknowledge=summarize([p[1] for p in points if p[1] is not None]),
        resolve=summarize([p[2] for p in points]),
        points=tuple(points),
    )


def format_duration(seconds: float | None) -> str:
    """``45s``, ``4m 30s``, ``2h 05m``, ``1d 3h``."""
    if seconds is None:
        return "–"
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


# --- chart ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    #: y of the median line, or None without data.
    median_y: float | None
    max_label: str


def resolve_chart(metrics: ResponseMetrics, *, width: int = 320, height: int = 90) -> Chart:
    """One bar per incident (oldest left), its height the time to resolve; a median line."""
    values = [p[2] for p in metrics.points]
    if not values:
        return Chart(width, height, (), None, "")
    top = max(values) or 1.0
    slot = width / len(values)
    bar_width = max(slot * 0.8, 1.0)
    bars = []
    for index, (incident, _ack, resolve) in enumerate(metrics.points):
        bar_height = max(height * resolve / top, 1.0)
        bars.append(
            Bar(
                x=round(index * slot + (slot - bar_width) / 2, 2),
                y=round(height - bar_height, 2),
                width=round(bar_width, 2),
                height=round(bar_height, 2),
                label=f"{incident.title}: resolved in {format_duration(resolve)}",
            )
        )
    median = metrics.resolve.median or 0.0
    return Chart(width, height, tuple(bars), round(height - height * median / top, 2),
                 format_duration(top))


# --- the card ------------------------------------------------------------------------------------


def _providers(ctx_or_apis: object) -> list[IncidentProvider]:
    apis = getattr(ctx_or_apis, "apis", ctx_or_apis)
    found = apis.get(incident_providers_api_ref)  # type: ignore[attr-defined]
    return list(found.providers()) if found is not None else []


async def is_metrics_available(entity: Entity, apis: ApiHolder) -> bool:
    """Shown where any enabled provider covers the entity (the card asks them all)."""
    return any([await provider_is_available(p, entity) for p in _providers(apis)])


@dataclass(frozen=True)
class _Source:
    title: str
    count: int = 0
    error: str | None = None
    no_history: bool = False


def history_since(now: datetime) -> datetime:
    """Where the card's history request starts: the window's start rounded down to the hour.

    A per-second ``since`` would make every view a new upstream URL (a cache entry and a vendor
    call each second); the hour-aligned one stays the same for an hour, so shared reads reuse it
    within their TTL. :func:`response_metrics` still cuts the window at ``now`` exactly.
    """
    return (_aware(now) - WINDOW).replace(minute=0, second=0, microsecond=0)


async def render_metrics_card(ctx: CardContext) -> str:
    now = datetime.now(UTC)
    entity = ctx.entity
    covering = [p for p in _providers(ctx) if await provider_is_available(p, entity)]
    with_history = [p for p in covering if Capability.HISTORY in p.capabilities]
    since = history_since(now)
    results = await asyncio.gather(
        *(
            p.list_incidents(entity, statuses=[IncidentStatus.RESOLVED], since=since)
            for p in with_history
        ),
        return_exceptions=True,
    )
    incidents: list[Incident] = []
    sources = []
    config = ctx.apis.get(config_api_ref)
    scrub = config.scrub if config is not None else str
    for provider, result in zip(with_history, results, strict=True):
        if isinstance(result, BaseException):
            message = scrub(str(result)) or type(result).__name__
            sources.append(_Source(provider.title, error=message))
        else:
            incidents.extend(result)
            sources.append(_Source(provider.title, count=len(result)))
    sources += [_Source(p.title, no_history=True) for p in covering if p not in with_history]
    metrics = response_metrics(incidents, now=now)
    return str(
        ctx.render_template(
            "greenroom/metrics_card.html",
            ctx=ctx,
            metrics=metrics,
            chart=resolve_chart(metrics),
            sources=sources,
            answered=any(not s.error and not s.no_history for s in sources),
            fmt=format_duration,
            window_days=WINDOW.days,
        )
    )


def _create_plugin() -> object:
    card = Card(
        id="response-metrics",
        title="Response metrics",
        render=render_metrics_card,
        is_available=is_metrics_available,
        timeout=15.0,
    )
    return create_plugin(
        id="response-metrics",
        title="Response metrics",
        description="Time to acknowledge and to resolve over the last 30 days.",
        cards=[card],
        templates="greenroom",
    )


plugin = _create_plugin()

"""Response metrics: exact statistics, the chart geometry, and the built-in card."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from greenroom import (
    Capability,
    Entity,
    Incident,
    IncidentStatus,
    RateLimitedError,
    create_api_factory,
    create_api_ref,
    create_plugin,
)
from greenroom._metrics import (
    WINDOW,
    format_duration,
    history_since,
    incident_providers_api_ref,
    percentile,
    plugin,
    resolve_chart,
    response_metrics,
    summarize,
)
from greenroom._portal import build_portal
from greenroom.testing import api_holder, render_card
from greenroom.web import create_app

NOW = datetime(2024, 5, 31, 12, 0, tzinfo=UTC)


def resolved(id: str, *, days_ago: float, ack_s: float | None, resolve_s: float) -> Incident:
    created = NOW - timedelta(days=days_ago)
    return Incident(
        provider="hist", id=id, title=f"Incident {id}", status=IncidentStatus.RESOLVED,
        created_at=created, entity_ref="component:default/svc",
        acknowledged_at=created + timedelta(seconds=ack_s) if ack_s is not None else None,
        resolved_at=created + timedelta(seconds=resolve_s),
    )


HISTORY = [
    resolved("1", days_ago=20, ack_s=60, resolve_s=600),
    resolved("2", days_ago=10, ack_s=120, resolve_s=1200),
    resolved("3", days_ago=5, ack_s=180, resolve_s=1800),
    resolved("4", days_ago=3, ack_s=240, resolve_s=2400),
    resolved("5", days_ago=2, ack_s=300, resolve_s=3000),
    # Resolved straight away, never acknowledged: counts for time to resolve only.
    resolved("6", days_ago=1, ack_s=None, resolve_s=3600),
    # Resolved 40 days ago: outside the window.
    resolved("old", days_ago=40, ack_s=5, resolve_s=5),
]


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([1, 2, 3, 4], 0.5, 2.5),
        ([3, 1, 2], 0.5, 2.0),
        ([10], 0.9, 10.0),
        ([60, 120, 180, 240, 300], 0.9, 276.0),
        (list(range(1, 11)), 0.9, 9.1),
        ([5, 1], 0.0, 1.0),
        ([5, 1], 1.0, 5.0),
    ],
)
def test_percentile_interpolates_between_closest_ranks(
    values: list[float], fraction: float, expected: float
) -> None:
    assert percentile(values, fraction) == pytest.approx(expected)


def test_percentile_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        percentile([1], 90)


def test_summarize_empty() -> None:
    assert summarize([]).median is None and summarize([]).count == 0


def test_response_metrics_over_the_last_30_days() -> None:
    metrics = response_metrics(HISTORY, now=NOW)
    assert metrics.acknowledge.count == 5
    assert metrics.acknowledge.median == 180
    assert metrics.acknowledge.p90 == pytest.approx(276)
    assert metrics.resolve.count == 6
    assert metrics.resolve.median == 2100
    assert metrics.resolve.p90 == pytest.approx(3300)
    assert [p[0].id for p in metrics.points] == ["1", "2", "3", "4", "5", "6"]


def test_open_incidents_are_not_counted() -> None:
    still_open = Incident(provider="x", id="o", title="o", status=IncidentStatus.ACKNOWLEDGED,
                          created_at=NOW, entity_ref="e", acknowledged_at=NOW)
    assert response_metrics([still_open], now=NOW).resolve.count == 0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "–"), (45, "45s"), (276, "4m 36s"), (2100, "35m 00s"), (7500, "2h 05m"),
     (97200, "1d 3h")],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_chart_bars_scale_to_the_longest() -> None:
    chart = resolve_chart(response_metrics(HISTORY, now=NOW), width=300, height=90)
    assert len(chart.bars) == 6
    assert [b.height for b in chart.bars] == [15.0, 30.0, 45.0, 60.0, 75.0, 90.0]
    assert chart.bars[0].x == 5.0 and chart.bars[0].width == 40.0
    assert chart.median_y == 37.5  # 90 - 90 * 2100 / 3600
    assert chart.bars[5].label == "Incident 6: resolved in 1h 00m"


# --- the card ------------------------------------------------------------------------------------


class HistoryProvider:
    def __init__(self, id: str, title: str, incidents: Sequence[Incident],
                 history: bool = True) -> None:
        self.id = id
        self.title = title
        self.annotations = ("hist.example.com/service",)
        caps = {Capability.INCIDENTS} | ({Capability.HISTORY} if history else set())
        self.capabilities = frozenset(caps)
        self.incidents = list(incidents)
        self.fail: Exception | None = None
        self.asked: list[tuple[tuple[IncidentStatus, ...], datetime | None]] = []

    def is_available(self, entity: Entity) -> bool:
        return "hist.example.com/service" in entity.annotations

    async def list_incidents(self, entity: Entity, *, statuses: Sequence[IncidentStatus] = (),
                             since: datetime | None = None) -> list[Incident]:
        self.asked.append((tuple(statuses), since))
        if self.fail is not None:
            raise self.fail
        return [i for i in self.incidents if i.status in statuses]


class Providers:
    def __init__(self, *providers: HistoryProvider) -> None:
        self.items = list(providers)

    def providers(self) -> list[HistoryProvider]:
        return self.items


def recent(incidents: Sequence[Incident]) -> list[Incident]:
    """The fixture history moved so its window ends now (the card uses the real clock)."""
    shift = datetime.now(UTC) - NOW
    return [
        replace(i, created_at=i.created_at + shift,
                acknowledged_at=i.acknowledged_at and i.acknowledged_at + shift,
                resolved_at=i.resolved_at and i.resolved_at + shift)
        for i in incidents
    ]


SERVICE = Entity(kind="Component", name="svc", annotations={"hist.example.com/service": "svc"})
[CARD] = plugin.cards


async def test_card_shows_median_and_p90_from_history_providers() -> None:
    hist = HistoryProvider("hist", "Hist Pager", recent(HISTORY))
    plain = HistoryProvider("plain", "Plain Pager", [], history=False)
    html = await render_card(CARD, SERVICE, apis=api_holder(
        (incident_providers_api_ref, Providers(hist, plain))))
    ack = re.search(r'data-metric="acknowledge">(.*?)</tr>', html, re.S)
    res = re.search(r'data-metric="resolve">(.*?)</tr>', html, re.S)
    assert ack and re.findall(r"<td[^>]*>([^<]*)</td>", ack.group(1)) == ["3m 00s", "4m 36s", "5"]
    assert res and re.findall(r"<td[^>]*>([^<]*)</td>", res.group(1)) == ["35m 00s", "55m 00s", "6"]
    assert html.count('<rect class="metrics-bar"') == 6
    assert "Plain Pager cannot supply incident history" in html
    [(statuses, since)] = hist.asked
    assert statuses == (IncidentStatus.RESOLVED,)
    assert since is not None and timedelta(days=29) < datetime.now(UTC) - since <= timedelta(
        days=31)
    assert plain.asked == []


async def test_card_keeps_the_others_when_one_provider_fails() -> None:
    hist = HistoryProvider("hist", "Hist Pager", recent(HISTORY))
    down = HistoryProvider("down", "Down Pager", [])
    down.fail = RateLimitedError("Rate limited by Down Pager")
    html = await render_card(CARD, SERVICE, apis=api_holder(
        (incident_providers_api_ref, Providers(hist, down))))
    assert "Down Pager: could not read incident history. Rate limited by Down Pager" in html
    assert html.count('<rect class="metrics-bar"') == 6


async def test_card_asks_for_history_from_a_start_that_holds_for_the_hour() -> None:
    # A per-second `since` made each view a new upstream URL: a cache entry and a vendor call
    # every second of viewing.
    hist = HistoryProvider("hist", "Hist Pager", recent(HISTORY))
    for _ in range(2):
        await render_card(CARD, SERVICE, apis=api_holder(
            (incident_providers_api_ref, Providers(hist))))
    [(_, first), (_, second)] = hist.asked
    assert first is not None and second is not None
    assert (first.minute, first.second, first.microsecond) == (0, 0, 0)
    start = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert {history_since(start + timedelta(seconds=s)) for s in range(0, 3600, 7)} == {
        start - WINDOW
    }


async def test_card_without_resolved_incidents() -> None:
    html = await render_card(CARD, SERVICE, apis=api_holder(
        (incident_providers_api_ref, Providers(HistoryProvider("hist", "Hist", [])))))
    assert "No incidents resolved in the last 30 days." in html
    assert "<svg" not in html


def test_card_only_on_entities_a_provider_covers(tmp_path: Path) -> None:
    (tmp_path / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: svc\n"
        "  annotations: {hist.example.com/service: svc}\nspec: {owner: team-a}\n---\n"
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: bare}\n"
        "spec: {owner: team-a}\n"
    )
    config = tmp_path / "app-config.yaml"
    config.write_text("catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n")
    hist = HistoryProvider("hist", "Hist Pager", recent(HISTORY))
    ref = create_api_ref("plugin.hist.provider")
    providers = Providers()  # filled from the portal once it exists, as the lead will wire it
    portal = build_portal(
        [config],
        plugins=[create_plugin(id="hist", apis=[create_api_factory(ref, hist)],
                               providers=[ref]), plugin],
        load_entry_points=False, demo=False,
        app_apis=[create_api_factory(incident_providers_api_ref, providers)],
    )
    providers.items = [h.provider for h in portal.providers()]
    with TestClient(create_app(portal)) as client:
        page = client.get("/catalog/default/component/svc").text
        assert "Response metrics" in page and "35m 00s" in page
        assert "Response metrics" not in client.get("/catalog/default/component/bare").text

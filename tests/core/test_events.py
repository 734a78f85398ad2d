"""Change events and the memory bus: what one process's viewers hear."""

from __future__ import annotations

import pytest

from greenroom import ChangeEvent
from greenroom._events import MemoryEventBus


def test_change_events_travel_as_json_and_refuse_what_is_not_one() -> None:
    event = ChangeEvent(
        "component:default/a", "pagerduty", "v7", ("http://x/incidents?a",), "webhook:pagerduty"
    )
    assert ChangeEvent.from_json(event.to_json()) == event
    assert ChangeEvent.from_json('{"entity": "component:default/a"}').card == "*"
    for bad in ("[]", '{"card": "x"}', "not json", '{"entity": "a", "invalidate": "x"}'):
        with pytest.raises(ValueError):
            ChangeEvent.from_json(bad)


async def test_memory_bus_delivers_every_published_event_once_started() -> None:
    bus = MemoryEventBus()
    heard: list[ChangeEvent] = []

    async def deliver(event: ChangeEvent) -> None:
        heard.append(event)

    await bus.publish(ChangeEvent("before-start"))
    await bus.start(deliver)
    await bus.publish(ChangeEvent("component:default/a"))
    assert [e.entity for e in heard] == ["component:default/a"]
    assert await bus.ping()

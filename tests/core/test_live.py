"""The live hub: numbered events for open streams, catch-up after a reconnect, a refresh for an
id it does not know, invalidation on every delivery; and `core.live` publishing."""

from __future__ import annotations

import httpx

from greenroom import ChangeEvent, Entity, FetchApi, LiveUpdates
from greenroom._live import REFRESH, LiveHub


def _entity(name: str, annotations: dict[str, str] | None = None) -> Entity:
    return Entity(kind="Component", name=name, annotations=annotations or {})


async def test_streams_get_what_they_want_and_catch_up_after_a_reconnect() -> None:
    hub = LiveHub()
    wants_a = hub.open(lambda e: e.entity == "a", None)
    await hub.deliver(ChangeEvent("a", "pagerduty"))
    await hub.deliver(ChangeEvent("b"))
    await hub.deliver(ChangeEvent("a", "splunk-on-call"))
    got = [wants_a.queue.get_nowait() for _ in range(wants_a.queue.qsize())]
    assert [(n.event.entity, n.event.card) for n in got] == [
        ("a", "pagerduty"), ("a", "splunk-on-call")
    ]
    hub.close(wants_a)

    again = hub.open(lambda e: e.entity == "a", got[0].id)
    assert again.missed is not None
    assert [n.id for n in again.missed] == [got[1].id]
    assert hub.open(lambda e: True, hub.last_id).missed == []
    # Another replica's id, or one from before a restart: the page refreshes everything.
    assert hub.open(lambda e: True, "someone-else-3").missed is None
    assert hub.open(lambda e: True, f"{hub.name}-999").missed is None


async def test_a_stream_that_falls_behind_is_told_to_refresh() -> None:
    hub = LiveHub()
    slow = hub.open(lambda e: True, None)
    for n in range(slow.queue.maxsize + 5):
        await hub.deliver(ChangeEvent(f"e{n}"))
    first = slow.queue.get_nowait()
    assert first == REFRESH


async def test_a_delivery_forgets_its_invalidated_reads_before_streams_hear_of_it() -> None:
    calls: list[str] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(200, json={"n": len(calls)})

    fetch = FetchApi(transport=httpx.MockTransport(vendor))
    live = LiveUpdates(fetch=fetch, entities=lambda: [_entity("a"), _entity("b", {"x": "1"})])
    try:
        await fetch.get("http://vendor/incidents?service=1")
        await fetch.get("http://vendor/oncalls")
        refs = await live.publish_where(
            lambda e: "x" in e.annotations, "card",
            invalidate=["http://vendor/incidents?service=1"],
        )
        assert refs == ["component:default/b"]
        await fetch.get("http://vendor/incidents?service=1")
        await fetch.get("http://vendor/oncalls")
        assert calls.count("http://vendor/incidents?service=1") == 2
        assert calls.count("http://vendor/oncalls") == 1
        assert live.hub.delivered == 1
    finally:
        await fetch.aclose()


async def test_a_predicate_that_raises_loses_no_other_entity() -> None:
    def concerns(entity: Entity) -> bool:
        if entity.name == "a":
            raise RuntimeError("lookup failed")
        return True

    live = LiveUpdates(entities=lambda: [_entity("a"), _entity("b")])
    assert await live.publish_where(concerns) == ["component:default/b"]


def test_a_redis_password_never_shows_where_config_is_shown(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from greenroom._config import load_config

    path = tmp_path / "app-config.yaml"
    path.write_text("redis:\n  url: redis://:s3cret-pass-word@cache:6379/0\n")
    config = load_config([path])
    shown = repr(config.redacted())
    assert "s3cret-pass-word" not in shown and "cache:6379" in shown
    assert "s3cret-pass-word" not in config.scrub("connecting to redis://:s3cret-pass-word@cache")
    assert config.scrub("http://host:8080/path") == "http://host:8080/path"

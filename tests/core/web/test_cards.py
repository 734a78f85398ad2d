"""A card whose read was rate limited says when it is tried again, and a live page re-reads it
then (``data-retry-after``, in seconds)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from greenroom import Card, CardContext, RateLimitedError, create_plugin
from greenroom._portal import build_portal
from greenroom.web import create_app

ENTITY = "/catalog/default/component/checkout"
ATTEMPTS: list[int] = []


async def _limited(ctx: CardContext) -> str:
    ATTEMPTS.append(1)
    if len(ATTEMPTS) == 1:
        raise RateLimitedError("Acme is rate-limiting requests",
                               retry_at=datetime.now(UTC) + timedelta(seconds=42))
    if len(ATTEMPTS) == 2:
        raise RateLimitedError("Acme is rate-limiting requests")  # no time given
    return "<p>fresh data</p>"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    (tmp_path / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        "metadata: {name: checkout}\nspec: {type: service, owner: team-a}\n"
    )
    config = tmp_path / "app-config.yaml"
    config.write_text("catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n"
                      "auth: {allowGuests: true}\n")
    plugin = create_plugin(id="acme", cards=[Card(id="acme-card", title="Acme", render=_limited)])
    portal = build_portal([config], plugins=[plugin], load_entry_points=False, demo=False)
    ATTEMPTS.clear()
    with TestClient(create_app(portal)) as test_client:
        yield test_client


def test_a_rate_limited_card_says_when_it_retries(client: TestClient) -> None:
    page = client.get(ENTITY).text
    said = re.search(r"Acme is rate-limiting requests; retrying in (\d+) s\.", page)
    assert said, page
    assert 40 <= int(said.group(1)) <= 42
    assert f'data-retry-after="{said.group(1)}"' in page
    # Without a time from the vendor the card says only what happened, and sets no timer.
    again = client.get(f"{ENTITY}/cards/acme-card").text
    assert "Acme is rate-limiting requests" in again and "data-retry-after" not in again
    assert "fresh data" in client.get(f"{ENTITY}/cards/acme-card").text

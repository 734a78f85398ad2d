"""Two replicas over a real redis-server: a change taken on one reaches the other's open pages
at once, and the other replica forgets the stale reads before its viewers re-read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from greenroom._portal import build_portal
from greenroom.web import create_app
from greenroom_pagerduty.simulator import CHECKOUT_ENTITY, write_portal_config
from greenroom_pagerduty.simulator import create_app as create_simulator

from .test_live import SECRET, TOKEN, EventReader, _incident_reads, _serve, _webhook

CHECKOUT = "component:default/checkout"


@pytest.fixture
def vendor() -> Iterator[tuple[str, Any]]:
    app = create_simulator(token=TOKEN)
    for url in _serve(app):
        yield url, app


def _replica(folder: Path, simulator_url: str, redis_url: str) -> Any:
    folder.mkdir()
    config = write_portal_config(
        folder, simulator_url, token=TOKEN, cache_ttl_seconds=600, webhook_secrets=[SECRET],
        entities=(CHECKOUT_ENTITY,),
        extra=f"""\
        app:
          secret: shared-secret-of-both-replicas-0123456789
        redis:
          url: {redis_url}
        """,
    )
    return create_app(build_portal([config], demo=False))


def test_a_webhook_on_one_replica_reaches_the_viewers_of_another(  # type: ignore[no-untyped-def]
    tmp_path: Path, vendor: tuple[str, Any], redis_server
) -> None:
    simulator_url, simulator_app = vendor
    one = _replica(tmp_path / "one", simulator_url, redis_server.url)
    two = _replica(tmp_path / "two", simulator_url, redis_server.url)
    for url_one in _serve(one):
        for url_two in _serve(two):
            assert httpx.get(f"{url_two}/api/live/status").json()["bus"] is True
            httpx.get(f"{url_two}/catalog/default/component/checkout", timeout=30)
            reads = _incident_reads(simulator_app)
            viewer = EventReader(f"{url_two}/api/live/events?watch=entity:{CHECKOUT}")
            viewer.wait_for("ready")

            _webhook(url_one, "PCHK0UT")  # delivered to replica one only
            change = viewer.wait_for("change")[0]
            assert json.loads(change["data"])["entity"] == CHECKOUT
            # Replica two forgot its cached incidents: its next view reads them again.
            httpx.get(f"{url_two}/catalog/default/component/checkout", timeout=30)
            assert _incident_reads(simulator_app) == reads + 1
            viewer.close()

"""The access log: one line per request (method, path, status, duration, request id, user), with
credentials in queries and webhook tokens in paths redacted, and the id returned as X-Request-Id."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from greenroom._portal import build_portal
from greenroom.web import create_app
from greenroom.web._access_log import BufferedAccessLogHandler, loggable_path

QUERY_SECRET = "qs-5ecret-0f-the-query"
HOOK_TOKEN = "hook-t0ken-in-the-path"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    config = tmp_path / "app-config.yaml"
    config.write_text(textwrap.dedent(
        """
        identity:
          header: X-Forwarded-Email
        auth:
          allowGuests: true
          proxy: {trustedProxies: [127.0.0.1/32]}
        proxy:
          endpoints:
            /down:
              target: http://127.0.0.1:9/api
        """
    ))
    portal = build_portal([config], load_entry_points=False, demo=False)
    # The identity header counts from trusted proxies only: this client's peer is loopback.
    with TestClient(create_app(portal), client=("127.0.0.1", 50000)) as test_client:
        yield test_client


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "greenroom.access"]


def test_each_request_is_logged_with_its_id_status_duration_and_user(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="greenroom.access"):
        response = client.get("/healthz", headers={"X-Forwarded-Email": "alice@example.com"})
        anonymous = client.get("/no/such/page")
    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}", request_id)
    assert anonymous.headers["x-request-id"] != request_id
    first, second = access_lines(caplog)
    assert re.fullmatch(
        rf"GET /healthz 200 \d+\.\dms id={request_id} user=\S*alice\S*", first
    ), first
    assert second.startswith("GET /no/such/page 404 ") and second.endswith("user=guest")


def test_proxied_requests_are_logged_too(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="greenroom.access"):
        response = client.get("/api/proxy/down/v1/x?limit=5",
                              headers={"X-Forwarded-Email": "bob@example.com"})
    assert response.status_code == 502
    [line] = access_lines(caplog)
    assert line.startswith("GET /api/proxy/down/v1/x?limit=5 502 ")
    assert f"id={response.headers['x-request-id']} " in line and "bob" in line


def test_query_secrets_and_webhook_tokens_stay_out_of_the_log(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        client.get(f"/api/catalog/entities?kind=Component&access_token={QUERY_SECRET}")
        client.post(f"/api/pagerduty/webhooks/{HOOK_TOKEN}", json={})
    lines = access_lines(caplog)
    assert len(lines) == 2
    assert "kind=Component&access_token=<redacted>" in lines[0]
    assert "/api/pagerduty/webhooks/<redacted> " in lines[1]
    assert QUERY_SECRET not in caplog.text and HOOK_TOKEN not in caplog.text


def test_a_plain_incoming_request_id_is_kept_and_any_other_replaced(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="greenroom.access"):
        kept = client.get("/healthz", headers={"X-Request-Id": "lb-1234abcd"})
        replaced = client.get("/healthz", headers={"X-Request-Id": "x y\tfake log line"})
    assert kept.headers["x-request-id"] == "lb-1234abcd"
    assert re.fullmatch(r"[0-9a-f]{16}", replaced.headers["x-request-id"])
    assert "fake log line" not in caplog.text


@pytest.mark.parametrize(
    ("path", "query", "shown"),
    [
        ("/x", b"", "/x"),
        ("/x", b"q=pager&api_key=k&tag=a%20b", "/x?q=pager&api_key=<redacted>&tag=a%20b"),
        ("/hooks/abc/def", b"", "/hooks/<redacted>/<redacted>"),
        ("/catalog/default/component/" + "a" * 40, b"", "/catalog/default/component/<redacted>"),
        ("/catalog/default/component/checkout", b"", "/catalog/default/component/checkout"),
    ],
)
def test_loggable_path(path: str, query: bytes, shown: str) -> None:
    assert loggable_path(path, query) == shown


async def test_the_buffered_handler_writes_each_line_soon_and_everything_on_close() -> None:
    stream = io.StringIO()
    handler = BufferedAccessLogHandler(stream, interval=0.05)
    flushed: list[str] = []
    stream.flush = lambda: flushed.append(stream.getvalue())  # type: ignore[method-assign]
    record = logging.LogRecord("greenroom.access", logging.INFO, __file__, 0, "GET / 200", (),
                               None)
    handler.emit(record)
    handler.emit(record)
    assert flushed == []  # no write per line while the event loop runs
    await asyncio.sleep(0.2)
    assert flushed == ["GET / 200\nGET / 200\n"]
    handler.emit(record)
    handler.close()
    assert flushed[-1].count("GET / 200") == 3


def test_a_configured_secret_in_a_path_is_redacted_from_the_access_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Short enough that the access log's own "looks like a token" rule does not catch it: only
    # knowing the config's secrets does.
    secret = "sh0uld-never-be-logged-42"
    config = tmp_path / "app-config.yaml"
    config.write_text(textwrap.dedent(
        f"""
        auth:
          allowGuests: true
        somePlugin:
          apiToken: {secret}
        """
    ))
    portal = build_portal([config], load_entry_points=False, demo=False)
    with TestClient(create_app(portal)) as client, \
            caplog.at_level(logging.INFO, logger="greenroom.access"):
        response = client.get(f"/no/such/{secret}/page")
    assert response.status_code == 404
    [line] = access_lines(caplog)
    assert secret not in line
    assert line.startswith("GET /no/such/<redacted>/page 404 "), line

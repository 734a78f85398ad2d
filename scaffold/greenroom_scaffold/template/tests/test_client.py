"""The client against `httpx.MockTransport`: the requests it sends and the errors it maps."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from greenroom import FetchApi, NotFoundError, RequestFailedError, UnauthorizedError

from __GR_MODULE__ import __GR_CLASS__Client
from __GR_MODULE__._client import UNAUTHORIZED_MESSAGE
from __GR_MODULE__._mock_data import DEMO_SERVICE_ID, INCIDENTS

PROXY_PATH = "/api/proxy/__GR_ID__"
BASE = f"http://portal.test{PROXY_PATH}"
Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler) -> __GR_CLASS__Client:
    fetch = FetchApi(transport=httpx.MockTransport(handler))
    return __GR_CLASS__Client(fetch=fetch, base_url=BASE)


async def test_incidents_are_read_through_the_proxy_route() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"incidents": INCIDENTS[:2]})

    incidents = await _client(handler).incidents(DEMO_SERVICE_ID, ["open", "acked"])

    assert [incident.title for incident in incidents] == [
        "Checkout latency above 2 seconds",
        "Payment provider answering 502",
    ]
    (request,) = seen
    assert request.method == "GET"
    assert request.url.path == f"{PROXY_PATH}/v1/services/{DEMO_SERVICE_ID}/incidents"
    assert request.url.params.get_list("status") == ["open", "acked"]
    # The proxy adds the token; the client never holds it.
    assert "x-api-token" not in request.headers


async def test_a_bad_token_is_unauthorized() -> None:
    client = _client(lambda request: httpx.Response(401, json={"errors": ["Invalid token"]}))
    with pytest.raises(UnauthorizedError, match=UNAUTHORIZED_MESSAGE):
        await client.on_call(DEMO_SERVICE_ID)


async def test_an_unknown_service_is_not_found() -> None:
    client = _client(lambda request: httpx.Response(404, json={"errors": ["No service X"]}))
    with pytest.raises(NotFoundError, match="No service X"):
        await client.service("X")


async def test_other_failures_carry_the_status_and_the_vendor_messages() -> None:
    body = {"errors": ["Not valid request", "internal error occurred"]}
    client = _client(lambda request: httpx.Response(500, json=body))
    with pytest.raises(RequestFailedError) as raised:
        await client.incidents(DEMO_SERVICE_ID, ["open"])
    assert str(raised.value) == "Request failed with 500, Not valid request internal error occurred"


async def test_ids_are_encoded_and_dot_segments_refused() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"errors": ["nope"]})

    client = _client(handler)
    with pytest.raises(NotFoundError):
        await client.service("a/../b")
    assert b"/v1/services/a%2F..%2Fb" in seen[0].url.raw_path
    with pytest.raises(NotFoundError):
        await client.service("..")
    assert len(seen) == 1, "a dot segment must not reach the proxy"


async def test_an_action_makes_the_next_read_fresh() -> None:
    calls: list[str] = []
    incident = {**INCIDENTS[0], "status": "acked"}

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path.rsplit('/', 1)[-1]}")
        if request.method == "POST":
            return httpx.Response(200, json={"incident": incident})
        return httpx.Response(200, json={"incidents": INCIDENTS[:1]})

    client = _client(handler)
    await client.incidents(DEMO_SERVICE_ID, ["open"])
    await client.incidents(DEMO_SERVICE_ID, ["open"])  # shared read, served from cache
    acknowledged = await client.acknowledge(DEMO_SERVICE_ID, incident["id"], "jane@example.com")
    await client.incidents(DEMO_SERVICE_ID, ["open"])

    assert acknowledged.status == "acked"
    assert calls == ["GET incidents", "POST acknowledge", "GET incidents"]

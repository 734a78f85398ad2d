"""The proxy, against real loopback servers: an upstream that echoes what it receives, a second
server standing for "another host" that records any hit, and the proxy router served by uvicorn.

Escape attempts are sent with ``http.client`` because httpx normalises ``..`` and would never put
the hostile path on the wire.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from greenroom import ConfigError, FetchApi, Identity
from greenroom._exceptions import ProxyError
from greenroom._fetch import default_transport, new_session
from greenroom._proxy import (
    ProxyDispatch,
    ProxyHandler,
    ProxyRoutes,
    create_proxy_router,
    parse_proxy_config,
)

PD_TOKEN = "Token token=pd-secret-1234567890"
API_KEY = "vo-secret-key-abcdef"
FORWARD_TOKEN = "Bearer caller-own-token"

# --- real servers on loopback -------------------------------------------------------------------


class _Serving:
    """An ASGI app served by uvicorn on 127.0.0.1 with a free port, in a background thread."""

    def __init__(self, app: Any, http: str = "auto") -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
            timeout_graceful_shutdown=1, http=http,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Serving:
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                break
            time.sleep(0.01)
        else:  # pragma: no cover - environment trouble
            raise RuntimeError("uvicorn did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    @property
    def port(self) -> int:
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Recorder:
    hits: list[dict[str, Any]] = field(default_factory=list)


def _echo_app(recorder: Recorder) -> Any:
    """Echoes method, raw path, query, headers and body; misbehaves on purpose on some paths."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        hit = {
            "method": scope["method"],
            "path": scope["path"],
            "raw_path": scope["raw_path"].decode("latin-1"),
            "query": scope["query_string"].decode("latin-1"),
            "headers": headers,
            "body": body.decode("utf-8", "replace"),
        }
        recorder.hits.append(hit)
        if scope["path"].endswith("/slow"):
            await asyncio.sleep(3)
        response_headers = [
            (b"content-type", b"application/json"),
            (b"cache-control", b"no-store"),
            (b"set-cookie", b"upstream-session=stolen; Path=/"),
            (b"x-upstream-internal", b"internal-detail"),
        ]
        if scope["path"].endswith("/reflect"):
            # A careless upstream that reflects credentials back in its response headers.
            response_headers += [
                (b"authorization", headers.get("authorization", "").encode()),
                (b"x-vo-api-key", headers.get("x-vo-api-key", "").encode()),
                (b"x-echo-auth", headers.get("authorization", "").encode()),
            ]
            payload = b'{"reflected": true}'
        else:
            payload = json.dumps(hit).encode()
        await send({"type": "http.response.start", "status": 200, "headers": response_headers})
        await send({"type": "http.response.body", "body": payload})

    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ProxyWorld:
    proxy: _Serving
    echo: Recorder
    other: Recorder
    echo_url: str
    other_url: str
    routes: ProxyRoutes

    def send(
        self,
        method: str,
        raw_path: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.proxy.port, timeout=10)
        try:
            connection.putrequest(method, raw_path, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            if body is not None:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()


SIGNED_IN = {"X-Test-User": "alice"}


def _identity(request: Any) -> Identity:
    # Stands for the portal's trusted identity header.
    user = request.headers.get("x-test-user")
    return Identity(user, authenticated=True) if user else Identity("guest")


@pytest.fixture(scope="module", params=["httpx", "fetch-transport", "aiohttp", "dispatch"])
def world(request: pytest.FixtureRequest) -> Iterator[ProxyWorld]:
    """The same world over plain httpx, over httpx's API on aiohttp, over aiohttp directly, and
    through the dispatcher the portal installs (the proxy's hot path, no routing)."""
    echo, other = Recorder(), Recorder()
    with _Serving(_echo_app(echo)) as echo_server, _Serving(_echo_app(other)) as other_server:
        endpoints = parse_proxy_config(
            {
                "endpoints": {
                    "/echo": {
                        "target": f"{echo_server.url}/base",
                        "headers": {"Authorization": PD_TOKEN, "X-VO-Api-Key": API_KEY},
                    },
                    "/echo/special": {"target": f"{echo_server.url}/special-base"},
                    "/readonly": {
                        "target": f"{echo_server.url}/ro",
                        "allowedMethods": ["GET"],
                        "allowedHeaders": ["X-Custom"],
                    },
                    "/open": {
                        "target": f"{echo_server.url}/open",
                        "credentials": "dangerously-allow-unauthenticated",
                    },
                    "/fwd": {"target": f"{echo_server.url}/fwd", "credentials": "forward"},
                    "/by-name": {
                        "target": echo_server.url.replace("127.0.0.1", "localhost") + "/n"
                    },
                    "/down": {
                        "target": f"http://127.0.0.1:{_free_port()}/x",
                        "headers": {"X-VO-Api-Key": API_KEY},
                    },
                }
            }
        )
        holder: dict[str, Any] = {}

        def client() -> Any:
            # Built lazily inside uvicorn's event loop, as the portal does.
            if "client" not in holder:
                if request.param in ("aiohttp", "dispatch"):
                    # Below the 3 s of `/slow`, with room for a busy machine.
                    holder["client"] = new_session(timeout=2.0)
                else:
                    transport = default_transport() if request.param == "fetch-transport" else None
                    holder["client"] = httpx.AsyncClient(
                        transport=transport, timeout=httpx.Timeout(0.5)
                    )
            return holder["client"]

        routes = ProxyRoutes(endpoints, "http://127.0.0.1:7007/api/proxy")
        app = FastAPI()
        if request.param == "dispatch":
            handler = ProxyHandler(routes, client=client, identity=_identity)
            app.add_middleware(ProxyDispatch, handler=handler)
            app.include_router(create_proxy_router(routes, handler=handler), prefix="/api/proxy")
        else:
            app.include_router(
                create_proxy_router(routes, client=client, identity=_identity),
                prefix="/api/proxy",
            )
        with _Serving(app) as proxy:
            yield ProxyWorld(
                proxy, echo, other, echo_server.url, other_server.url, routes
            )


@pytest.fixture
def fresh(world: ProxyWorld) -> ProxyWorld:
    world.echo.hits.clear()
    world.other.hits.clear()
    return world


# --- forwarding ---------------------------------------------------------------------------------


def test_forwards_to_target_path_with_query_and_configured_headers(fresh: ProxyWorld) -> None:
    status, _, body = fresh.send(
        "GET", "/api/proxy/echo/v1/incidents?team=a%20b&x[]=1", headers=SIGNED_IN
    )
    assert status == 200
    hit = json.loads(body)
    assert hit["raw_path"] == "/base/v1/incidents"
    # aiohttp re-encodes `[]` as `%5B%5D`: the same query to any server.
    assert parse_qsl(hit["query"]) == [("team", "a b"), ("x[]", "1")]
    assert hit["headers"]["authorization"] == PD_TOKEN
    assert hit["headers"]["x-vo-api-key"] == API_KEY
    assert hit["headers"]["host"] == fresh.echo_url.removeprefix("http://")
    assert "x-test-user" not in hit["headers"]


def test_route_alone_reaches_the_target_root(fresh: ProxyWorld) -> None:
    status, _, body = fresh.send("GET", "/api/proxy/echo", headers=SIGNED_IN)
    assert status == 200
    assert json.loads(body)["raw_path"] == "/base"


def test_longest_route_prefix_wins(fresh: ProxyWorld) -> None:
    status, _, body = fresh.send("GET", "/api/proxy/echo/special/x", headers=SIGNED_IN)
    assert status == 200
    assert json.loads(body)["raw_path"] == "/special-base/x"


def test_route_matches_only_on_segment_boundary(fresh: ProxyWorld) -> None:
    status, _, body = fresh.send("GET", "/api/proxy/echoes/x", headers=SIGNED_IN)
    assert status == 404
    assert json.loads(body)["error"]["message"].startswith("No proxy route matches /echoes/x")
    assert fresh.echo.hits == []


def test_encoded_characters_that_stay_in_the_segment_pass(fresh: ProxyWorld) -> None:
    status, _, body = fresh.send("GET", "/api/proxy/echo/teams/a%20b", headers=SIGNED_IN)
    assert status == 200
    assert json.loads(body)["raw_path"] == "/base/teams/a%20b"


def test_request_body_is_streamed_upstream(fresh: ProxyWorld) -> None:
    payload = json.dumps({"summary": "db down"}).encode()
    status, _, body = fresh.send(
        "POST",
        "/api/proxy/echo/v1/incidents",
        headers={**SIGNED_IN, "Content-Type": "application/json"},
        body=payload,
    )
    assert status == 200
    hit = json.loads(body)
    assert hit["method"] == "POST"
    assert json.loads(hit["body"]) == {"summary": "db down"}
    assert hit["headers"]["content-type"] == "application/json"


# --- escape attempts ----------------------------------------------------------------------------

ESCAPES = [
    "/api/proxy/echo/%2e%2e/private",
    "/api/proxy/echo/%2E%2E%2fprivate",
    "/api/proxy/echo/%2E%2e/%2e%2E/private",
    "/api/proxy/echo/..%2fprivate",
    "/api/proxy/echo/../private",
    "/api/proxy/echo/./private",
    "/api/proxy/echo/v1/%2e%2e",
    "/api/proxy/echo/a%2fb",
    "/api/proxy/echo/a%2Fb",
    "/api/proxy/echo/a%5cb",
    "/api/proxy/echo/..%5cprivate",
    "/api/proxy/echo/..\\private",
    "/api/proxy/echo/%252e%252e/private",
    "/api/proxy/echo/@{other}/steal",
    "/api/proxy/echo@{other}/steal",
    "/api/proxy/echo//{other}/steal",
    "/api/proxy/echo/http://{other}/steal",
    "/api/proxy/echo/http:%2f%2f{other}/steal",
    "/api/proxy/echo/http:/{other}/steal",
    "/api/proxy/%2e%2e/echo/x",
    "/api/proxy/echo/%00/x",
]


@pytest.mark.parametrize("raw_path", ESCAPES)
def test_escape_attempts_are_refused_and_reach_no_host(fresh: ProxyWorld, raw_path: str) -> None:
    path = raw_path.format(other=fresh.other_url.removeprefix("http://"))
    status, _, body = fresh.send("GET", path, headers=SIGNED_IN)
    assert 400 <= status < 500, (path, status, body)
    assert fresh.other.hits == []
    assert fresh.echo.hits == []


def test_escape_via_absolute_request_target_is_refused(fresh: ProxyWorld) -> None:
    # An absolute-form request target naming another host.
    status, _, _ = fresh.send("GET", f"{fresh.other_url}/api/proxy/echo/x", headers=SIGNED_IN)
    assert status in (200, 400, 404)
    assert fresh.other.hits == []


# --- credentials, methods, headers --------------------------------------------------------------


def test_require_refuses_a_request_without_identity(fresh: ProxyWorld) -> None:
    status, _, body = fresh.send("GET", "/api/proxy/echo/v1/incidents")
    assert status == 401
    assert "requires an authenticated user" in json.loads(body)["error"]["message"]
    assert fresh.echo.hits == []


def test_dangerously_allow_unauthenticated_lets_anyone_through(fresh: ProxyWorld) -> None:
    status, _, body = fresh.send("GET", "/api/proxy/open/status")
    assert status == 200
    assert json.loads(body)["raw_path"] == "/open/status"


def test_callers_cookie_and_authorization_never_go_upstream(fresh: ProxyWorld) -> None:
    status, _, body = fresh.send(
        "GET",
        "/api/proxy/open/x",
        headers={
            "Cookie": "portal-session=s3cr3t",
            "Authorization": FORWARD_TOKEN,
            "X-Forwarded-For": "10.0.0.1",
            "Accept": "application/json",
        },
    )
    assert status == 200
    upstream_headers = json.loads(body)["headers"]
    assert "cookie" not in upstream_headers
    assert "authorization" not in upstream_headers
    assert "x-forwarded-for" not in upstream_headers
    assert upstream_headers["accept"] == "application/json"


def test_cookies_set_by_the_upstream_are_not_replayed_for_the_next_caller(
    fresh: ProxyWorld, request: pytest.FixtureRequest
) -> None:
    # Alice's request makes the upstream set a cookie; Bob's request must not carry it.
    assert fresh.send("GET", "/api/proxy/by-name/a", headers={"X-Test-User": "alice"})[0] == 200
    status, _, body = fresh.send("GET", "/api/proxy/by-name/b", headers={"X-Test-User": "bob"})
    assert status == 200
    assert "cookie" not in json.loads(body)["headers"]


def test_forward_passes_the_callers_authorization(fresh: ProxyWorld) -> None:
    status, _, body = fresh.send(
        "GET", "/api/proxy/fwd/x", headers={**SIGNED_IN, "Authorization": FORWARD_TOKEN,
                                            "Cookie": "portal-session=s3cr3t"}
    )
    assert status == 200
    upstream_headers = json.loads(body)["headers"]
    assert upstream_headers["authorization"] == FORWARD_TOKEN
    assert "cookie" not in upstream_headers


def test_allowed_headers_pass_in_both_directions(fresh: ProxyWorld) -> None:
    status, _, body = fresh.send(
        "GET", "/api/proxy/readonly/x", headers={**SIGNED_IN, "X-Custom": "yes", "X-Other": "no"}
    )
    assert status == 200
    upstream_headers = json.loads(body)["headers"]
    assert upstream_headers["x-custom"] == "yes"
    assert "x-other" not in upstream_headers


def test_allowed_methods_are_enforced(fresh: ProxyWorld) -> None:
    status, headers, body = fresh.send("POST", "/api/proxy/readonly/x", headers=SIGNED_IN,
                                       body=b"{}")
    assert status == 405
    assert headers["allow"] == "GET"
    assert "does not allow POST" in json.loads(body)["error"]["message"]
    assert fresh.echo.hits == []
    assert fresh.send("GET", "/api/proxy/readonly/x", headers=SIGNED_IN)[0] == 200


def test_response_headers_are_filtered_and_secrets_never_echoed(fresh: ProxyWorld) -> None:
    status, headers, body = fresh.send("GET", "/api/proxy/echo/reflect", headers=SIGNED_IN)
    assert status == 200
    assert json.loads(body) == {"reflected": True}
    assert fresh.echo.hits[0]["headers"]["authorization"] == PD_TOKEN  # it did go upstream
    names = {name.lower() for name in headers}
    assert "set-cookie" not in names
    assert "x-upstream-internal" not in names
    assert "authorization" not in names and "x-vo-api-key" not in names
    assert headers["cache-control"] == "no-store"
    everything = str(headers.items())
    assert PD_TOKEN not in everything and API_KEY not in everything


def test_unreachable_upstream_is_a_502_without_secrets_or_address(fresh: ProxyWorld) -> None:
    down = fresh.routes.endpoints["/down"]
    status, _, body = fresh.send("GET", "/api/proxy/down/x", headers=SIGNED_IN)
    assert status == 502
    error = json.loads(body)["error"]
    assert error["name"] == "BadGatewayError"
    assert "/down" in error["message"]
    port = str(httpx.URL(down.target).port)
    assert port not in body.decode() and API_KEY not in body.decode()


def test_slow_upstream_is_a_504(fresh: ProxyWorld) -> None:
    status, _, body = fresh.send("GET", "/api/proxy/echo/slow", headers=SIGNED_IN)
    assert status == 504
    assert json.loads(body)["error"]["name"] == "GatewayTimeoutError"


def test_proxy_route_is_in_the_openapi_document(fresh: ProxyWorld) -> None:
    status, _, body = fresh.send("GET", "/openapi.json")
    assert status == 200
    assert "/api/proxy/{path}" in json.loads(body)["paths"]


# --- in-process use (greenroom.FetchApi) --------------------------------------------------------


def _routes(endpoints: dict[str, Any]) -> ProxyRoutes:
    return ProxyRoutes(parse_proxy_config({"endpoints": endpoints}),
                       "http://127.0.0.1:7007/api/proxy")


PD_ROUTES = {
    "/pagerduty": {"target": "https://api.pagerduty.com", "headers": {"Authorization": PD_TOKEN}},
    "/pagerduty/events": "https://events.pagerduty.com/v2",
    "/splunk-on-call": {
        "target": "https://api.victorops.com/api-public",
        "headers": {"X-VO-Api-Id": "id", "X-VO-Api-Key": API_KEY},
    },
}


def test_resolve_maps_a_proxy_url_to_target_and_headers() -> None:
    routes = _routes(PD_ROUTES)
    url = httpx.URL(
        "http://127.0.0.1:7007/api/proxy/pagerduty/services",
        params=[("time_zone", "UTC"), ("include[]", "integrations"), ("query", "a b")],
    )
    resolved = routes.resolve(url)
    assert resolved is not None
    upstream, headers = resolved
    assert upstream.host == "api.pagerduty.com" and upstream.path == "/services"
    assert upstream.params.get_list("include[]") == ["integrations"]
    assert upstream.params["query"] == "a b"
    assert headers == {"Authorization": PD_TOKEN}


def test_resolve_keeps_the_target_path_and_prefers_the_longest_route() -> None:
    routes = _routes(PD_ROUTES)
    splunk = routes.resolve(httpx.URL("http://127.0.0.1:7007/api/proxy/splunk-on-call/v1/team"))
    events = routes.resolve(httpx.URL("http://127.0.0.1:7007/api/proxy/pagerduty/events/enqueue"))
    assert splunk is not None and events is not None
    assert str(splunk[0]) == "https://api.victorops.com/api-public/v1/team"
    assert str(events[0]) == "https://events.pagerduty.com/v2/enqueue"
    assert events[1] == {}


def test_resolve_ignores_urls_outside_the_proxy_base() -> None:
    routes = _routes(PD_ROUTES)
    assert routes.resolve(httpx.URL("https://api.pagerduty.com/services")) is None
    assert routes.resolve(httpx.URL("http://127.0.0.1:7008/api/proxy/pagerduty/x")) is None
    assert routes.resolve(httpx.URL("http://127.0.0.1:7007/api/catalog/entities")) is None


def test_resolve_refuses_unknown_routes_with_a_helpful_error() -> None:
    routes = _routes(PD_ROUTES)
    with pytest.raises(ProxyError) as caught:
        routes.resolve(httpx.URL("http://127.0.0.1:7007/api/proxy/pagerdutyx/services"))
    message = str(caught.value)
    assert "No proxy route matches /pagerdutyx/services" in message
    assert "/pagerduty, /pagerduty/events, /splunk-on-call" in message
    assert PD_TOKEN not in message


@pytest.mark.parametrize(
    "path",
    [
        "/pagerduty/%2e%2e/admin",
        "/pagerduty/%2E%2E%2fadmin",
        "/splunk-on-call/%2e%2e/%2e%2e/other",
        "/splunk-on-call/v1%5c..%5cadmin",
        "/pagerduty/x%2f..%2fy",
        "/pagerduty/@evil.example/x",
    ],
)
def test_resolve_refuses_escapes(path: str) -> None:
    routes = _routes(PD_ROUTES)
    url = httpx.URL("http://127.0.0.1:7007/api/proxy").copy_with(
        raw_path=b"/api/proxy" + path.encode()
    )
    with pytest.raises(ProxyError):
        routes.resolve(url)


def test_resolve_keeps_an_encoded_at_sign_inside_the_path() -> None:
    # `%40` cannot change the authority (it stays encoded); user names with `@` need it.
    routes = _routes(PD_ROUTES)
    url = httpx.URL("http://127.0.0.1:7007").copy_with(
        raw_path=b"/api/proxy/splunk-on-call/v1/user/a%40b.example"
    )
    resolved = routes.resolve(url)
    assert resolved is not None
    assert resolved[0].host == "api.victorops.com"
    assert resolved[0].raw_path == b"/api-public/v1/user/a%40b.example"


def test_path_rewrite_cannot_leave_the_target() -> None:
    routes = _routes(
        {"/r": {"target": "https://api.example.com/v2", "pathRewrite": {"^/r/": "/../../"}}}
    )
    with pytest.raises(ProxyError):
        routes.resolve(httpx.URL("http://127.0.0.1:7007/api/proxy/r/admin"))


def test_path_rewrite_applies_like_backstage() -> None:
    routes = _routes(
        {"/r": {"target": "https://api.example.com/v2", "pathRewrite": {"^/r/old/": "/new/"}}}
    )
    resolved = routes.resolve(httpx.URL("http://127.0.0.1:7007/api/proxy/r/old/items"))
    assert resolved is not None and str(resolved[0]) == "https://api.example.com/v2/new/items"


async def test_fetch_api_reaches_the_upstream_in_process(world: ProxyWorld) -> None:
    world.echo.hits.clear()
    fetch = FetchApi(proxy=world.routes)
    try:
        response = await fetch.get(
            "http://127.0.0.1:7007/api/proxy/echo/v1/incidents", params={"team": "ops"},
            cache_ttl=0,
        )
    finally:
        await fetch.aclose()
    assert response.status_code == 200
    hit = response.json()
    assert hit["raw_path"] == "/base/v1/incidents" and hit["query"] == "team=ops"
    assert hit["headers"]["authorization"] == PD_TOKEN
    assert world.other.hits == []


async def test_fetch_api_does_not_replay_upstream_cookies_in_process(world: ProxyWorld) -> None:
    world.echo.hits.clear()
    fetch = FetchApi(proxy=world.routes)
    try:
        await fetch.get("http://127.0.0.1:7007/api/proxy/echo/login", cache_ttl=0)
        second = await fetch.get("http://127.0.0.1:7007/api/proxy/echo/v1/x", cache_ttl=0)
    finally:
        await fetch.aclose()
    assert "cookie" not in second.json()["headers"]


# --- configuration ------------------------------------------------------------------------------


def test_string_shorthand_and_leading_slash() -> None:
    endpoints = parse_proxy_config({"endpoints": {"pagerduty": "https://api.pagerduty.com"}})
    endpoint = endpoints["/pagerduty"]
    assert endpoint.target == "https://api.pagerduty.com"
    assert endpoint.credentials == "require" and endpoint.change_origin is True
    assert endpoint.allowed_methods is None


def test_legacy_routes_under_proxy_are_accepted_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="greenroom.proxy"):
        endpoints = parse_proxy_config(
            {"/old": {"target": "https://old.example.com", "headers": {"Authorization": PD_TOKEN}},
             "endpoints": {"/new": "https://new.example.com"}}
        )
    assert sorted(endpoints) == ["/new", "/old"]
    assert "deprecated" in caplog.text and "/old" in caplog.text
    assert PD_TOKEN not in caplog.text


def test_endpoints_win_over_the_legacy_form() -> None:
    endpoints = parse_proxy_config(
        {"/same": "https://legacy.example.com", "endpoints": {"/same": "https://new.example.com"}}
    )
    assert endpoints["/same"].target == "https://new.example.com"


@pytest.mark.parametrize(
    ("value", "type_name"),
    [({"target": 5}, "number"), ({"headers": {}}, "undefined"), ({"target": None}, "null"),
     (["https://x"], "array"), ({"target": {"url": "x"}}, "object"), (True, "boolean")],
)
def test_non_string_target_fails_at_start_up(value: Any, type_name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_proxy_config({"endpoints": {"/bad": value}})
    assert caught.value.message == (
        f'Proxy target for route "/bad" must be a string, but is of type {type_name}'
    )
    assert caught.value.key_path is not None and caught.value.key_path.startswith(
        "proxy.endpoints./bad"
    )


@pytest.mark.parametrize(
    "target", ["not a url", "ftp://files.example.com", "https://", "/relative"]
)
def test_invalid_target_url_fails_at_start_up(target: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_proxy_config({"endpoints": {"/bad": {"target": target}}})
    assert caught.value.message == f"Proxy target is not a valid URL: {target}"
    assert caught.value.key_path == "proxy.endpoints./bad.target"


def test_invalid_target_message_redacts_credentials_in_the_url() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_proxy_config({"endpoints": {"/bad": "ftp://admin:hunter2@files.example.com"}})
    assert "hunter2" not in str(caught.value)


def test_bad_header_value_names_the_key_without_the_value() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_proxy_config(
            {"endpoints": {"/pd": {"target": "https://a.example", "headers": {"X-Key": 12345}}}}
        )
    assert caught.value.key_path == "proxy.endpoints./pd.headers.X-Key"
    assert "12345" not in str(caught.value)


def test_target_with_a_query_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_proxy_config({"endpoints": {"/q": "https://api.example.com/v1?api_key=s3cr3t"}})
    assert caught.value.key_path == "proxy.endpoints./q.target"
    assert "must not have a query string" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def test_bad_header_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_proxy_config(
            {"endpoints": {"/pd": {"target": "https://a.example", "headers": {"X Key": "v"}}}}
        )
    assert caught.value.key_path == "proxy.endpoints./pd.headers"
    assert "'X Key' is not a valid HTTP header name" in str(caught.value)


def test_bad_credentials_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_proxy_config({"endpoints": {"/pd": {"target": "https://a.example",
                                                  "credentials": "none"}}})
    assert "require, forward, dangerously-allow-unauthenticated" in str(caught.value)


def test_skip_invalid_proxies_skips_bad_routes() -> None:
    endpoints = parse_proxy_config(
        {"skipInvalidProxies": True, "endpoints": {"/bad": {"target": 1}, "/ok": "https://a.io"}}
    )
    assert list(endpoints) == ["/ok"]


def test_secrets_stay_out_of_repr_and_describe() -> None:
    routes = _routes(PD_ROUTES)
    endpoint = routes.endpoints["/pagerduty"]
    assert PD_TOKEN not in repr(endpoint)
    assert PD_TOKEN not in repr(routes)
    described = json.dumps(routes.describe())
    assert PD_TOKEN not in described and API_KEY not in described
    assert endpoint.describe()["headers"] == {"Authorization": "<redacted>"}


async def test_router_works_where_it_is_mounted_whatever_the_base_url(world: ProxyWorld) -> None:
    # The portal's public base URL may carry a path its reverse proxy strips.
    world.echo.hits.clear()
    open_echo = {"target": f"{world.echo_url}/base",
                 "credentials": "dangerously-allow-unauthenticated"}
    routes = ProxyRoutes(
        parse_proxy_config({"endpoints": {"/echo": open_echo}}),
        "https://portal.example.com/incidents/api/proxy",
    )
    upstream = httpx.AsyncClient()
    app = FastAPI()
    app.include_router(
        create_proxy_router(routes, client=lambda: upstream, identity=_identity),
        prefix="/api/proxy",
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://portal"
        ) as caller:
            ok = await caller.get("/api/proxy/echo/v1/x")
            escape = await caller.get("/api/proxy/echo/%2e%2e/private")
    finally:
        await upstream.aclose()
    assert ok.status_code == 200 and ok.json()["raw_path"] == "/base/v1/x"
    assert escape.status_code == 400
    assert [hit["raw_path"] for hit in world.echo.hits] == ["/base/v1/x"]


# --- request framing (desync) -------------------------------------------------------------------


def _raw_exchange(port: int, request: bytes) -> bytes:
    """Send bytes as they are; the first answer (head and a Content-Length body), or whatever
    came before the server closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            head, found, body = received.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if found and length and len(body) >= int(length.group(1)):
                break
    return received


@pytest.fixture(params=["router", "dispatch"])
def h11_proxy(world: ProxyWorld, request: pytest.FixtureRequest) -> Iterator[_Serving]:
    """The proxy served by uvicorn's h11 protocol, which (unlike httptools) accepts a request
    with both Content-Length and Transfer-Encoding and leaves the choice to the application."""
    app = FastAPI()
    sessions: list[Any] = []

    def session() -> Any:
        if not sessions:  # made inside the server's event loop, on first use
            sessions.append(new_session(timeout=2))
        return sessions[0]

    if request.param == "dispatch":
        handler = ProxyHandler(world.routes, client=session, identity=_identity)
        app.add_middleware(ProxyDispatch, handler=handler)
    else:
        upstream = httpx.AsyncClient(timeout=2)
        app.include_router(
            create_proxy_router(world.routes, client=lambda: upstream, identity=_identity),
            prefix="/api/proxy",
        )
    world.echo.hits.clear()
    with _Serving(app, http="h11") as proxy:
        yield proxy


def test_content_length_with_transfer_encoding_is_refused_and_reaches_no_upstream(
    world: ProxyWorld, h11_proxy: _Serving
) -> None:
    # Read as chunked (an empty body) but forwarded with its Content-Length, the request would
    # make a keep-alive upstream take the next bytes on the connection, another user's request,
    # as this one's body.
    request = (
        b"POST /api/proxy/echo/v1/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Test-User: alice\r\n"
        b"Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    answer = _raw_exchange(h11_proxy.port, request)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"Content-Length or Transfer-Encoding" in answer
    assert world.echo.hits == []


def test_the_request_body_length_sent_upstream_is_the_one_received(fresh: ProxyWorld) -> None:
    payload = b'{"summary": "db down"}'
    request = (
        b"POST /api/proxy/echo/v1/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Test-User: alice\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
        b"\r\n" + f"{len(payload):x}".encode() + b"\r\n" + payload + b"\r\n0\r\n\r\n"
    )
    answer = _raw_exchange(fresh.proxy.port, request)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    [hit] = fresh.echo.hits
    assert hit["body"] == payload.decode()
    sent = hit["headers"]
    assert "content-length" not in sent or sent["content-length"] == str(len(payload))
    assert not ("content-length" in sent and "transfer-encoding" in sent)


# --- path parameters and dots in other spellings ------------------------------------------------

PATH_TRICKS = [
    "/api/proxy/echo/..;/private",
    "/api/proxy/echo/..%3b/private",
    "/api/proxy/echo/..%3B/private",
    "/api/proxy/echo/v1;jsessionid=x/..;/private",
    "/api/proxy/echo/%c0%ae%c0%ae/private",
    "/api/proxy/echo/%e0%80%ae%e0%80%ae/private",
    "/api/proxy/echo/%ef%bc%8e%ef%bc%8e/private",
    "/api/proxy/echo/%e2%80%a5/private",
    "/api/proxy/echo/%u002e%u002e/private",
    "/api/proxy/echo/..%20/private",
    "/api/proxy/echo/.../private",
]


@pytest.mark.parametrize("raw_path", PATH_TRICKS)
def test_path_parameters_and_other_dot_spellings_are_refused(
    fresh: ProxyWorld, raw_path: str
) -> None:
    status, _, body = fresh.send("GET", raw_path, headers=SIGNED_IN)
    assert status == 400, (raw_path, status, body)
    assert json.loads(body)["error"]["name"] == "InputError"
    assert fresh.echo.hits == []


def test_dots_inside_a_name_still_pass(fresh: ProxyWorld) -> None:
    status, _, body = fresh.send("GET", "/api/proxy/echo/v1/file.tar.gz/..hidden",
                                 headers=SIGNED_IN)
    assert status == 200
    assert json.loads(body)["raw_path"] == "/base/v1/file.tar.gz/..hidden"


# --- the OpenAPI document -----------------------------------------------------------------------


def test_openapi_lists_the_proxys_real_answers(fresh: ProxyWorld) -> None:
    status, _, body = fresh.send("GET", "/openapi.json")
    assert status == 200
    operations = json.loads(body)["paths"]["/api/proxy/{path}"]
    assert set(operations) == {"get", "head", "post", "put", "patch", "delete", "options"}
    for operation in operations.values():
        responses = operation["responses"]
        assert {"default", "400", "401", "403", "404", "405", "502", "504"} <= set(responses)
        assert "422" not in responses  # the proxy never validates a body
        error = responses["502"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ProxyErrorBody"}

"""Scoped OAuth against the simulator's identity server: short-lived tokens refreshed before
they expire, one token request for any number of concurrent card loads, a token revoked early
recovered with one refresh and one retry, and the token kept on the server.

The simulator's token lifetime and the client's clock share one fake clock, so "the moment of
expiry" is exact and nothing depends on how busy the machine is.
"""

from __future__ import annotations

import asyncio
import logging
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import greenroom_pagerduty
from greenroom import ConfigError, Entity
from greenroom._config import load_config
from greenroom._portal import build_portal
from greenroom.testing import api_holder, render_card
from greenroom.web import create_app
from greenroom_pagerduty import (
    SCOPES,
    PagerDutyClient,
    PagerDutyProvider,
    card,
    load_accounts,
    pagerduty_api_ref,
)
from greenroom_pagerduty.simulator import CHECKOUT_INTEGRATION_KEY, CHECKOUT_SERVICE_ID

from .conftest import PROXY_BASE, DictConfig

CLIENT_ID = "greenroom-portal"
CLIENT_SECRET = "s3cret-client-credential-42"
CHECKOUT = Entity(
    kind="Component",
    name="checkout-api",
    annotations={"pagerduty.com/integration-key": CHECKOUT_INTEGRATION_KEY},
)
CARD_ERRORS = ("Missing or invalid", "Error encountered", "Not Found", "rate-limited")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def oauth_config(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "pagerDuty": {
            "eventsBaseUrl": f"{url}/v2",
            "apiBaseUrl": url,
            "oauth": {
                "clientId": CLIENT_ID,
                "clientSecret": CLIENT_SECRET,
                "subDomain": "greenroom-demo",
                "region": "us",
                "identityUrl": url,
                **extra,
            },
        }
    }


@pytest.fixture
def clock(simulator: Any) -> FakeClock:
    clock = FakeClock()
    identity = simulator.app.state.identity
    identity.clients[CLIENT_ID] = CLIENT_SECRET
    identity.lifetime = 2
    identity.clock = clock
    return clock


@pytest.fixture
def oauth_client(make_client: Any, simulator: Any, clock: FakeClock, fetch: Any) -> Any:
    fetch.cache_ttl = 0  # every card load reaches the simulator, so every load needs a token
    return make_client(oauth_config(simulator.url), clock=clock)


@pytest.fixture
def show(oauth_client: Any, user: Any) -> Any:
    apis = api_holder((pagerduty_api_ref, PagerDutyProvider(oauth_client)))

    async def render() -> str:
        return await render_card(card, CHECKOUT, apis=apis, identity=user)

    return render


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def rest_exchanges(recorder: Any) -> list[Any]:
    return [
        e for e in recorder.exchanges if "/oauth/" not in e.url.path and "/v2/" not in e.url.path
    ]


def assert_card_fine(html: str) -> None:
    words = text(html)
    assert "Checkout API" in words
    for error in CARD_ERRORS:
        assert error not in words


async def test_requests_carry_a_bearer_token_with_only_the_plugin_scopes(
    show: Any, simulator: Any, recorder: Any
) -> None:
    assert_card_fine(await show())
    token_requests = [r for r in simulator.control.requests if r.path == "/oauth/token"]
    assert len(token_requests) == 1
    form = token_requests[0].body
    assert form["grant_type"] == "client_credentials" and form["client_id"] == CLIENT_ID
    assert form["scope"].split() == ["as_account-us.greenroom-demo", *SCOPES]
    rest = rest_exchanges(recorder)
    assert rest and all(e.headers["authorization"].startswith("Bearer ") for e in rest)
    assert not any("Token token=" in e.headers.get("authorization", "") for e in rest)


async def test_refreshes_before_expiry(
    show: Any, simulator: Any, clock: FakeClock, recorder: Any
) -> None:
    identity = simulator.app.state.identity
    assert_card_fine(await show())
    first = identity.issued
    clock.now += 1.0  # half-way through a 2-second token: still good
    assert_card_fine(await show())
    assert identity.issued == first
    clock.now += 0.6  # inside the last quarter: replaced although PagerDuty would still take it
    assert_card_fine(await show())
    assert identity.issued == first + 1
    assert all(e.status != 401 for e in recorder.exchanges)


async def test_fifty_concurrent_card_loads_at_expiry_make_one_token_request(
    show: Any, simulator: Any, clock: FakeClock, recorder: Any
) -> None:
    identity = simulator.app.state.identity
    assert_card_fine(await show())
    before = identity.issued
    clock.now += 2.0  # the moment the token expires
    pages = await asyncio.gather(*(show() for _ in range(50)))
    for html in pages:
        assert_card_fine(html)
    assert identity.issued == before + 1
    assert all(e.status != 401 for e in recorder.exchanges)


async def test_token_revoked_early_is_recovered_with_one_refresh_and_one_retry(
    show: Any, simulator: Any, recorder: Any
) -> None:
    identity = simulator.app.state.identity
    assert_card_fine(await show())
    per_load = len(rest_exchanges(recorder))  # REST requests one card load makes
    before, seen = identity.issued, len(recorder.exchanges)
    identity.revoke()  # PagerDuty revoked the app's token long before expires_in
    assert_card_fine(await show())
    assert identity.issued == before + 1
    after = rest_exchanges(recorder)[per_load:]
    refused = [e for e in after if e.status == 401]
    assert refused, "the revoked token was never refused, so nothing was recovered"
    # Each refused request was sent again exactly once, with the new token.
    assert len(after) == per_load + len(refused)
    new_token = {e.headers["authorization"] for e in after if e.status != 401}
    assert len(new_token) == 1 and new_token.isdisjoint(e.headers["authorization"] for e in refused)
    assert seen < len(recorder.exchanges)


async def test_a_second_refusal_is_not_retried_again(
    show: Any, simulator: Any, recorder: Any
) -> None:
    simulator.control.add_fault(status=401, path_prefix="/services")
    words = text(await show())
    assert "Missing or invalid PagerDuty Token" in words
    services = [e for e in recorder.exchanges if e.url.path.startswith("/services")]
    assert len(services) == 2  # the request and its one retry


async def test_wrong_client_secret_says_which_settings_to_check(
    make_client: Any, simulator: Any, clock: FakeClock, user: Any
) -> None:
    config = oauth_config(simulator.url, clientSecret="not-the-secret-at-all")
    client = make_client(config, clock=clock)
    with pytest.raises(Exception) as caught:
        await client.token_source(client.accounts[0]).token()
    message = str(caught.value)
    assert "invalid_client" in message and "pagerDuty.oauth clientId" in message
    assert "not-the-secret-at-all" not in message


async def test_the_scrubber_learns_each_token_as_it_is_issued(
    fetch: Any, simulator: Any, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "app-config.yaml"
    path.write_text("app: {title: t}\n")
    config = load_config([path], defaults=[oauth_config(simulator.url)])
    client = PagerDutyClient(fetch=fetch, proxy_base_url=PROXY_BASE, config=config, clock=clock)
    token = await client.token_source(client.accounts[0]).token()
    assert config.scrub(f"upstream echoed Bearer {token}") == "upstream echoed Bearer <redacted>"


def test_oauth_settings() -> None:
    account = load_accounts(
        DictConfig(
            {
                "pagerDuty": {
                    "oauth": {
                        "clientId": "c",
                        "clientSecret": "secret-value",
                        "subDomain": "acme",
                        "region": "eu",
                    }
                }
            }
        )
    )[0]
    assert account.oauth is not None
    assert account.oauth.token_url == "https://identity.eu.pagerduty.com/oauth/token"
    assert account.api_base_url == "https://api.pagerduty.com"  # no proxy route configured
    assert "secret-value" not in repr(account)
    # A configured proxy route is used when it exists, with the token added by the plugin.
    routed = load_accounts(
        DictConfig(
            {
                "proxy": {"endpoints": {"/pagerduty": {"target": "https://api.pagerduty.com"}}},
                "pagerDuty": {"oauth": {"clientId": "c", "clientSecret": "s", "subDomain": "acme"}},
            }
        )
    )[0]
    assert routed.api_base_url is None and routed.oauth is not None
    assert routed.oauth.token_url == "https://identity.pagerduty.com/oauth/token"
    accounts = load_accounts(
        DictConfig(
            {
                "pagerDuty": {
                    "accounts": [
                        {
                            "id": "eu",
                            "oauth": {
                                "clientId": "a",
                                "clientSecret": "s",
                                "subDomain": "x",
                                "region": "eu",
                            },
                        },
                        {"id": "us", "isDefault": True, "proxyRoute": "/pd-us"},
                    ]
                }
            }
        )
    )
    assert [(a.id, a.oauth is not None) for a in accounts] == [("us", False), ("eu", True)]


@pytest.mark.parametrize(
    ("section", "where", "words"),
    [
        (
            {
                "oauth": {
                    "clientId": "c",
                    "clientSecret": "hush-hush-123",
                    "subDomain": "a",
                    "region": "mars",
                }
            },
            "pagerDuty.oauth",
            "region",
        ),
        ({"oauth": {"clientId": "c", "subDomain": "a"}}, "pagerDuty.oauth", "clientSecret"),
        (
            {
                "oauth": {
                    "clientId": "c",
                    "clientSecret": "hush-hush-123",
                    "subDomain": "a",
                    "identityUrl": "ftp://x",
                }
            },
            "pagerDuty.oauth.identityUrl",
            "http",
        ),
        (
            {"accounts": [{"id": "x", "oauth": {"clientId": "c"}}]},
            "pagerDuty.accounts[0].oauth",
            "clientSecret",
        ),
    ],
)
def test_bad_oauth_settings_name_the_key_and_hide_the_secret(
    section: dict[str, Any], where: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_accounts(DictConfig({"pagerDuty": section}))
    assert caught.value.key_path == where
    assert words in str(caught.value) and "hush-hush-123" not in str(caught.value)


def test_a_static_authorization_header_on_the_route_conflicts_with_oauth() -> None:
    with pytest.raises(ConfigError, match="remove the header"):
        load_accounts(
            DictConfig(
                {
                    "proxy": {
                        "endpoints": {
                            "/pagerduty": {
                                "target": "https://api.pagerduty.com",
                                "headers": {"Authorization": "Token token=x"},
                            }
                        }
                    },
                    "pagerDuty": {
                        "oauth": {"clientId": "c", "clientSecret": "s", "subDomain": "a"}
                    },
                }
            )
        )


# -- the whole portal ------------------------------------------------------------------------


def _portal_config(tmp_path: Path, url: str, *, proxy_route: bool) -> Path:
    (tmp_path / "catalog-info.yaml").write_text(
        textwrap.dedent(f"""
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: checkout-api
          title: Checkout API
          annotations:
            pagerduty.com/service-id: {CHECKOUT_SERVICE_ID}
        spec: {{type: service, owner: team-commerce}}
        """)
    )
    route = (
        f"""
        proxy:
          endpoints:
            /pagerduty:
              target: {url}
        """
        if proxy_route
        else ""
    )
    config = tmp_path / "app-config.yaml"
    config.write_text(
        textwrap.dedent(f"""
        catalog:
          locations: [{{type: file, target: catalog-info.yaml}}]
        identity:
          header: X-Forwarded-Email
        auth:
          allowGuests: true
          proxy: {{trustedProxies: [127.0.0.1/32]}}
        pagerDuty:
          eventsBaseUrl: {url}/v2
          {"" if proxy_route else f"apiBaseUrl: {url}"}
          oauth:
            clientId: {CLIENT_ID}
            clientSecret: ${{PD_CLIENT_SECRET}}
            subDomain: greenroom-demo
            identityUrl: {url}
        """)
        + textwrap.dedent(route)
    )
    return config


@pytest.mark.parametrize("proxy_route", [False, True])
def test_portal_pages_and_proxy_route_use_the_token_and_never_show_it(
    tmp_path: Path, simulator: Any, proxy_route: bool
) -> None:
    simulator.app.state.identity.clients[CLIENT_ID] = CLIENT_SECRET
    portal = build_portal(
        [_portal_config(tmp_path, simulator.url, proxy_route=proxy_route)],
        plugins=[greenroom_pagerduty.plugin],
        load_entry_points=False,
        demo=False,
        env={"PD_CLIENT_SECRET": CLIENT_SECRET},
    )
    # The identity header counts from trusted proxies only: this client's peer is loopback.
    with TestClient(create_app(portal), client=("127.0.0.1", 50000)) as http:
        page = http.get("/catalog/default/component/checkout-api")
        assert page.status_code == 200
        assert "Checkout API" in page.text and "Missing or invalid" not in page.text
        issued = list(simulator.app.state.identity.tokens)
        assert len(issued) == 1
        assert issued[0] not in page.text and CLIENT_SECRET not in page.text
        assert portal.config.scrub(issued[0]) == "<redacted>"
        if proxy_route:
            # /api/proxy/pagerduty carries the current token too, and never hands it out.
            seen = len(simulator.control.requests)
            answer = http.get(
                "/api/proxy/pagerduty/services",
                headers={"X-Forwarded-Email": "ada.lovelace@example.com"},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["services"]
            assert issued[0] not in answer.text and issued[0] not in str(answer.headers)
            sent = simulator.control.requests[seen:]
            assert sent[-1].headers["authorization"] == f"Bearer {issued[0]}"


def test_scopes_cover_every_operation_the_plugin_calls(contract: Any) -> None:
    """No more scopes than needed: each listed scope is required by an operation the plugin
    calls, according to PagerDuty's REST description."""
    if contract is None:
        pytest.skip(
            "PagerDuty's OpenAPI files are not in ../shared/reference (GREENROOM_REFERENCE)"
        )
    called = [
        ("get", "/services"),
        ("get", "/services/{id}"),
        ("get", "/services/{id}/change_events"),
        ("get", "/incidents"),
        ("get", "/incidents/{id}"),
        ("post", "/incidents"),
        ("put", "/incidents/{id}"),
        ("get", "/incidents/{id}/log_entries"),
        ("get", "/incidents/{id}/notes"),
        ("post", "/incidents/{id}/notes"),
        ("get", "/oncalls"),
    ]
    needed = {contract.rest["paths"][p][m]["x-pd-requires-scope"] for m, p in called}
    assert needed == set(SCOPES)


def test_an_upstream_echoing_the_current_token_never_shows_it(
    tmp_path: Path, simulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The token is issued at run time, so no config holds it: the response scrubber and the
    log scrubber learn it as it is issued. PagerDuty (or a proxy in between) repeating the
    request's Authorization header in an error shows ``<redacted>`` in the card, in the JSON the
    proxy route hands out, and in a log line."""
    simulator.app.state.identity.clients[CLIENT_ID] = CLIENT_SECRET
    portal = build_portal(
        [_portal_config(tmp_path, simulator.url, proxy_route=True)],
        plugins=[greenroom_pagerduty.plugin],
        load_entry_points=False,
        demo=False,
        env={"PD_CLIENT_SECRET": CLIENT_SECRET},
    )
    signed_in = {"X-Forwarded-Email": "ada.lovelace@example.com"}
    with TestClient(create_app(portal), client=("127.0.0.1", 50000)) as http:
        # The JSON of the proxy route: the body passes through, only the response scrubber
        # stands between the echoed token and the browser.
        simulator.control.add_fault(status=500, path_prefix="/services", echo_credentials=True)
        answer = http.get("/api/proxy/pagerduty/services", headers=signed_in)
        [token] = simulator.app.state.identity.tokens
        assert answer.status_code == 500
        assert "request had Authorization: Bearer <redacted>" in answer.text
        assert token not in answer.text

        # The card's error, on the entity page; and a log line that quotes the upstream.
        simulator.control.add_fault(status=500, path_prefix="/services", echo_credentials=True,
                                    times=5)
        with caplog.at_level(logging.INFO):
            page = http.get("/catalog/default/component/checkout-api")
            logging.getLogger("greenroom.test").error("PagerDuty answered Bearer " + token)
        assert "Error encountered" in page.text, text(page.text)
        assert token not in page.text
    assert token not in caplog.text
    assert "Bearer <redacted>" in caplog.text

"""PagerDutyClient against the live simulator: Backstage's client cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from greenroom import (
    ConfigError,
    Entity,
    MissingSettingError,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    RequestFailedError,
    UnauthorizedError,
)
from greenroom_pagerduty import PagerDutyClient, dedup_key_for
from greenroom_pagerduty.simulator import (
    CHECKOUT_INTEGRATION_KEY,
    CHECKOUT_SERVICE_ID,
    LEGACY_SERVICE_ID,
    PAYMENTS_SERVICE_ID,
)

C = [
    ("time_zone", "UTC"),
    ("include[]", "integrations"),
    ("include[]", "escalation_policies"),
]
PROXY_BASE = "http://portal.test/api/proxy"


def by_key(key: str = CHECKOUT_INTEGRATION_KEY) -> Entity:
    return Entity(
        kind="Component", name="checkout-api", annotations={"pagerduty.com/integration-key": key}
    )


def by_id(service_id: str = CHECKOUT_SERVICE_ID) -> Entity:
    return Entity(
        kind="Component", name="checkout-api", annotations={"pagerduty.com/service-id": service_id}
    )


READ_HEADERS = {
    "accept": "application/vnd.pagerduty+json;version=2",
    "content-type": "application/json",
}


def sent(recorder, index=-1):
    exchange = recorder.exchanges[index]
    parts = urlsplit(str(exchange.url))
    return exchange, parts.path, parse_qsl(parts.query)


async def test_service_by_integration_key_sends_backstage_request(client, recorder, simulator):
    service = await client.lookup_service(by_key())
    assert service.id == CHECKOUT_SERVICE_ID
    assert service.html_url and service.escalation_policy.html_url
    exchange, path, query = sent(recorder)
    assert (exchange.method, path) == ("GET", "/services")
    assert query == [*C, ("query", CHECKOUT_INTEGRATION_KEY)]
    for name, value in READ_HEADERS.items():
        assert exchange.headers[name] == value
    # The proxy route added the token; the client never had it.
    assert exchange.headers["authorization"] == "Token token=test-pagerduty-token"


async def test_service_by_service_id(client, recorder):
    service = await client.lookup_service(by_id(PAYMENTS_SERVICE_ID))
    assert service.name == "Payments API"
    _, path, query = sent(recorder)
    assert path == f"/services/{PAYMENTS_SERVICE_ID}"
    assert query == C


async def test_integration_key_wins_over_service_id(client, recorder):
    entity = Entity(
        kind="Component",
        name="both",
        annotations={
            "pagerduty.com/integration-key": CHECKOUT_INTEGRATION_KEY,
            "pagerduty.com/service-id": PAYMENTS_SERVICE_ID,
        },
    )
    service = await client.service_for_entity(entity)
    assert service.id == CHECKOUT_SERVICE_ID
    assert len(recorder.exchanges) == 1
    assert sent(recorder)[1] == "/services"


async def test_neither_annotation_sends_nothing(client, recorder):
    with pytest.raises(NotFoundError):
        await client.service_for_entity(Entity(kind="Component", name="bare"))
    assert recorder.exchanges == []


async def test_empty_service_list_is_not_found(client):
    with pytest.raises(NotFoundError):
        await client.service_for_entity(by_key("0" * 32))


async def test_unknown_service_id_is_not_found(client):
    with pytest.raises(NotFoundError):
        await client.service_for_entity(by_id("PNOPE00"))


async def test_wrong_token_is_unauthorized(make_client, simulator):
    simulator.control.token = "another-token"
    client = make_client()
    with pytest.raises(UnauthorizedError) as caught:
        await client.service_for_entity(by_key())
    assert str(caught.value) == "Missing or invalid PagerDuty Token"
    assert "test-pagerduty-token" not in str(caught.value)


@pytest.mark.parametrize("entity", [by_key(), by_id()], ids=["integration-key", "service-id"])
async def test_server_error_joins_the_errors(client, simulator, entity):
    simulator.control.add_fault(status=500, path_prefix="/services")
    with pytest.raises(RequestFailedError) as caught:
        await client.service_for_entity(entity)
    assert str(caught.value) == (
        "Request failed with 500, Not valid request internal error occurred"
    )


async def test_incidents_request_and_result(client, recorder):
    listing = await client.incidents_for_service(client.accounts[0], CHECKOUT_SERVICE_ID)
    assert {i.status for i in listing.incidents} == {"triggered", "acknowledged"}
    assert not listing.truncated
    _, path, query = sent(recorder)
    assert path == "/incidents"
    assert query == [
        ("time_zone", "UTC"),
        ("sort_by", "created_at"),
        ("statuses[]", "triggered"),
        ("statuses[]", "acknowledged"),
        ("service_ids[]", CHECKOUT_SERVICE_ID),
    ]


async def test_incidents_page_past_25(client, recorder, simulator):
    listing = await client.incidents_for_service(client.accounts[0], LEGACY_SERVICE_ID)
    assert len(listing.incidents) == 32
    assert len({i.id for i in listing.incidents}) == 32
    offsets = [dict(sent(recorder, n)[2]).get("offset") for n in range(len(recorder.exchanges))]
    assert offsets == [None, "25"]


async def test_incidents_stop_at_the_cap(client, recorder):
    listing = await client.incidents_for_service(client.accounts[0], LEGACY_SERVICE_ID, cap=10)
    assert len(listing.incidents) == 10
    assert listing.truncated
    assert len(recorder.exchanges) == 1


async def test_change_events_request(client, recorder):
    events = await client.change_events_for_service(client.accounts[0], CHECKOUT_SERVICE_ID)
    assert len(events) == 5
    assert [e.timestamp for e in events] == sorted((e.timestamp for e in events), reverse=True)
    _, path, query = sent(recorder)
    assert path == f"/services/{CHECKOUT_SERVICE_ID}/change_events"
    assert query == [("limit", "5"), ("time_zone", "UTC"), ("sort_by", "timestamp")]


async def test_oncalls_request_returns_full_users(client, recorder):
    oncalls = await client.oncalls_for_policy(client.accounts[0], "PEPCHK1")
    assert [o.escalation_level for o in oncalls] == [1, 2, 3]
    assert all(o.user.email and o.user.avatar_url for o in oncalls)
    _, path, query = sent(recorder)
    assert path == "/oncalls"
    assert query == [
        ("time_zone", "UTC"),
        ("include[]", "users"),
        ("escalation_policy_ids[]", "PEPCHK1"),
    ]


async def test_trigger_body_and_dedup(client, recorder, simulator):
    entity = by_key()
    key = dedup_key_for(entity, "Checkout is down", "nonce-1")
    for _ in range(2):  # a double submit
        result = await client.trigger_incident(
            client.accounts[0],
            integration_key=CHECKOUT_INTEGRATION_KEY,
            summary="Checkout is down",
            user="ada.lovelace@example.com",
            entity_url="http://portal.test/catalog/default/component/checkout-api",
            dedup_key=key,
        )
        assert result.status == "success" and result.dedup_key == key
    exchange, path, _ = sent(recorder)
    assert (exchange.method, path) == ("POST", "/v2/enqueue")
    assert json.loads(exchange.body) == {
        "event_action": "trigger",
        "routing_key": CHECKOUT_INTEGRATION_KEY,
        "dedup_key": key,
        "client": "Greenroom",
        "client_url": "http://portal.test/catalog/default/component/checkout-api",
        "payload": {
            "summary": "Checkout is down",
            "source": "http://portal.test/catalog/default/component/checkout-api",
            "severity": "error",
            "class": "manual trigger",
            "custom_details": {"user": "ada.lovelace@example.com"},
        },
    }
    opened = [i for i in simulator.state.incidents.values() if i.title == "Checkout is down"]
    assert len(opened) == 1, "a double submit must open one incident"


async def test_trigger_refused_by_events_api(client):
    with pytest.raises(RequestFailedError) as caught:
        await client.trigger_incident(
            client.accounts[0],
            integration_key="short",
            summary="x",
            user="u",
            entity_url="http://portal.test/x",
            dedup_key="k",
        )
    assert str(caught.value) == (
        "Request failed with 400, Service key is the wrong length (should be 32 characters)"
    )


async def test_acknowledge_sends_from_and_invalidates_cache(client, recorder, simulator):
    account = client.accounts[0]
    before = await client.incidents_for_service(account, CHECKOUT_SERVICE_ID)
    target = next(i for i in before.incidents if i.status == "triggered")
    updated = await client.set_incident_status(
        account, target.id, "acknowledged", "ada.lovelace@example.com"
    )
    assert updated.status == "acknowledged"
    exchange, path, _ = sent(recorder)
    assert (exchange.method, path) == ("PUT", f"/incidents/{target.id}")
    assert exchange.headers["from"] == "ada.lovelace@example.com"
    assert json.loads(exchange.body) == {
        "incident": {"type": "incident_reference", "status": "acknowledged"}
    }
    after = await client.incidents_for_service(account, CHECKOUT_SERVICE_ID)
    assert {i.id: i.status for i in after.incidents}[target.id] == "acknowledged"


async def test_acknowledging_twice_reports_pagerduty_error(client):
    account = client.accounts[0]
    listing = await client.incidents_for_service(account, CHECKOUT_SERVICE_ID)
    acked = next(i for i in listing.incidents if i.status == "acknowledged")
    with pytest.raises(RequestFailedError) as caught:
        await client.set_incident_status(account, acked.id, "acknowledged", "a@example.com")
    assert str(caught.value) == "Request failed with 400, Incident Already Acknowledged"


async def test_429_is_retried_honouring_ratelimit_reset(make_client, simulator):
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    simulator.control.add_fault(status=429, times=2, reset_seconds=2)
    client = make_client(sleep=sleep, retry_budget=30)
    service = await client.service_for_entity(by_key())
    assert service.id == CHECKOUT_SERVICE_ID
    assert waits == [2.0, 2.0]


async def test_429_without_headers_backs_off_exponentially(make_client, simulator):
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    simulator.control.add_fault(status=429, times=3, rate_limit_headers=False, empty_body=True)
    client = make_client(sleep=sleep, retry_budget=30)
    await client.service_for_entity(by_key())
    assert waits == [0.5, 1.0, 2.0]


async def test_429_past_the_budget_is_rate_limited_with_retry_time(make_client, simulator):
    simulator.control.rate_limit_per_minute = 1
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = make_client(sleep=sleep, retry_budget=5)
    await client.service_for_entity(by_key())
    with pytest.raises(RateLimitedError) as caught:
        await client.incidents_for_service(client.accounts[0], CHECKOUT_SERVICE_ID)
    assert caught.value.retry_at is not None
    assert waits == [], "a wait past the budget is not slept"


async def test_actions_are_not_retried_on_429(client, recorder, simulator):
    simulator.control.add_fault(status=429, method="PUT", times=1)
    with pytest.raises(RateLimitedError):
        await client.set_incident_status(
            client.accounts[0], "QANY", "resolved", "ada.lovelace@example.com"
        )
    assert [e.method for e in recorder.exchanges] == ["PUT"]


async def test_malformed_body_is_a_clear_error(client, simulator):
    simulator.control.add_fault(malformed=True, path_prefix="/services")
    with pytest.raises(ProviderError, match="not valid JSON for GET /services"):
        await client.service_for_entity(by_key())


async def test_timeout_is_a_clear_error(make_client, simulator):
    simulator.control.add_fault(latency=1.0, path_prefix="/services")
    client = make_client(read_timeout=0.2)
    with pytest.raises(ProviderError, match="did not answer GET /services within 0.2 seconds"):
        await client.service_for_entity(by_key())


async def test_events_base_url_lower_case_key_and_default(make_client, simulator):
    lower = make_client(config={"pagerduty": {"eventsBaseUrl": "http://e/v2/"}})
    assert lower.accounts[0].events_base_url == "http://e/v2"
    default = make_client(config={})
    assert default.accounts[0].events_base_url == "https://events.pagerduty.com/v2"
    assert default.accounts[0].rest_base(PROXY_BASE) == f"{PROXY_BASE}/pagerduty"


async def test_accounts_chosen_by_annotation(make_client, simulator):
    config = {
        "pagerDuty": {
            "eventsBaseUrl": f"{simulator.url}/v2",
            "accounts": [
                {"id": "eu", "proxyRoute": "/pagerduty-eu"},
                {"id": "us", "isDefault": True, "proxyRoute": "/pagerduty"},
            ],
        }
    }
    client = make_client(config=config)
    assert [a.id for a in client.accounts] == ["us", "eu"]
    assert client.account_for_entity(by_key()).id == "us"
    eu = Entity(
        kind="Component",
        name="eu-thing",
        annotations={
            "pagerduty.com/service-id": CHECKOUT_SERVICE_ID,
            "pagerduty.com/account": "eu",
        },
    )
    assert client.account_for_entity(eu).rest_base(PROXY_BASE) == f"{PROXY_BASE}/pagerduty-eu"
    stray = Entity(kind="Component", name="x", annotations={"pagerduty.com/account": "apac"})
    with pytest.raises(MissingSettingError, match='names account "apac".*known: us, eu'):
        client.account_for_entity(stray)


def test_account_with_token_is_refused(make_client, simulator):
    config = {"pagerDuty": {"accounts": [{"id": "a", "apiToken": "s3cret-token"}]}}
    client = make_client(config=config)
    with pytest.raises(ConfigError) as caught:
        client.accounts  # noqa: B018
    assert "pagerDuty.accounts[0].apiToken" in str(caught.value)
    assert "s3cret-token" not in str(caught.value)


def test_client_is_importable_from_package():
    assert PagerDutyClient.__module__.startswith("greenroom_pagerduty")


def test_a_429_without_ratelimit_reset_honours_retry_after() -> None:
    # PagerDuty names its own header; a proxy in between may answer with the standard one
    # (RFC 9110: seconds or an HTTP date).
    import httpx

    from greenroom_pagerduty._client import _retry_delay

    def delay(headers: dict[str, str], attempt: int = 0) -> float:
        return _retry_delay(httpx.Response(429, headers=headers), attempt)

    assert delay({"ratelimit-reset": "3", "retry-after": "9"}) == 3.0
    assert delay({"retry-after": "7"}) == 7.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 27 <= delay({"retry-after": later}) <= 30
    assert delay({"retry-after": "soon"}, attempt=1) == 1.0  # unreadable: backs off

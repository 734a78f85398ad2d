"""PagerDuty's services for the mapping page, read from the simulator (paged, contract-checked)."""

from __future__ import annotations

from typing import Any

from greenroom import ServiceDirectoryProvider
from greenroom_pagerduty import PagerDutyProvider
from greenroom_pagerduty.simulator import CHECKOUT_INTEGRATION_KEY, CHECKOUT_SERVICE_ID


async def test_every_service_with_its_annotation_and_integration_keys(
    provider: Any, simulator: Any
) -> None:
    assert isinstance(provider, ServiceDirectoryProvider)
    services = await provider.mappable_services()
    assert [s.id for s in services] == [
        s.id for s in sorted(simulator.state.services.values(), key=lambda s: s.name.lower())
    ]
    checkout = next(s for s in services if s.id == CHECKOUT_SERVICE_ID)
    assert (checkout.name, checkout.annotation, checkout.value) == (
        "Checkout API", "pagerduty.com/service-id", CHECKOUT_SERVICE_ID
    )
    assert CHECKOUT_INTEGRATION_KEY in checkout.integration_keys


async def test_more_services_than_a_page(provider: Any, simulator: Any) -> None:
    simulator.state._seed_scale(130)  # as `--scale 130` would: more than one page of 100
    services = await provider.mappable_services()
    assert len(services) == len(simulator.state.services) > 100
    offsets = [
        dict(r.query).get("offset") for r in simulator.control.requests if r.path == "/services"
    ]
    assert offsets == [None, "100"]


async def test_every_account_s_services_with_the_account_annotation(
    make_client: Any, fetch: Any, simulator: Any
) -> None:
    """With ``pagerDuty.accounts``, the page lists every account's services (grouped by
    account), and a mapping sets ``pagerduty.com/account`` beside the service id; the same
    service id in two accounts stays two choices."""
    fetch.proxy.routes["/pagerduty-eu"] = fetch.proxy.routes["/pagerduty"]
    client = make_client({"pagerDuty": {
        "eventsBaseUrl": f"{simulator.url}/v2",
        "accounts": [
            {"id": "us", "isDefault": True, "proxyRoute": "/pagerduty"},
            {"id": "eu", "proxyRoute": "/pagerduty-eu"},
        ],
    }})
    services = await PagerDutyProvider(client).mappable_services()
    count = len(simulator.state.services)
    assert len(services) == 2 * count
    assert len({s.id for s in services}) == 2 * count
    eu = next(s for s in services if s.id == f"eu/{CHECKOUT_SERVICE_ID}")
    assert eu.group == "Account eu"
    assert eu.annotations == {
        "pagerduty.com/service-id": CHECKOUT_SERVICE_ID, "pagerduty.com/account": "eu",
    }
    us = next(s for s in services if s.id == f"us/{CHECKOUT_SERVICE_ID}")
    assert us.annotations["pagerduty.com/account"] == "us"
    paths = {r.path for r in simulator.control.requests}
    assert paths == {"/services"}
    assert sum(1 for r in simulator.control.requests if r.path == "/services") == 2

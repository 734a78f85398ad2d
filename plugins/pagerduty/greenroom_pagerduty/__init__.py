"""Greenroom's PagerDuty plugin: on-call, incidents, change events, and the actions
trigger, acknowledge and resolve, for entities annotated with
``pagerduty.com/integration-key`` or ``pagerduty.com/service-id``.
"""

from __future__ import annotations

from typing import Any

from greenroom import (
    config_api_ref,
    create_api_factory,
    create_plugin,
    discovery_api_ref,
    fetch_api_ref,
)

from ._card import card, error_text, pagerduty_api_ref
from ._client import (
    INCIDENT_CAP,
    INTEGRATION_KEY_ANNOTATION,
    SERVICE_ID_ANNOTATION,
    IncidentListing,
    PagerDutyClient,
    dedup_key_for,
)
from ._config import (
    ACCOUNT_ANNOTATION,
    DEFAULT_API_BASE_URL,
    DEFAULT_EVENTS_BASE_URL,
    DEFAULT_PROXY_ROUTE,
    PagerDutyAccount,
    PagerDutySettings,
    load_accounts,
)
from ._demo import demo_simulator
from ._oauth import SCOPES, OAuthSettings, TokenSource
from ._provider import PagerDutyProvider, is_pagerduty_available
from ._webhook import webhook_routes


def _build_provider(fetch: Any, discovery: Any, config: Any) -> PagerDutyProvider:
    client = PagerDutyClient(
        fetch=fetch,
        proxy_base_url=discovery.get_base_url("proxy"),
        config=config,
        # Validated now, so a refused setting fails the plugin at start-up and in
        # `greenroom config check`, not at the first page view.
        accounts=load_accounts(config),
        app_base_url=config.get("app.baseUrl", "") or "",
        product_name=config.get("app.title", "Greenroom") or "Greenroom",
    )
    # With OAuth and a configured proxy route, the route's /api/proxy requests carry the
    # account's current token too (it changes at run time, so it is not in the route's config).
    use_header_source = getattr(fetch.proxy, "use_header_source", None)
    if callable(use_header_source):
        for account in client.accounts:
            source = client.token_source(account)
            if source is not None and account.api_base_url is None:
                use_header_source(account.proxy_route or DEFAULT_PROXY_ROUTE, source.headers)
    return PagerDutyProvider(client)


plugin = create_plugin(
    id="pagerduty",
    title="PagerDuty",
    description="On-call, incidents and change events from PagerDuty; trigger, acknowledge "
    "and resolve from the portal.",
    apis=[
        create_api_factory(
            api=pagerduty_api_ref,
            deps={"fetch": fetch_api_ref, "discovery": discovery_api_ref, "config": config_api_ref},
            factory=_build_provider,
        )
    ],
    cards=[card],
    providers=[pagerduty_api_ref],
    routes=webhook_routes,
    simulators=[demo_simulator],
    settings_model=PagerDutySettings,
    templates="greenroom_pagerduty",
)

__all__ = [
    "ACCOUNT_ANNOTATION",
    "DEFAULT_API_BASE_URL",
    "DEFAULT_EVENTS_BASE_URL",
    "INCIDENT_CAP",
    "INTEGRATION_KEY_ANNOTATION",
    "SERVICE_ID_ANNOTATION",
    "SCOPES",
    "IncidentListing",
    "OAuthSettings",
    "PagerDutyAccount",
    "PagerDutyClient",
    "PagerDutyProvider",
    "PagerDutySettings",
    "TokenSource",
    "card",
    "dedup_key_for",
    "error_text",
    "is_pagerduty_available",
    "load_accounts",
    "pagerduty_api_ref",
    "plugin",
]

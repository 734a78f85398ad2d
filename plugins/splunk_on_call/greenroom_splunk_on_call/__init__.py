"""Greenroom's Splunk On-Call plugin: incidents, on-call users, trigger, acknowledge, resolve.

Entities opt in with `splunk.com/on-call-team: <team name>` or
`splunk.com/on-call-routing-key: <routing key>`; see the plugin's README for config.
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

from ._card import splunk_on_call_api_ref, splunk_on_call_card
from ._client import MISSING_KEYS, PROXY_ROUTE, SplunkOnCallClient
from ._demo import demo_simulator
from ._provider import (
    MISSING_USERNAME,
    NO_REST_ENDPOINT,
    ROUTING_KEY_ANNOTATION,
    TEAM_ANNOTATION,
    SplunkOnCallProvider,
    incident_status,
    is_splunk_on_call_available,
)
from ._settings import SplunkOnCallSettings
from ._webhook import webhook_routes


def _provider_factory(fetch: Any, discovery: Any, config: Any) -> SplunkOnCallProvider:
    client = SplunkOnCallClient(fetch, discovery.get_base_url("proxy"))
    return SplunkOnCallProvider(client, setting=lambda key: config.get(f"splunkOnCall.{key}"))


plugin = create_plugin(
    id="splunk-on-call",
    title="Splunk On-Call",
    description="Incidents, on-call users, and triggering, acknowledging and resolving incidents.",
    apis=[
        create_api_factory(
            api=splunk_on_call_api_ref,
            deps={"fetch": fetch_api_ref, "discovery": discovery_api_ref, "config": config_api_ref},
            factory=_provider_factory,
        )
    ],
    cards=[splunk_on_call_card],
    providers=[splunk_on_call_api_ref],
    routes=webhook_routes,
    simulators=[demo_simulator],
    settings_model=SplunkOnCallSettings,
    templates="greenroom_splunk_on_call",
    # The REST endpoint URL holds the integration key in its path.
    secret_config_keys=["splunkOnCall.eventsRestEndpoint"],
)

__all__ = [
    "MISSING_KEYS",
    "MISSING_USERNAME",
    "NO_REST_ENDPOINT",
    "PROXY_ROUTE",
    "ROUTING_KEY_ANNOTATION",
    "TEAM_ANNOTATION",
    "SplunkOnCallClient",
    "SplunkOnCallProvider",
    "SplunkOnCallSettings",
    "incident_status",
    "is_splunk_on_call_available",
    "plugin",
    "splunk_on_call_api_ref",
    "splunk_on_call_card",
]

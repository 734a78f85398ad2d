"""The demo wiring: the simulator behind the `/splunk-on-call` proxy route, and demo entities.

The demo's guest user (`guest@example.com`) is a user of the simulated organisation, so acting
users are found by email as in production; `splunkOnCall.username` is left unset on purpose.
"""

from __future__ import annotations

import os

from greenroom import Simulator

from ._client import PROXY_ROUTE

_DEMO_API_ID = "demo-api-id"
_DEMO_API_KEY = "demo-api-key"
_DEMO_REST_KEY = "demo-rest-key"
# The demo simulator's outgoing webhooks carry it; the demo portal checks it.
_DEMO_WEBHOOK_TOKEN = "demo-splunk-on-call-webhook-token"

# `payments-api` (annotated for both providers, team `payments`) is defined by the PagerDuty
# plugin's demo catalog; these are Splunk On-Call's own.
DEMO_CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout-web
  title: Checkout web
  description: The storefront's checkout pages. Its routing key pages Checkout and payments.
  annotations:
    splunk.com/on-call-routing-key: checkout-web
spec:
  type: website
  lifecycle: production
  owner: checkout
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: product-search
  title: Product Search
  description: The shop's search box and its query service.
  annotations:
    splunk.com/on-call-team: Search
spec:
  type: service
  lifecycle: production
  owner: search
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: feature-store
  title: Feature store
  description: Model features for the data science team, which has nobody on call yet.
  annotations:
    splunk.com/on-call-team: Data Science
spec:
  type: service
  lifecycle: experimental
  owner: data-science
"""


def _app() -> object:
    from .simulator import create_app

    # GREENROOM_SIMULATOR_SCALE=N adds N generated teams; the demo stays small without it.
    return create_app(
        api_id=_DEMO_API_ID,
        api_key=_DEMO_API_KEY,
        rest_key=_DEMO_REST_KEY,
        scale=simulator_scale(),
    )


def simulator_scale() -> int:
    try:
        return max(0, int(os.environ.get("GREENROOM_SIMULATOR_SCALE") or 0))
    except ValueError:
        return 0


def _app_for_portal(portal_url: str) -> object:
    from .simulator import create_app

    webhook = f"{portal_url.rstrip('/')}/api/splunk-on-call/webhook?token={_DEMO_WEBHOOK_TOKEN}"
    return create_app(
        api_id=_DEMO_API_ID, api_key=_DEMO_API_KEY, rest_key=_DEMO_REST_KEY, webhooks=[webhook]
    )


demo_simulator = Simulator(
    plugin_id="splunk-on-call",
    app=_app,
    proxy_route=PROXY_ROUTE,
    proxy_headers={"X-VO-Api-Id": _DEMO_API_ID, "X-VO-Api-Key": _DEMO_API_KEY},
    config={
        # The real API lives under /api-public, as https://api.victorops.com/api-public does.
        "proxy": {"endpoints": {PROXY_ROUTE: {"target": "{url}/api-public"}}},
        "splunkOnCall": {
            "eventsRestEndpoint": "{url}/integrations/generic/20131114/alert/" + _DEMO_REST_KEY,
            "portalUrl": "{url}/ui/greenroom-demo",
            "webhookToken": _DEMO_WEBHOOK_TOKEN,
        },
    },
    catalog=DEMO_CATALOG,
    app_for_portal=_app_for_portal,
)

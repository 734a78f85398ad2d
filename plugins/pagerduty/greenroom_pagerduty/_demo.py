"""What the demo portal needs to show the PagerDuty card against the local simulator."""

from __future__ import annotations

import os
from typing import Any

from greenroom import Simulator

from .simulator import (
    CHECKOUT_INTEGRATION_KEY,
    LEGACY_SERVICE_ID,
    PAYMENTS_INTEGRATION_KEY,
    PAYMENTS_SERVICE_ID,
    SEARCH_SERVICE_ID,
)

# A fake credential: the simulator accepts only this token, and only the demo knows it.
DEMO_TOKEN = "demo-pagerduty-token"
# The demo's simulator signs its webhooks with this, and the demo portal checks them with it.
DEMO_WEBHOOK_SECRET = "demo-pagerduty-webhook-secret"

DEMO_CATALOG = f"""\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout-api
  title: Checkout API
  description: Takes orders and card payments for the web shop.
  annotations:
    pagerduty.com/integration-key: {CHECKOUT_INTEGRATION_KEY}
  tags: [python, commerce]
spec:
  type: service
  lifecycle: production
  owner: team-commerce
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: search-indexer
  title: Search Indexer
  description: Keeps the product search index fresh (service id only, so no Create Incident).
  annotations:
    pagerduty.com/service-id: {SEARCH_SERVICE_ID}
spec:
  type: service
  lifecycle: production
  owner: team-discovery
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments-api
  title: Payments API
  description: Card authorisation and settlement, paged through PagerDuty and Splunk On-Call.
  annotations:
    pagerduty.com/integration-key: {PAYMENTS_INTEGRATION_KEY}
    pagerduty.com/service-id: {PAYMENTS_SERVICE_ID}
    splunk.com/on-call-team: payments
  tags: [java, payments]
spec:
  type: service
  lifecycle: production
  owner: team-payments
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: legacy-batch
  title: Legacy Batch
  description: Nightly batch jobs; many open incidents and nobody on call.
  annotations:
    pagerduty.com/service-id: {LEGACY_SERVICE_ID}
spec:
  type: service
  lifecycle: deprecated
  owner: team-platform
"""


def _app() -> Any:
    from .simulator import create_app

    # GREENROOM_SIMULATOR_SCALE=N adds N generated services; the demo stays small without it.
    try:
        scale = max(0, int(os.environ.get("GREENROOM_SIMULATOR_SCALE") or 0))
    except ValueError:
        scale = 0
    return create_app(token=DEMO_TOKEN, scale=scale)


def _app_for_portal(portal_url: str) -> Any:
    from .simulator import create_app

    webhook = f"{portal_url.rstrip('/')}/api/pagerduty/webhook"
    return create_app(token=DEMO_TOKEN, webhooks=[(webhook, DEMO_WEBHOOK_SECRET)])


demo_simulator = Simulator(
    plugin_id="pagerduty",
    app=_app,
    proxy_route="/pagerduty",
    proxy_headers={"Authorization": f"Token token={DEMO_TOKEN}"},
    config={
        "pagerDuty": {"eventsBaseUrl": "{url}/v2", "webhookSecrets": [DEMO_WEBHOOK_SECRET]}
    },
    catalog=DEMO_CATALOG,
    app_for_portal=_app_for_portal,
)

"""A local PagerDuty: REST API v2 and Events API v2 on one ASGI app.

    from greenroom_pagerduty.simulator import create_app
    app = create_app(token="local-token", rate_limit_per_minute=960)

Run it on its own port with ``python -m greenroom_pagerduty.simulator --port 9001``.
``write_portal_config`` writes a portal's catalog and config over it (tests, benchmarks).
"""

from __future__ import annotations

from ._app import create_app
from ._control import Fault, RecordedRequest, SimulatorControl
from ._portal_config import (
    CHECKOUT_ENTITY,
    PAYMENTS_ENTITY,
    SEARCH_ENTITY,
    MappedEntity,
    write_portal_config,
)
from ._state import (
    CHECKOUT_INTEGRATION_KEY,
    CHECKOUT_SERVICE_ID,
    IDENTITY_INTEGRATION_KEY,
    IDENTITY_SERVICE_ID,
    LEGACY_SERVICE_ID,
    PAYMENTS_INTEGRATION_KEY,
    PAYMENTS_SERVICE_ID,
    SEARCH_SERVICE_ID,
    PagerDutyState,
    generated_annotations,
    generated_service,
)

__all__ = [
    "CHECKOUT_ENTITY",
    "CHECKOUT_INTEGRATION_KEY",
    "CHECKOUT_SERVICE_ID",
    "IDENTITY_INTEGRATION_KEY",
    "IDENTITY_SERVICE_ID",
    "LEGACY_SERVICE_ID",
    "PAYMENTS_ENTITY",
    "PAYMENTS_INTEGRATION_KEY",
    "PAYMENTS_SERVICE_ID",
    "SEARCH_ENTITY",
    "SEARCH_SERVICE_ID",
    "Fault",
    "MappedEntity",
    "PagerDutyState",
    "RecordedRequest",
    "SimulatorControl",
    "create_app",
    "generated_annotations",
    "generated_service",
    "write_portal_config",
]

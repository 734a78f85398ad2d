"""A local Splunk On-Call (VictorOps) API: `create_app(...)` returns the ASGI app.

Run it on its own port with ``python -m greenroom_splunk_on_call.simulator --port 8082``;
the public API is then under ``http://127.0.0.1:8082/api-public`` and the REST endpoint
integration under ``http://127.0.0.1:8082/integrations/generic/20131114/alert/<key>``.
"""

from __future__ import annotations

from ._app import create_app
from ._seed import ORG_SLUG
from ._state import (
    Fault,
    SimulatorState,
    generated_annotations,
    generated_routing_key,
    generated_team_name,
)

__all__ = [
    "ORG_SLUG",
    "Fault",
    "SimulatorState",
    "create_app",
    "generated_annotations",
    "generated_routing_key",
    "generated_team_name",
]

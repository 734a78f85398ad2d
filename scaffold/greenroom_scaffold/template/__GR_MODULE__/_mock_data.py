"""Mock data the simulator serves: one demo service with open incidents and an on-call rota.

Shaped like the vendor's payloads (see `_models.py`) so that the simulator, the tests and the
demo portal all show the same thing.
"""

from __future__ import annotations

from typing import Any

DEMO_SERVICE_ID = "SVC-CHECKOUT"
SITE = "https://__GR_ID__.example.com"

SERVICES: dict[str, dict[str, Any]] = {
    DEMO_SERVICE_ID: {
        "id": DEMO_SERVICE_ID,
        "name": "Checkout",
        "html_url": f"{SITE}/services/{DEMO_SERVICE_ID}",
        "escalation_policy": {
            "id": "POL-CHECKOUT",
            "name": "Checkout primary",
            "html_url": f"{SITE}/policies/POL-CHECKOUT",
        },
    },
}

_JANE = {
    "id": "USR-JANE",
    "name": "Jane Doe",
    "email": "jane.doe@example.com",
    "html_url": f"{SITE}/users/USR-JANE",
}
_SAM = {
    "id": "USR-SAM",
    "name": "Sam Roe",
    "email": "sam.roe@example.com",
    "html_url": f"{SITE}/users/USR-SAM",
}

INCIDENTS: list[dict[str, Any]] = [
    {
        "id": "INC-1002",
        "number": 1002,
        "service_id": DEMO_SERVICE_ID,
        "title": "Checkout latency above 2 seconds",
        "status": "open",
        "urgency": "high",
        "created_at": "2024-05-02T09:12:00Z",
        "html_url": f"{SITE}/incidents/INC-1002",
        "created_by": "latency-monitor",
        "assignee": _JANE,
    },
    {
        "id": "INC-1001",
        "number": 1001,
        "service_id": DEMO_SERVICE_ID,
        "title": "Payment provider answering 502",
        "status": "acked",
        "urgency": "high",
        "created_at": "2024-05-02T08:40:00Z",
        "acknowledged_at": "2024-05-02T08:45:00Z",
        "html_url": f"{SITE}/incidents/INC-1001",
        "created_by": "synthetic-checks",
        "assignee": _SAM,
    },
    {
        "id": "INC-1000",
        "number": 1000,
        "service_id": DEMO_SERVICE_ID,
        "title": "Disk usage on orders-db above 90%",
        "status": "closed",
        "urgency": "low",
        "created_at": "2024-05-01T22:05:00Z",
        "acknowledged_at": "2024-05-01T22:10:00Z",
        "resolved_at": "2024-05-01T23:30:00Z",
        "html_url": f"{SITE}/incidents/INC-1000",
        "created_by": "disk-monitor",
        "assignee": _JANE,
    },
]

ON_CALL: dict[str, list[dict[str, Any]]] = {
    DEMO_SERVICE_ID: [
        {"level": 2, "user": _SAM, "until": None},
        {"level": 1, "user": _JANE, "until": "2030-01-01T09:00:00Z"},
    ],
}

#: The demo portal's entity for this plugin (a `catalog-info.yaml` document).
DEMO_CATALOG = f"""\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: __GR_ID__-demo
  title: __GR_TITLE__ demo service
  description: A demo service whose incidents come from the __GR_TITLE__ simulator.
  annotations:
    __GR_ID__.example.com/service: {DEMO_SERVICE_ID}
spec:
  type: service
  lifecycle: production
  owner: __GR_ID__-team
"""

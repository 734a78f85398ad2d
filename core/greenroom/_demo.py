"""The demo: what `greenroom serve` runs with no config.

Each bundled or installed plugin contributes a simulator, proxy route and demo entities through
the `greenroom_simulators` hook; this module adds what belongs to no plugin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEMO_DIR = Path(__file__).parent / "demo"


def demo_defaults() -> dict[str, Any]:
    return {
        "app": {"title": "Greenroom demo"},
        "catalog": {
            "locations": [{"type": "file", "target": str(DEMO_DIR / "catalog-info.yaml")}]
        },
        "identity": {
            "guest": {"id": "guest", "email": "guest@example.com", "name": "Demo Guest"}
        },
        "coverage": {
            "rules": [
                {
                    "name": "production-services",
                    "description": "Every production service and API must have on-call support.",
                    "kinds": ["Component", "API"],
                    "lifecycles": ["production"],
                }
            ]
        },
    }

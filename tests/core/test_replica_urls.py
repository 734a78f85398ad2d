"""URLs as every replica names them, and a portal without Redis that never loads the Redis
client (start-up stays as fast as before replicas existed)."""

from __future__ import annotations

import subprocess
import sys

from greenroom._replica_urls import localized, portable

BASE = "http://10.0.0.7:7007/api/proxy"


def test_a_proxied_url_travels_without_this_replicas_address() -> None:
    url = f"{BASE}/pagerduty/incidents?limit=25"
    shared = portable(url, BASE)
    assert "10.0.0.7" not in shared
    # Another replica, another address: the same resource under its own proxy.
    assert localized(shared, "http://10.0.0.8:7007/api/proxy") == (
        "http://10.0.0.8:7007/api/proxy/pagerduty/incidents?limit=25"
    )
    assert localized(shared, BASE) == url


def test_urls_outside_the_proxy_are_left_alone() -> None:
    vendor = "https://api.pagerduty.com/incidents"
    assert portable(vendor, BASE) == vendor
    assert localized(vendor, BASE) == vendor
    assert portable(vendor, "") == vendor


def test_a_portal_without_redis_never_imports_the_redis_client() -> None:
    script = (
        "import sys\n"
        "from greenroom._portal import build_portal\n"
        "from greenroom.web import create_app\n"
        "from fastapi.testclient import TestClient\n"
        "portal = build_portal(demo=True)\n"
        "with TestClient(create_app(portal)) as client:\n"
        "    assert client.get('/healthz').status_code == 200\n"
        "print(sorted(m for m in sys.modules if m == 'redis' or m.startswith('redis.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"

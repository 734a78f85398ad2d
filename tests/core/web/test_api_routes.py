"""The host's JSON endpoints that are not a view's: readiness runs every API's ``ping=``, and the
portal closes every API's resource when it stops."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from greenroom import create_api_factory, create_api_ref, create_plugin
from greenroom._portal import build_portal
from greenroom.web import create_app

SECRET = "pool-password-0123456789"
pool_ref = create_api_ref("plugin.pooled.pool")


class Pool:
    """Stands for a database engine or Redis pool: connects to a real listening socket."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.closed = 0

    async def ping(self) -> None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError as exc:
            raise ConnectionError(f"cannot reach postgres://app:{SECRET}@127.0.0.1") from exc
        writer.close()
        await writer.wait_closed()

    async def close(self) -> None:
        self.closed += 1


def _portal(tmp_path: Path, pool: Pool) -> Any:
    config = tmp_path / "app-config.yaml"
    config.write_text(f"pooled:\n  password: {SECRET}\n")
    plugin = create_plugin(
        id="pooled",
        apis=[create_api_factory(pool_ref, pool, close=Pool.close, ping=Pool.ping)],
    )
    return build_portal([config], plugins=[plugin], load_entry_points=False, demo=False)


def test_readiness_runs_the_pings_and_names_what_failed_without_secrets(tmp_path: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    pool = Pool(server.getsockname()[1])
    with TestClient(create_app(_portal(tmp_path, pool))) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"plugin.pooled.pool": {"ok": True}}}

        server.close()
        down = client.get("/readyz")
        assert down.status_code == 503
        body = down.json()
        assert body["status"] == "not ready"
        check = body["checks"]["plugin.pooled.pool"]
        assert check["ok"] is False
        assert check["error"].startswith("ConnectionError: cannot reach postgres://app:")
        assert SECRET not in down.text
        assert pool.closed == 0
    # Leaving the app's lifespan closes the portal, and the portal closes the pool once.
    assert pool.closed == 1

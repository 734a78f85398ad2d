"""``greenroom serve --workers N``: N processes behind one listening socket (uvicorn's).

Each worker builds its own portal from the same configuration. Without ``redis.url`` each keeps
its own read cache (``core.fetch``): N workers may ask a vendor up to N times per TTL for the same
read. With it they share reads, request budgets and live updates as separate replicas do
(:mod:`greenroom._shared_cache`); ``app.secret`` is then required, so every worker signs sessions
alike. The demo refuses more than one worker: its vendor simulators
live inside the process, and each worker would invent a different world.
"""

from __future__ import annotations

import gc
import logging
import os
from typing import Any

CONFIG_ENV = "GREENROOM_CONFIG"
BASE_URL_ENV = "GREENROOM_WORKER_BASE_URL"
DEMO_REFUSAL = (
    "the demo runs its vendor simulators inside the process, so it serves from one process "
    "only; drop --workers, or serve your own config: greenroom serve --config app-config.yaml "
    "--workers N"
)


def serve_workers(
    paths: list[str], *, host: str, port: int, base_url: str, workers: int,
    forwarding: dict[str, Any] | None = None,
) -> int:
    """Run ``workers`` processes of the portal configured by ``paths`` (not the demo).
    ``forwarding``: uvicorn's X-Forwarded-For options (``greenroom._auth.uvicorn_forwarding``)."""
    import uvicorn

    os.environ[CONFIG_ENV] = os.pathsep.join(os.path.abspath(p) for p in paths)
    os.environ[BASE_URL_ENV] = base_url
    uvicorn.run(
        "greenroom.web._workers:worker_app", factory=True, workers=workers, host=host,
        port=port, log_level="warning", access_log=False,
        http="greenroom.web._server_protocol:GatheringHttpToolsProtocol",
        **(forwarding or {"proxy_headers": False}),
    )
    return 0


def settle_heap() -> None:
    """Move everything built so far (imports, the app, the portal) out of the collector's
    sight before serving: a full collection would otherwise walk that whole heap every so
    often in the middle of a request (tens of milliseconds: most of the proxy's p99). The
    ``gc.freeze`` advice of CPython's gc documentation for long-running servers."""
    gc.collect()
    gc.freeze()


def worker_app() -> Any:
    """The application of one worker process (uvicorn calls it in each child)."""
    from .._portal import build_portal
    from . import create_app

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from ._access_log import use_buffered_access_log

    use_buffered_access_log()
    paths = [p for p in os.environ.get(CONFIG_ENV, "").split(os.pathsep) if p]
    portal = build_portal(paths, base_url=os.environ[BASE_URL_ENV], demo=False)
    app = create_app(portal)
    settle_heap()
    return app

"""Stopping the portal within seconds whatever its plugins do.

uvicorn stops on SIGTERM/SIGINT by waiting for open requests and then for every remaining
task; a plugin that never answers (or swallows cancellation) would keep both waiting forever,
so an orchestrator would have to SIGKILL the portal. Here open requests get
:data:`GRACE_SECONDS`, and a watchdog ends the process :data:`HARD_STOP_SECONDS` after the
signal if anything still holds it.
"""

from __future__ import annotations

import logging
import os
import threading
from types import FrameType
from typing import Any

import uvicorn

from ._deadline import abandoned_calls

log = logging.getLogger("greenroom")

GRACE_SECONDS = 3
HARD_STOP_SECONDS = 8.0


class _BoundedServer(uvicorn.Server):
    _watchdog: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Timer(HARD_STOP_SECONDS, _hard_stop)
            self._watchdog.daemon = True
            self._watchdog.start()
        super().handle_exit(sig, frame)


def _hard_stop() -> None:
    log.error(
        "still stopping after %g seconds (%d plugin call(s) never ended); exiting now",
        HARD_STOP_SECONDS, abandoned_calls(),
    )
    logging.shutdown()
    os._exit(1)


def serve(
    app: Any, *, host: str, port: int, log_level: str = "warning", access_log: bool = True,
    **uvicorn_options: Any,
) -> None:
    """Run ``app`` with uvicorn until SIGTERM or SIGINT, then stop within seconds.
    ``uvicorn_options``: e.g. X-Forwarded-For handling (``greenroom._auth.uvicorn_forwarding``)."""
    from .web._server_protocol import GatheringHttpToolsProtocol

    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=access_log,
        timeout_graceful_shutdown=GRACE_SECONDS, http=GatheringHttpToolsProtocol,
        **uvicorn_options,
    )
    _BoundedServer(config).run()



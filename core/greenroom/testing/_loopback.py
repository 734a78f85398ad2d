"""Real servers for tests and benchmarks: an ASGI app (a vendor simulator, a portal) served by
uvicorn on loopback, and a generated catalog of any size for scale checks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol


class Annotator(Protocol):
    """``annotator(number, alternate)``: the annotations that point an entity at the generated
    vendor object ``number`` (1-based); ``alternate`` asks for the provider's other annotation
    form. The simulators provide them (``generated_annotations``)."""

    def __call__(self, number: int, alternate: bool, /) -> Mapping[str, str]: ...


#: How long leaving :func:`serve_app` waits for open requests before closing them.
GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class ServedApp:
    """An app being served: its base URL (``http://127.0.0.1:<port>``) and the app itself."""

    url: str
    app: Any


@contextmanager
def serve_app(
    app: Any,
    *,
    lifespan: Literal["auto", "on", "off"] = "off",
    start_timeout: float = 60.0,
    **options: Any,
) -> Iterator[ServedApp]:
    """Serve ``app`` on a free loopback port in a background thread until the block ends.

    ``lifespan="on"`` runs the app's start-up and shutdown (a portal needs them; the vendor
    simulators do not). ``options`` go to ``uvicorn.Config`` (``proxy_headers=False`` to see the
    TCP peer rather than what ``X-Forwarded-For`` claims). Leaving the block shuts the server
    down gracefully, and forcefully after ``GRACE_SECONDS`` (an open event stream holds a
    graceful shutdown until its next ping).
    """
    import uvicorn

    from ..web._server_protocol import GatheringHttpToolsProtocol

    # Served as `greenroom serve` serves, with its HTTP protocol, unless told otherwise.
    options.setdefault("http", GatheringHttpToolsProtocol)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan=lifespan, **options
        )
    )
    thread = threading.Thread(target=server.run, daemon=True, name="greenroom-serve-app")
    thread.start()
    # A guard against a server that cannot start (not a speed check): fail instead of hanging.
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"{app!r} did not start serving")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield ServedApp(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        thread.join(timeout=GRACE_SECONDS)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=10)


def generated_catalog(
    size: int, annotators: Sequence[Annotator | None], *, account: int
) -> list[dict[str, Any]]:
    """``size`` Backstage components (``svc-00000``, ...) spread over generated vendor accounts.

    Entity *n* is annotated by ``annotators[n % len(annotators)]`` (``None``: no provider) for
    the generated object ``n // len(annotators) % account + 1``, so entities share objects once
    the catalog outgrows an account of ``account`` objects; odd entities use the alternate
    annotation form. Owners cycle through ``team-00`` to ``team-39``.
    """
    documents = []
    for n in range(size):
        annotator = annotators[n % len(annotators)]
        number = n // len(annotators) % account + 1
        annotations = dict(annotator(number, bool(n % 2))) if annotator else {}
        documents.append(
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Component",
                "metadata": {
                    "name": f"svc-{n:05d}",
                    "title": f"Service {n:05d}",
                    "description": f"Generated component number {n}",
                    "annotations": annotations,
                },
                "spec": {
                    "type": "service", "lifecycle": "production", "owner": f"team-{n % 40:02d}",
                },
            }
        )
    return documents

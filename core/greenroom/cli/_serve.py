"""``greenroom serve``: run the portal (the demo when no config is given)."""

from __future__ import annotations

import argparse
import logging
import sys

from ._options import add_config_option, config_paths, print_error

DEFAULT_PORT = 7007


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run the portal (the demo when no config is given)")
    add_config_option(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--demo", action="store_true", help="add the demo to the given config")
    serve.add_argument(
        "--workers", type=int, default=1, metavar="N",
        help="processes to serve with (they share reads, budgets and live updates through "
        "redis.url, else each caches on its own; not the demo)",
    )


def serve(args: argparse.Namespace) -> int:
    from .._exceptions import GreenroomError
    from ..web import create_app
    from ..web._access_log import use_buffered_access_log

    use_buffered_access_log()
    internal_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    paths = config_paths(args.config)
    try:
        from .._portal import build_portal

        portal = build_portal(
            paths,
            base_url=f"http://{internal_host}:{args.port}",
            demo=True if args.demo else None,
        )
        from .._auth import require_sign_in_choice, uvicorn_forwarding, warn_about_legacy

        auth = require_sign_in_choice(portal.config, demo=portal.demo)
        warn_about_legacy(auth)
        from .._data import app_secret

        # Before any worker starts: replicas sharing Redis or PostgreSQL need one app.secret.
        app_secret(portal.config)
    except GreenroomError as exc:
        print_error(exc)
        return 1
    for record in portal.plugin_records:
        if record.state == "failed":
            logging.getLogger("greenroom").error(
                "plugin %s failed and is not running: %s", record.id, record.error
            )
    mode = "demo" if portal.demo else ", ".join(paths)
    if args.workers > 1:
        from ..web._workers import DEMO_REFUSAL, serve_workers

        if portal.demo:
            print(f"greenroom: --workers {args.workers}: {DEMO_REFUSAL}", file=sys.stderr)
            return 2
        print(f"Greenroom ({mode}, {args.workers} workers) on http://{internal_host}:{args.port}",
              flush=True)
        return serve_workers(paths, host=args.host, port=args.port, workers=args.workers,
                             base_url=f"http://{internal_host}:{args.port}",
                             forwarding=uvicorn_forwarding(auth))
    print(f"Greenroom ({mode}) on http://{internal_host}:{args.port}", flush=True)
    from .._shutdown import serve as serve_until_signalled
    from ..web._workers import settle_heap

    app = create_app(portal)
    settle_heap()
    # Greenroom's own access log (greenroom.access) replaces uvicorn's.
    serve_until_signalled(app, host=args.host, port=args.port, access_log=False,
                          **uvicorn_forwarding(auth))
    return 0

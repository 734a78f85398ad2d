"""The FastAPI application: pages, JSON APIs, the proxy, plugin routers and demo simulators."""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._data import app_secret
from .._deadline import cancel_abandoned
from .._portal import SIMULATOR_PREFIX, Portal, run_startup
from .._proxy import ProxyHandler, create_proxy_router
from .._render import configure
from .._scrub import Scrubber, ScrubbingMiddleware
from . import (
    _api_routes,
    _audit,
    _auth,
    _coverage,
    _docs,
    _incident_detail,
    _incidents,
    _live,
    _mapping,
    _marketplace,
    _pages,
    _readiness,
)
from ._access_log import AccessLogMiddleware
from ._auth import GuestGate
from ._browser_security import BrowserRules, BrowserSecurityMiddleware
from ._proxy_front import PortalApp
from ._proxy_front import install as install_proxy_front
from ._session import Sessions
from ._sign_in import SignInMiddleware, identity_of

log = logging.getLogger("greenroom.web")

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# FastAPI's native OpenTelemetry asks the global providers on every request (7% of a proxied
# request under py-spy); the portal configures no OpenTelemetry, so it is off where it exists.
_NO_NATIVE_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)


def page_templates(app: FastAPI) -> Jinja2Templates:
    """The portal's page templates, with ``path_for`` resolving ``app``'s named routes."""
    env = jinja2.Environment(
        loader=jinja2.PrefixLoader({"greenroom": jinja2.PackageLoader("greenroom", "templates")}),
        autoescape=True,
    )
    # `path_for('incidents_page')`: every link is built from the named route, never written out.
    env.globals["path_for"] = lambda name, /, **params: str(app.url_path_for(name, **params))
    return Jinja2Templates(env=configure(env))


def create_app(portal: Portal) -> FastAPI:
    """The portal's web application."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_startup(portal)
        try:
            yield
        finally:
            cancel_abandoned()  # plugin calls given up on at their deadline
            await portal.aclose()

    app = PortalApp(
        title="Greenroom",
        description="Incident management portal: catalog, on-call, incidents, plugins.",
        version="0.1.0",
        lifespan=lifespan,
        # /docs and /redoc come from web/_docs.py, with their assets served locally.
        docs_url=None,
        redoc_url=None,
        **_NO_NATIVE_TELEMETRY,
    )
    app.state.portal = portal
    app.state.templates = page_templates(app)
    proxy = ProxyHandler(portal.proxy, client=lambda: portal.fetch.session, identity=identity_of)
    # Starlette runs the last middleware added first: the session is read before sign-in runs,
    # and sign-in before the gate that keeps guests out (when the portal does not allow them)
    # and applies proxy.<route> permissions before the proxy dispatcher.
    app.add_middleware(GuestGate, portal=portal)
    app.add_middleware(SignInMiddleware, backends=portal.sign_in, guest=portal.guest)
    sessions = Sessions(app_secret(portal.config), https_only=portal.base_url.startswith("https:"))
    sessions.install(app)
    # Secrets never leave in a body, whichever page, card, fragment or error wrote them.
    app.state.scrubber = Scrubber(portal.config.secret_values)
    # Tokens issued at run time (OAuth access tokens) are learned as they are issued.
    portal.config.on_secret_learned(app.state.scrubber.learn)
    app.add_middleware(ScrubbingMiddleware, scrubber=app.state.scrubber)
    # Outermost: host, origin and browser headers for every response, errors included.
    app.add_middleware(BrowserSecurityMiddleware, base_url=portal.config.get("app.baseUrl"))

    app.include_router(_api_routes.router)
    app.include_router(create_proxy_router(portal.proxy, handler=proxy), prefix="/api/proxy")
    for view in (
        _marketplace, _incidents, _coverage, _incident_detail, _mapping, _live, _readiness, _docs,
        _auth, _audit,
    ):
        setup = getattr(view, "setup", None)  # the views that prepare app state at creation
        if setup is not None:
            setup(app)
        app.include_router(view.router)
    for plugin_id, router in portal.contributions.routes.items():
        app.include_router(router, prefix=f"/api/{plugin_id}", tags=[plugin_id])
    app.include_router(_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if portal.demo:
        for sim in portal.contributions.simulators:
            app.mount(f"{SIMULATOR_PREFIX}/{sim.plugin_id}", sim.build(portal.base_url))

    @app.exception_handler(StarletteHTTPException)
    async def html_errors(request: Request, exc: StarletteHTTPException) -> Any:
        wants_html = "text/html" in request.headers.get("accept", "")
        if wants_html and not request.url.path.startswith("/api/"):
            heading = "Not found" if exc.status_code == 404 else f"Error {exc.status_code}"
            return _pages.render_message(request, heading, str(exc.detail), exc.status_code)
        return await http_exception_handler(request, exc)

    app.add_middleware(AccessLogMiddleware)  # outermost: it times and logs everything
    # The proxy route's hot path: the same rules as above, in one layer outside all of them.
    install_proxy_front(
        app, handler=proxy, portal=portal, browser=BrowserRules(portal.config.get("app.baseUrl")),
        scrubber=app.state.scrubber, sessions=sessions, sign_in=(portal.sign_in, portal.guest),
    )
    return app

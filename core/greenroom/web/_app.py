"""The FastAPI application: pages, JSON APIs, the proxy, plugin routers and demo simulators."""

from __future__ import annotations

import contextlib
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
from starlette.types import ASGIApp, Receive, Scope, Send

from .._core_apis import RequestIdentity
from .._portal import SIMULATOR_PREFIX, Portal, run_startup
from .._proxy import create_proxy_router
from .._render import configure
from . import _api_routes, _pages
from ._session import Session

log = logging.getLogger("greenroom.web")

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


class _IdentityMiddleware:
    """Binds the request's identity so `core.identity` answers for the current viewer."""

    def __init__(self, app: ASGIApp, portal: Portal) -> None:
        self.app = app
        self.portal = portal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        token = RequestIdentity.bind(self.portal.identity_for(headers))
        try:
            await self.app(scope, receive, send)
        finally:
            from .._core_apis import _current_identity

            _current_identity.reset(token)


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.PrefixLoader({"greenroom": jinja2.PackageLoader("greenroom", "templates")}),
        autoescape=True,
    )
    return Jinja2Templates(env=configure(env))


def create_app(portal: Portal) -> FastAPI:
    """The portal's web application."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_startup(portal)
        try:
            yield
        finally:
            await portal.aclose()

    app = FastAPI(
        title="Greenroom",
        description="Incident management portal: catalog, on-call, incidents, plugins.",
        version="0.1.0",
        lifespan=lifespan,
        # /docs and /redoc come from web/_docs.py, with their assets served locally.
        docs_url=None,
        redoc_url=None,
    )
    app.state.portal = portal
    app.state.session = Session()
    app.state.templates = _templates()
    app.add_middleware(_IdentityMiddleware, portal=portal)

    app.include_router(_api_routes.router)
    app.include_router(
        create_proxy_router(
            portal.proxy,
            client=lambda: portal.fetch.client,
            identity=lambda request: portal.identity_for(request.headers),
        ),
        prefix="/api/proxy",
    )
    _include_optional_routers(app)
    for plugin_id, router in portal.contributions.routes.items():
        app.include_router(router, prefix=f"/api/{plugin_id}", tags=[plugin_id])
    app.include_router(_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if portal.demo:
        for sim in portal.contributions.simulators:
            app.mount(f"{SIMULATOR_PREFIX}/{sim.plugin_id}", sim.app())

    @app.exception_handler(StarletteHTTPException)
    async def html_errors(request: Request, exc: StarletteHTTPException) -> Any:
        wants_html = "text/html" in request.headers.get("accept", "")
        if wants_html and not request.url.path.startswith("/api/"):
            heading = "Not found" if exc.status_code == 404 else f"Error {exc.status_code}"
            return _pages.render_message(request, heading, str(exc.detail), exc.status_code)
        return await http_exception_handler(request, exc)

    return app


def _include_optional_routers(app: FastAPI) -> None:
    """Routers of the portal's own views that live in their own modules."""
    import importlib

    for module_name in ("_marketplace", "_incidents", "_coverage", "_docs"):
        try:
            module = importlib.import_module(f"greenroom.web.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"greenroom.web.{module_name}":
                raise
            continue
        setup = getattr(module, "setup", None)
        if setup is not None:
            setup(app)
        app.include_router(module.router)

"""The API reference pages, ``/docs`` (Swagger UI) and ``/redoc``, working without internet.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so behind a firewall (or on a laptop on
a train) they stay blank. The ``fastapi-offline`` distribution bundles both; we serve its assets
from ``/docs/assets`` and build the pages with FastAPI's own helpers.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PREFIX = "/docs/assets"

router = APIRouter(include_in_schema=False)


def assets_folder() -> Path:
    """Swagger UI's and ReDoc's files, as the installed fastapi-offline package ships them."""
    return Path(str(files("fastapi_offline") / "static"))


def setup(app: FastAPI) -> None:
    app.mount(ASSETS_PREFIX, StaticFiles(directory=assets_folder()), name="docs-assets")


def _title(request: Request) -> str:
    return f"{request.app.title} API"


# Named as FastAPI names its own, so path_for("swagger_ui_html") finds them.
@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui_html(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=_title(request),
        swagger_js_url=f"{ASSETS_PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PREFIX}/favicon.png",
        oauth2_redirect_url="/docs/oauth2-redirect",
    )


@router.get("/docs/oauth2-redirect", response_class=HTMLResponse)
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc", response_class=HTMLResponse)
async def redoc_html(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=_title(request),
        redoc_js_url=f"{ASSETS_PREFIX}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS_PREFIX}/favicon.png",
        with_google_fonts=False,
    )


__all__ = ["ASSETS_PREFIX", "assets_folder", "router", "setup"]

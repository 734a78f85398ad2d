"""/docs and /redoc load Swagger UI and ReDoc from the portal itself, never from a CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from greenroom._portal import build_portal
from greenroom.web import create_app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    config = tmp_path / "app-config.yaml"
    config.write_text("app:\n  title: Docs test\n")
    portal = build_portal([config], load_entry_points=False, demo=False)
    with TestClient(create_app(portal)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("path", "assets"),
    [
        ("/docs", ["swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"]),
        ("/redoc", ["redoc.standalone.js", "favicon.png"]),
    ],
)
def test_pages_load_their_assets_from_the_portal(
    client: TestClient, path: str, assets: list[str]
) -> None:
    page = client.get(path)
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', page.text)
    urls += re.findall(r"url:\s*['\"]([^'\"]+)['\"]", page.text)
    assert not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls
    assert "fonts.googleapis.com" not in page.text and "cdn.jsdelivr.net" not in page.text
    for name in assets:
        assert f"/docs/assets/{name}" in page.text
        asset = client.get(f"/docs/assets/{name}")
        assert asset.status_code == 200 and len(asset.content) > 1000, name
    assert "/openapi.json" in page.text


def test_openapi_still_describes_the_api_and_not_the_doc_pages(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/coverage" in paths
    assert not {"/docs", "/redoc", "/docs/oauth2-redirect"} & set(paths)

"""Liveness and readiness: /healthz says the process answers; /readiness names failed plugins and
unreachable vendors and still answers 200, so a vendor's outage takes no replica out of
rotation; the HTML /plugins page names failed plugins too."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from greenroom import Card, CardContext, create_plugin
from greenroom._portal import build_portal
from greenroom.web import create_app


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nobody listens once it is closed


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    (tmp_path / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        "metadata: {name: checkout}\nspec: {type: service, owner: team-a}\n"
    )
    config = tmp_path / "app-config.yaml"
    config.write_text(
        "catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n"
        "proxy:\n  endpoints:\n"
        f"    /down-vendor:\n      target: http://127.0.0.1:{_closed_port()}/api\n"
        "      headers: {Authorization: 'Token token=${DOWN_TOKEN}'}\n"
    )

    def broken_predicate(entity: object) -> bool:
        raise RuntimeError("annotation table missing")

    async def render(ctx: CardContext) -> str:
        return "<p>never</p>"

    broken = create_plugin(
        id="broken-plugin",
        cards=[Card(id="broken", title="Broken", render=render, is_available=broken_predicate)],
    )
    portal = build_portal(
        [config], plugins=[broken], load_entry_points=False, demo=False,
        env={"DOWN_TOKEN": "down-token-6b1f0c"},
    )
    with TestClient(create_app(portal)) as client:
        client.get("/catalog/default/component/checkout")  # the predicate raises: plugin fails
        yield client


def test_liveness_stays_ok_and_readiness_names_what_is_wrong(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readiness")
    assert ready.status_code == 200  # a vendor outage takes no replica out of rotation
    report = ready.json()
    assert report["status"] == "degraded"
    assert [p["id"] for p in report["failed_plugins"]] == ["broken-plugin"]
    assert "annotation table missing" in report["failed_plugins"][0]["error"]
    route = next(r for r in report["routes"] if r["name"] == "/down-vendor")
    assert route["reachable"] is False and "cannot connect" in route["detail"]
    assert "down-token-6b1f0c" not in ready.text


def test_readiness_is_a_page_too(client: TestClient) -> None:
    page = client.get("/readiness", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "Readiness: degraded" in page.text and "broken-plugin" in page.text
    assert "/down-vendor" in page.text


def test_the_plugins_page_names_failed_plugins(client: TestClient) -> None:
    page = client.get("/plugins")
    assert 'id="failed-plugins"' in page.text
    assert "broken-plugin" in page.text and "annotation table missing" in page.text

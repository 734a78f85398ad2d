"""Posted forms are text: a field sent as a file is refused by name, never turned into text."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from greenroom import ActionResult, Card, CardContext, create_plugin
from greenroom._portal import build_portal
from greenroom.web import create_app

ENTITY_PATH = "/catalog/default/component/checkout"
ACTION_PATH = f"{ENTITY_PATH}/actions/notes/save"


def _config(tmp_path: Path) -> Path:
    (tmp_path / "catalog-info.yaml").write_text(
        textwrap.dedent(
            """
            apiVersion: backstage.io/v1alpha1
            kind: Component
            metadata: {name: checkout}
            spec: {type: service, owner: team-a}
            """
        )
    )
    config = tmp_path / "app-config.yaml"
    config.write_text(
        "catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n"
        "auth:\n  provider: proxy\n  allowGuests: true\n"
        "  proxy: {header: X-Forwarded-Email, trustedProxies: [127.0.0.1/32]}\n"
    )
    return config


@pytest.fixture
def saved() -> list[Mapping[str, str]]:
    return []


@pytest.fixture
def client(tmp_path: Path, saved: list[Mapping[str, str]]) -> Iterator[TestClient]:
    async def render(ctx: CardContext) -> str:
        return (
            f'<form method="post" action="{escape(ctx.action_url("save"))}">'
            f'<input type="hidden" name="csrf_token" value="{escape(ctx.csrf_token)}">'
            f'<input name="title" value="{escape(ctx.form.get("title", ""))}">'
            '<textarea name="description"></textarea><button>Save</button></form>'
        )

    async def save(ctx: CardContext, form: Mapping[str, str]) -> ActionResult:
        saved.append(dict(form))
        return ActionResult(f"Opened {form.get('title')}: {form.get('description')}")

    plugin = create_plugin(
        id="notes", cards=[Card(id="notes", title="Notes", render=render, actions={"save": save})]
    )
    portal = build_portal(
        [_config(tmp_path)], plugins=[plugin], load_entry_points=False, demo=False
    )
    # Guests never act: requests come through the trusted (loopback) proxy as a user.
    with TestClient(
        create_app(portal), client=("127.0.0.1", 50000),
        headers={"X-Forwarded-Email": "ada.lovelace@example.com"},
    ) as client:
        yield client


def _token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the card's form carries a CSRF token"
    return match.group(1)


def test_a_text_field_sent_as_a_file_is_refused_and_the_typed_text_kept(
    client: TestClient, saved: list[Mapping[str, str]]
) -> None:
    token = _token(client.get(ENTITY_PATH).text)
    response = client.post(
        ACTION_PATH,
        data={"csrf_token": token, "title": "Disk full"},
        files={"description": ("notes.txt", b"from a file", "text/plain")},
        follow_redirects=False,
    )
    assert response.status_code == 400
    assert "takes text only" in response.text and "&#39;description&#39;" in response.text
    assert 'value="Disk full"' in response.text
    assert saved == []
    assert "UploadFile" not in response.text


def test_the_same_form_sent_as_text_is_accepted(
    client: TestClient, saved: list[Mapping[str, str]]
) -> None:
    token = _token(client.get(ENTITY_PATH).text)
    response = client.post(
        ACTION_PATH,
        data={"csrf_token": token, "title": "Disk full", "description": "on db-1"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert saved == [{"title": "Disk full", "description": "on db-1"}]


def test_incident_actions_refuse_a_file_too(client: TestClient) -> None:
    token = _token(client.get(ENTITY_PATH).text)
    response = client.post(
        "/incidents/actions/nobody/acknowledge",
        data={"csrf_token": token, "entity": "component:default/checkout"},
        files={"incident": ("id.txt", b"Q1", "text/plain")},
        follow_redirects=False,
    )
    assert response.status_code == 400
    assert "takes text only" in response.text
    assert "UploadFile" not in response.text

"""The web host: streamed entity pages, per-card error boxes and timeouts, CSRF-protected card
actions with flash alerts, the JSON API in OpenAPI, and secrets kept out of every response.

Streaming is checked over a real uvicorn server on loopback (an in-process client would hide
buffering); the rest uses FastAPI's TestClient against the same application.
"""

from __future__ import annotations

import asyncio
import logging
import re
import textwrap
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter
from fastapi.testclient import TestClient
from markupsafe import escape

from greenroom import (
    ActionResult,
    ApiHolder,
    Card,
    CardContext,
    config_api_ref,
    create_api_factory,
    create_api_ref,
    create_plugin,
)
from greenroom._portal import Portal, build_portal
from greenroom.web import create_app

ENTITY_PATH = "/catalog/default/component/checkout"
SECRET = "tok-9f8e7d6c5b4a-very-secret"


def _csrf(client: TestClient, path: str = ENTITY_PATH) -> str:
    """The CSRF token a page gives this browser's session (in its head, for scripts)."""
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get(path).text)
    assert found, f"{path} has no CSRF field"
    return found.group(1)


def _write_config(tmp_path: Path) -> Path:
    (tmp_path / "catalog-info.yaml").write_text(
        textwrap.dedent(
            """
            apiVersion: backstage.io/v1alpha1
            kind: Component
            metadata:
              name: checkout
              title: Checkout
            spec:
              type: service
              owner: team-a
            """
        )
    )
    config = tmp_path / "app-config.yaml"
    config.write_text(
        textwrap.dedent(
            """
            catalog:
              locations:
                - type: file
                  target: catalog-info.yaml
            proxy:
              endpoints:
                '/vendor':
                  target: http://127.0.0.1:9/vendor
                  headers:
                    Authorization: Token token=${VENDOR_TOKEN}
            auth:
              provider: proxy
              proxy: {header: X-Forwarded-Email, trustedProxies: [127.0.0.1/32]}
            """
        )
    )
    return config


def _portal(tmp_path: Path, *plugins: Any) -> Portal:
    return build_portal(
        [_write_config(tmp_path)], plugins=list(plugins), load_entry_points=False, demo=False,
        env={"VENDOR_TOKEN": SECRET},
    )


def _card(card_id: str, render: Any, **kwargs: Any) -> Card:
    return Card(id=card_id, title=card_id.replace("-", " ").title(), render=render, **kwargs)


async def _fast(ctx: CardContext) -> str:
    return "<p>FAST BODY</p>"


# --- streaming over a real server ---------------------------------------------------------------


@asynccontextmanager
async def _serving(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (free port) in this test's event loop."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                       timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_entity_page_streams_the_shell_before_a_slow_card(tmp_path: Path) -> None:
    release = asyncio.Event()

    async def slow(ctx: CardContext) -> str:
        await release.wait()
        return "<p>SLOW BODY</p>"

    plugin = create_plugin(
        id="streamer", cards=[_card("slow-card", slow, timeout=600), _card("fast-card", _fast)]
    )
    async with _serving(create_app(_portal(tmp_path, plugin))) as url:
        user = {"X-Forwarded-Email": "tester@example.com"}
        async with httpx.AsyncClient(base_url=url, headers=user) as client:
            async with client.stream("GET", ENTITY_PATH) as response:
                assert response.status_code == 200
                chunks = response.aiter_text()
                received = ""

                async def read_until(marker: str) -> None:
                    nonlocal received
                    async for chunk in chunks:
                        received += chunk
                        if marker in received:
                            return
                    raise AssertionError(f"stream ended without {marker!r}")

                # A hang here means the page waited for the slow card: fail instead of hanging.
                await asyncio.wait_for(read_until("FAST BODY"), timeout=60)
                assert "<h1>Checkout</h1>" in received
                assert "Loading Slow Card" in received
                assert "SLOW BODY" not in received

                release.set()
                await asyncio.wait_for(read_until("</html>"), timeout=60)
                assert "SLOW BODY" in received
                assert received.index("FAST BODY") < received.index("SLOW BODY")


# --- card isolation -----------------------------------------------------------------------------


@pytest.fixture
def client_for() -> Iterator[Any]:
    clients: list[TestClient] = []

    def make(portal: Portal) -> TestClient:
        # Guests never act: requests come from a trusted proxy naming the user.
        client = TestClient(create_app(portal), client=("127.0.0.1", 50000),
                            headers={"X-Forwarded-Email": "tester@example.com"})
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_card_that_raises_shows_its_error_box_and_others_render(
    tmp_path: Path, client_for: Any
) -> None:
    async def broken(ctx: CardContext) -> str:
        raise ValueError("service 'checkout' has no team")

    plugin = create_plugin(
        id="shaky", cards=[_card("broken-card", broken), _card("fast-card", _fast)]
    )
    page = client_for(_portal(tmp_path, plugin)).get(ENTITY_PATH)
    assert page.status_code == 200
    assert "FAST BODY" in page.text
    assert "Error in shaky" in page.text
    assert "service &#39;checkout&#39; has no team" in page.text


def test_host_frames_a_body_only_card_and_leaves_a_framed_one_alone(
    tmp_path: Path, client_for: Any
) -> None:
    async def own_frame(ctx: CardContext) -> str:
        return '<section class="card mine"><div class="card-body">OWN FRAME</div></section>'

    plugin = create_plugin(id="framing", cards=[_card("fast-card", _fast),
                                                _card("own-frame", own_frame)])
    page = client_for(_portal(tmp_path, plugin)).get(ENTITY_PATH).text
    fast = page[page.index('data-card="fast-card"'):]
    assert re.match(
        r'[^>]*><section class="card" aria-labelledby="card-title-fast-card">'
        r'<header class="card-header"><h2 class="card-title" id="card-title-fast-card">Fast Card'
        r'</h2></header><div class="card-body"><p>FAST BODY</p></div></section></div>',
        fast,
    ), fast[:300]
    own = page[page.index('data-card="own-frame"'):]
    assert re.match(r'[^>]*><section class="card mine"><div class="card-body">OWN FRAME', own)


def test_card_over_its_timeout_shows_the_error_box(tmp_path: Path, client_for: Any) -> None:
    async def never(ctx: CardContext) -> str:
        await asyncio.Event().wait()
        return "<p>NEVER</p>"

    plugin = create_plugin(
        id="slowpoke", cards=[_card("never-card", never, timeout=0.05), _card("fast-card", _fast)]
    )
    page = client_for(_portal(tmp_path, plugin)).get(ENTITY_PATH)
    assert page.status_code == 200
    assert "FAST BODY" in page.text
    assert "Error in slowpoke" in page.text
    assert "No answer within 0.05 seconds" in page.text
    assert "NEVER" not in page.text


# --- actions --------------------------------------------------------------------------------------


async def _note_form(ctx: CardContext) -> str:
    note = ctx.form.get("note", "") if ctx.form_action == "save" else ""
    return (
        f'<form method="post" action="{escape(ctx.action_url("save"))}">'
        f'<input type="hidden" name="csrf_token" value="{escape(ctx.csrf_token)}">'
        f'<input name="note" value="{escape(note)}">'
        '<button class="btn">Save</button></form>'
    )


async def _save(ctx: CardContext, form: Mapping[str, str]) -> ActionResult:
    note = form.get("note", "")
    if note == "explode":
        raise RuntimeError("note store is down")
    if not note.startswith("ok"):
        return ActionResult(f"Could not save note: {note!r} must start with ok", ok=False)
    return ActionResult(f"Saved note for {ctx.entity.name}")


def _notes_plugin() -> Any:
    return create_plugin(
        id="notes", cards=[_card("notes-card", _note_form, actions={"save": _save})]
    )


ACTION_PATH = f"{ENTITY_PATH}/actions/notes-card/save"


def test_action_without_csrf_token_is_refused_and_input_kept(
    tmp_path: Path, client_for: Any
) -> None:
    client = client_for(_portal(tmp_path, _notes_plugin()))
    client.get(ENTITY_PATH)
    response = client.post(ACTION_PATH, data={"note": "ok typed text"}, follow_redirects=False)
    assert response.status_code == 403
    assert "alert alert-error" in response.text
    assert "Your session expired or the form was sent from elsewhere" in response.text
    assert 'value="ok typed text"' in response.text
    assert "Saved note" not in response.text


def test_action_with_a_wrong_csrf_token_is_refused(tmp_path: Path, client_for: Any) -> None:
    client = client_for(_portal(tmp_path, _notes_plugin()))
    client.get(ENTITY_PATH)
    response = client.post(
        ACTION_PATH, data={"note": "ok", "csrf_token": "forged-" + "x" * 40},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_successful_action_redirects_and_shows_the_alert_once(
    tmp_path: Path, client_for: Any
) -> None:
    client = client_for(_portal(tmp_path, _notes_plugin()))
    token = _csrf(client)

    response = client.post(
        ACTION_PATH, data={"note": "ok all good", "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == ENTITY_PATH

    shown = client.get(ENTITY_PATH)
    assert "alert alert-success" in shown.text
    assert "Saved note for checkout" in shown.text
    again = client.get(ENTITY_PATH)
    # The alert is gone (the entity page's Recent actions still lists the action).
    assert "alert alert-success" not in again.text


def test_failed_action_shows_the_alert_and_keeps_the_typed_input(
    tmp_path: Path, client_for: Any
) -> None:
    client = client_for(_portal(tmp_path, _notes_plugin()))
    token = _csrf(client)
    response = client.post(
        ACTION_PATH, data={"note": "not <good>", "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 400
    assert "alert alert-error" in response.text
    assert "Could not save note: &#39;not &lt;good&gt;&#39; must start with ok" in response.text
    assert 'value="not &lt;good&gt;"' in response.text


def test_action_that_raises_shows_error_in_plugin_and_keeps_input(
    tmp_path: Path, client_for: Any
) -> None:
    client = client_for(_portal(tmp_path, _notes_plugin()))
    response = client.post(
        ACTION_PATH, data={"note": "explode", "csrf_token": _csrf(client)},
        follow_redirects=False,
    )
    assert response.status_code == 400
    assert "Error in notes: RuntimeError: note store is down" in response.text
    assert 'value="explode"' in response.text


def test_unknown_action_is_refused(tmp_path: Path, client_for: Any) -> None:
    client = client_for(_portal(tmp_path, _notes_plugin()))
    response = client.post(
        f"{ENTITY_PATH}/actions/notes-card/delete",
        data={"csrf_token": _csrf(client)}, follow_redirects=False,
    )
    assert response.status_code == 404
    assert "No action &#39;delete&#39; on card &#39;notes-card&#39;" in response.text


# --- JSON API -------------------------------------------------------------------------------------


def _routes(apis: ApiHolder) -> APIRouter:
    router = APIRouter()

    @router.get("/status")
    async def status() -> dict[str, str]:
        return {"status": "fine"}

    return router


def test_host_and_plugin_routes_are_in_openapi(tmp_path: Path, client_for: Any) -> None:
    plugin = create_plugin(id="notes", routes=_routes)
    client = client_for(_portal(tmp_path, plugin))
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/plugins", "/api/catalog/entities", "/healthz", "/api/notes/status"):
        assert "get" in paths[path], path
    assert client.get("/api/notes/status").json() == {"status": "fine"}

    entities = client.get("/api/catalog/entities").json()
    assert [e["ref"] for e in entities["items"]] == ["component:default/checkout"]
    assert entities["items"][0]["url"] == ENTITY_PATH
    assert client.get("/healthz").json() == {"status": "ok", "plugins": {"notes": "enabled"}}
    assert client.get("/api/plugins").json()[0]["id"] == "notes"


# --- secrets --------------------------------------------------------------------------------------


def _header(ctx: CardContext) -> str:
    return str(ctx.apis.get(config_api_ref).get("proxy.endpoints./vendor.headers.Authorization"))


async def _leaky_render(ctx: CardContext) -> str:
    raise RuntimeError(f"upstream refused {_header(ctx)}")


async def _leaky_action(ctx: CardContext, form: Mapping[str, str]) -> ActionResult:
    return ActionResult(f"Failed to trigger alarm. Refused with {_header(ctx)}", ok=False)


async def _leaky_success(ctx: CardContext, form: Mapping[str, str]) -> ActionResult:
    return ActionResult(f"Triggered using {_header(ctx)}")


@pytest.fixture
def leaky_client(tmp_path: Path, client_for: Any) -> TestClient:
    """A portal whose plugin carelessly puts the proxy's token into errors and alerts."""
    plugin = create_plugin(
        id="leaky", routes=_routes,
        cards=[
            _card("leaky-card", _leaky_render,
                  actions={"fail": _leaky_action, "succeed": _leaky_success}),
            _card("fast-card", _fast),
        ],
    )
    portal = _portal(tmp_path, plugin)
    # The secret is really in the effective config, so the checks below are not vacuous.
    assert SECRET in portal.config.get("proxy.endpoints./vendor.headers.Authorization")
    client: TestClient = client_for(portal)
    client.get("/")
    return client


def test_config_secrets_never_appear_in_pages_or_json(leaky_client: TestClient) -> None:
    bodies = {
        path: leaky_client.get(path).text
        for path in ("/", ENTITY_PATH, "/api/plugins", "/api/catalog/entities", "/healthz",
                     "/openapi.json", "/api/leaky/status", f"{ENTITY_PATH}/cards/leaky-card")
    }
    assert "Error in leaky" in bodies[ENTITY_PATH]
    assert "upstream refused" in bodies[ENTITY_PATH]
    assert "FAST BODY" in bodies[ENTITY_PATH]
    for where, body in bodies.items():
        assert SECRET not in body, where


def test_config_secrets_never_appear_in_action_alerts(leaky_client: TestClient) -> None:
    token = _csrf(leaky_client)
    failed = leaky_client.post(
        f"{ENTITY_PATH}/actions/leaky-card/fail", data={"csrf_token": token},
        follow_redirects=False,
    )
    assert "Failed to trigger alarm. Refused with" in failed.text
    assert SECRET not in failed.text
    leaky_client.post(
        f"{ENTITY_PATH}/actions/leaky-card/succeed", data={"csrf_token": token},
        follow_redirects=False,
    )
    flashed = leaky_client.get(ENTITY_PATH).text
    assert "Triggered using" in flashed
    assert SECRET not in flashed


def test_config_secrets_never_appear_in_logs(
    leaky_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert "Error in leaky" in leaky_client.get(ENTITY_PATH).text
    assert "upstream refused" in caplog.text
    assert SECRET not in caplog.text


def test_config_secrets_never_appear_in_plugin_errors(
    tmp_path: Path, client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def connect(config: Any) -> object:
        header = config.get("proxy.endpoints./vendor.headers.Authorization")
        raise ConnectionError(f"could not log in with {header}")

    plugin = create_plugin(
        id="leaky",
        apis=[create_api_factory(
            api=create_api_ref("plugin.leaky.api"), deps={"config": config_api_ref},
            factory=connect,
        )],
    )
    client = client_for(_portal(tmp_path, plugin))
    record = client.get("/api/plugins").json()[0]
    assert record["state"] == "failed"
    assert "could not log in with" in record["error"]
    assert SECRET not in record["error"]
    assert "could not log in with" in caplog.text
    assert SECRET not in caplog.text

"""The one session: flash alerts and CSRF tokens signed with ``app.secret``, checked by one
dependency, and accepted by every process that shares the secret."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from greenroom import ActionResult, Card, CardContext, create_plugin
from greenroom._portal import build_portal
from greenroom.web import create_app
from greenroom.web._session import SESSION_COOKIE

ENTITY = "/catalog/default/component/checkout"
ACTION = f"{ENTITY}/actions/notes-card/save"
SECRET = "one-secret-for-every-replica-0123456789abcdef"
HERE = Path(__file__).parent


def _write_config(folder: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        "metadata: {name: checkout}\nspec: {type: service, owner: team-a}\n"
    )
    path = folder / "app-config.yaml"
    path.write_text(
        "catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n" + extra
    )
    return path


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


# --- in one process ------------------------------------------------------------------------------


async def _render(ctx: CardContext) -> str:
    return f'<form><input type="hidden" name="csrf_token" value="{escape(ctx.csrf_token)}"></form>'


async def _save(ctx: CardContext, form: Any) -> ActionResult:
    return ActionResult(f"Saved {form.get('note', '')}")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    plugin = create_plugin(
        id="notes",
        cards=[Card(id="notes-card", title="Notes", render=_render, actions={"save": _save})],
    )
    portal = build_portal(
        [_write_config(tmp_path)], plugins=[plugin], load_entry_points=False, demo=False
    )
    with TestClient(create_app(portal)) as test_client:
        yield test_client


def test_a_cookie_value_equal_to_the_form_field_no_longer_passes(client: TestClient) -> None:
    client.get(ENTITY)
    forged = "x" * 43
    client.cookies.set("greenroom_csrf", forged)
    response = client.post(ACTION, data={"note": "a", "csrf_token": forged})
    assert response.status_code == 403
    # Nor does the session cookie's own value copied into the form.
    session = client.cookies[SESSION_COOKIE]
    assert client.post(ACTION, data={"note": "a", "csrf_token": session}).status_code == 403


def test_a_token_from_another_session_is_refused(client: TestClient) -> None:
    theirs = _token(client.get(ENTITY).text)
    mine = TestClient(client.app)
    mine.get(ENTITY)
    response = mine.post(ACTION, data={"note": "a", "csrf_token": theirs}, follow_redirects=False)
    assert response.status_code == 403
    assert "Your session expired or the form was sent from elsewhere" in response.text


def test_the_token_may_come_in_a_header_for_scripts(client: TestClient) -> None:
    token = _token(client.get(ENTITY).text)
    response = client.post(
        ACTION, data={"note": "by script"}, headers={"X-CSRF-Token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "Saved by script" in client.get(ENTITY).text


def test_the_session_cookie_is_http_only_and_same_site(client: TestClient) -> None:
    cookie = client.get(ENTITY).headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()


# --- across processes ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Process:
    def __init__(self, config: Path, data: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile("w+")
        env = {**os.environ, "GREENROOM_DATA": str(data)}
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "_action_portal.py"), str(config), str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )

    def wait(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"portal exited early:\n{self.log.read()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("portal did not answer /healthz within 90 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture
def processes() -> Iterator[Any]:
    started: list[_Process] = []

    def start(*pairs: tuple[Path, Path]) -> list[_Process]:
        group = [_Process(config, data) for config, data in pairs]
        started.extend(group)
        for process in group:  # started together: both may try to create the secret at once
            process.wait()
        return group

    yield start
    for process in started:
        process.stop()


def _session_cookie(response: httpx.Response) -> str:
    value = response.cookies.get(SESSION_COOKIE)
    assert value, f"no {SESSION_COOKIE} cookie set"
    return value


@pytest.mark.parametrize("secret_from", ["config", "data folder"])
def test_a_flash_and_a_csrf_token_from_one_process_work_in_another(
    tmp_path: Path, processes: Any, secret_from: str
) -> None:
    if secret_from == "config":
        # Two replicas on separate machines: only the configured app.secret is shared.
        config = _write_config(tmp_path / "cfg", f"app:\n  secret: {SECRET}\n")
        pairs = [(config, tmp_path / "data-a"), (config, tmp_path / "data-b")]
    else:
        # Two workers on one machine: the first generates the secret, both use it.
        config = _write_config(tmp_path / "cfg")
        pairs = [(config, tmp_path / "data"), (config, tmp_path / "data")]
    first, second = processes(*pairs)

    page = httpx.get(first.url + ENTITY, timeout=30)
    session = _session_cookie(page)
    token = _token(page.text)

    action = httpx.post(
        second.url + ACTION, data={"csrf_token": token}, cookies={SESSION_COOKIE: session},
        timeout=30,
    )
    assert action.status_code == 303, action.text
    flashed_session = _session_cookie(action)

    shown = httpx.get(first.url + ENTITY, cookies={SESSION_COOKIE: flashed_session}, timeout=30)
    assert f"Saved by process {second.process.pid}" in shown.text
    assert "alert-success" in shown.text


def test_a_process_with_another_secret_refuses_the_token(tmp_path: Path, processes: Any) -> None:
    one = _write_config(tmp_path / "one", f"app:\n  secret: {SECRET}\n")
    other = _write_config(tmp_path / "other", f"app:\n  secret: {SECRET[::-1]}\n")
    first, second = processes((one, tmp_path / "data-a"), (other, tmp_path / "data-b"))
    page = httpx.get(first.url + ENTITY, timeout=30)
    action = httpx.post(
        second.url + ACTION, data={"csrf_token": _token(page.text)},
        cookies={SESSION_COOKIE: _session_cookie(page)}, timeout=30,
    )
    assert action.status_code == 403

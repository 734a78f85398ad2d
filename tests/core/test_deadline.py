"""Plugin code on a deadline: a hanging or blocking predicate, render or start-up hook costs its
own plugin only, the event loop keeps serving others, and SIGTERM stops the portal."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from greenroom import Card, CardContext, create_plugin
from greenroom._deadline import PluginTimeoutError, call_plugin
from greenroom._portal import build_portal
from greenroom.web import create_app

ENTITY_PATH = "/catalog/default/component/checkout"


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at the end of the test, so blocked worker threads finish."""
    event = threading.Event()
    yield event
    event.set()


async def test_an_async_call_that_swallows_cancellation_is_given_up_at_its_deadline(
    release: threading.Event,
) -> None:
    async def stubborn() -> str:
        while not release.is_set():  # set at the end, so the test's loop can close
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                continue  # a badly written plugin
        return "too late"

    with pytest.raises(PluginTimeoutError, match="predicate of card x did not answer"):
        await call_plugin(stubborn, timeout=0.2, what="predicate of card x")
    release.set()


async def test_a_blocking_call_runs_off_the_event_loop(release: threading.Event) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    running = asyncio.ensure_future(ticker())
    with pytest.raises(PluginTimeoutError):
        await call_plugin(release.wait, 3600, timeout=0.5, what="blocking predicate")
    running.cancel()
    # The loop went on serving while the plugin's thread was stuck.
    assert ticks > 5
    assert await call_plugin(lambda e: e == "ok", "ok", timeout=5, what="quick") is True


async def test_a_sync_function_returning_a_coroutine_is_awaited() -> None:
    async def answer() -> int:
        return 42

    assert await call_plugin(lambda: answer(), timeout=5, what="factory") == 42


def _config(tmp_path: Path) -> Path:
    (tmp_path / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        "metadata: {name: checkout}\nspec: {type: service, owner: team-a}\n"
    )
    config = tmp_path / "app-config.yaml"
    config.write_text("catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n")
    return config


async def _fine(ctx: CardContext) -> str:
    return "<p>FINE CARD</p>"


@pytest.mark.parametrize("kind", ["blocking", "async-hang", "swallows-cancel"])
def test_a_hanging_predicate_costs_only_its_own_plugin(
    tmp_path: Path, release: threading.Event, kind: str
) -> None:
    async def async_hang(entity: object) -> bool:
        await asyncio.sleep(3600)
        return True

    async def swallow(entity: object) -> bool:
        while not release.is_set():
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                continue
        return False

    predicate = {
        "blocking": lambda entity: release.wait(3600),
        "async-hang": async_hang,
        "swallows-cancel": swallow,
    }[kind]
    hanging = create_plugin(
        id="hanging",
        cards=[Card(id="hanging", title="Hanging", render=_fine, is_available=predicate,
                    timeout=0.5)],
    )
    fine = create_plugin(id="fine", cards=[Card(id="fine", title="Fine", render=_fine)])
    portal = build_portal(
        [_config(tmp_path)], plugins=[hanging, fine], load_entry_points=False, demo=False
    )
    with TestClient(create_app(portal)) as client:
        page = client.get(ENTITY_PATH)
        assert page.status_code == 200 and "FINE CARD" in page.text
        assert client.get("/").status_code == 200
        plugins = {p["id"]: p for p in client.get("/api/plugins").json()}
        assert plugins["hanging"]["state"] == "failed"
        assert "did not answer within 0.5 seconds" in plugins["hanging"]["error"]
        assert plugins["fine"]["state"] == "enabled"
        release.set()  # lets the stuck calls end before the client's loop closes


def test_a_hanging_start_up_hook_fails_its_plugin_and_the_portal_serves(
    tmp_path: Path, release: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    import greenroom._portal as portal_module

    monkeypatch.setattr(portal_module, "STARTUP_TIMEOUT", 0.5)
    stuck = create_plugin(id="stuck", on_startup=lambda apis: release.wait(3600))
    fine = create_plugin(id="fine", cards=[Card(id="fine", title="Fine", render=_fine)])
    portal = build_portal(
        [_config(tmp_path)], plugins=[stuck, fine], load_entry_points=False, demo=False
    )
    with TestClient(create_app(portal)) as client:
        assert "FINE CARD" in client.get(ENTITY_PATH).text
        states = {p["id"]: p["state"] for p in client.get("/api/plugins").json()}
        assert states == {"stuck": "failed", "fine": "enabled"}


# -- SIGTERM with a plugin stuck in a predicate ------------------------------------------------

HANG_PLUGIN = '''
import time

from greenroom import Card, create_plugin


def never(entity):
    time.sleep(3600)  # blocks whatever thread runs it
    return True


async def render(ctx):
    return "<p>never</p>"


plugin = create_plugin(
    id="hang", cards=[Card(id="hang", title="Hang", render=render, is_available=never)]
)
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sigterm_stops_a_portal_whose_plugin_predicate_hangs(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "hangplugin-0.1.dist-info").mkdir(parents=True)
    (site / "hangplugin.py").write_text(HANG_PLUGIN)
    (site / "hangplugin-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: hangplugin\nVersion: 0.1\n"
    )
    (site / "hangplugin-0.1.dist-info" / "entry_points.txt").write_text(
        "[greenroom]\nhang = hangplugin:plugin\n"
    )
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("GREENROOM_CONFIG", "GREENROOM_STRICT")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env["GREENROOM_DATA"] = tempfile.mkdtemp(prefix="greenroom-data-", dir=tmp_path)
    config = _config(tmp_path)
    log = (tmp_path / "portal.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "greenroom.cli", "serve", "--port", str(port),
         "--config", str(config)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "portal.log").read_text()
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the portal did not start"
            time.sleep(0.2)
        # A page is in flight, its predicate stuck, when the orchestrator asks it to stop.
        def view() -> None:
            try:
                httpx.get(url + ENTITY_PATH, timeout=60)
            except httpx.HTTPError:
                pass  # the portal may close it while stopping

        pending = threading.Thread(target=view, daemon=True)
        pending.start()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        # Before, the predicate blocked the event loop and only SIGKILL ended the portal.
        assert process.wait(timeout=60) is not None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


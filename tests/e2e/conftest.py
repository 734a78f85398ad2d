"""Browser tests: a real portal (`greenroom serve`, as the README runs it) driven by Playwright in
Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("GREENROOM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PortalProcess:
    """`greenroom serve` in a subprocess, on a free loopback port."""

    def __init__(self, config_paths: list[Path] | None = None, *, demo: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "greenroom.cli", "serve", "--port", str(self.port)]
        for path in config_paths or []:
            args += ["--config", str(path)]
        if demo:
            args.append("--demo")
        self.log = tempfile.NamedTemporaryFile("w+", prefix="greenroom-", suffix=".log")
        env = {k: v for k, v in os.environ.items() if k != "GREENROOM_CONFIG"}
        # Its own data folder (app secret), not the checkout's shared `.greenroom/`.
        env["GREENROOM_DATA"] = tempfile.mkdtemp(prefix="greenroom-data-")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"portal exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"portal did not answer /healthz within 60 s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


@pytest.fixture(scope="session")
def demo_portal() -> Iterator[str]:
    """Base URL of the one-command demo (`greenroom serve`, no config)."""
    portal = PortalProcess()
    yield portal.url
    portal.stop()


@pytest.fixture
def start_portal(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start a portal with a config text (merged over the demo when ``demo=True``)."""
    started: list[PortalProcess] = []

    def start(config_text: str, *, demo: bool = True) -> str:
        path = tmp_path / f"app-config-{len(started)}.yaml"
        path.write_text(config_text)
        portal = PortalProcess([path], demo=demo)
        started.append(portal)
        return portal.url

    yield start
    for portal in started:
        portal.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # Module scope, not session: Playwright's sync API keeps an event loop running in this thread
    # while it is started, and the asyncio tests that run after the browser tests need it gone.
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        reason = f"Chromium not found at {CHROMIUM}: apt-get install chromium (.ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    SCREENSHOTS.mkdir(exist_ok=True)
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    except Exception:  # noqa: BLE001 - a screenshot is a courtesy, never a failure
        pass
    context.close()


def incident_page_path(page: Any, base: str, path: str) -> str:
    """``detail:<provider>``: the page of the provider's first open incident (ids are the
    simulator's, found as a person would, from /incidents); any other path as it is."""
    if not path.startswith("detail:"):
        return path
    page.goto(f"{base}/incidents?provider={path.removeprefix('detail:')}")
    href = page.locator("li.incident a:has(strong)").first.get_attribute("href")
    assert href and href.startswith("/incidents/"), href
    return href

"""Secrets never leave: a crawl of every page, fragment, form and JSON API of a portal whose
vendors echo the request headers back finds none of its credentials, and neither does the log
at DEBUG. Plus the scrubber's own edges: escaped forms, and secrets split across stream chunks."""

from __future__ import annotations

import json
import logging
import re
import textwrap
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import uvicorn
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from greenroom import Card, CardContext, create_plugin
from greenroom._portal import build_portal
from greenroom._scrub import REDACTED, Scrubber, ScrubbingMiddleware, _scrub_record
from greenroom.web import create_app

PD_TOKEN = "pdtok-Zq81-echoed-secret"
VO_ID = "void-4411-echoed-secret"
VO_KEY = "vokey-9d2c-echoed-secret"
REST_KEY = "restkey-77aa-echoed-secret"
SECRETS = (PD_TOKEN, VO_ID, VO_KEY, REST_KEY)


# -- an upstream that echoes what it was sent ------------------------------------------------


async def _echo(request: Request) -> JSONResponse:
    body = (await request.body()).decode("utf-8", "replace")
    seen = {
        "url": str(request.url),
        "headers": dict(request.headers),
        "body": body,
    }
    text = json.dumps(seen)
    # Error shapes of both vendors, each carrying the echo where a client shows the message.
    return JSONResponse(
        {
            "error": {"message": f"Upstream refused: {text}", "code": 2001,
                      "errors": [f"request was {text}"]},
            "message": f"Upstream refused: {text}",
        },
        status_code=500 if request.method == "GET" else 400,
    )


def _serve(app: Any) -> Iterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "echo server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def echo_url() -> Iterator[str]:
    app = Starlette(routes=[Route("/{path:path}", _echo, methods=["GET", "POST", "PUT"])])
    yield from _serve(app)


CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout
  annotations:
    pagerduty.com/service-id: PCHECK1
    splunk.com/on-call-routing-key: checkout
spec: {type: service, lifecycle: production, owner: team-shop}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
  annotations:
    pagerduty.com/integration-key: integration-key-0001
    splunk.com/on-call-team: payments
spec: {type: service, lifecycle: production, owner: team-pay}
"""


@pytest.fixture
def leaky_portal(tmp_path: Path, echo_url: str) -> Iterator[TestClient]:
    (tmp_path / "catalog-info.yaml").write_text(CATALOG)
    config = tmp_path / "app-config.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            catalog:
              locations: [{{type: file, target: catalog-info.yaml}}]
            proxy:
              endpoints:
                /pagerduty:
                  target: {echo_url}/pd
                  headers:
                    Authorization: Token token=${{PD_TOKEN}}
                /splunk-on-call:
                  target: {echo_url}/vo
                  headers:
                    X-VO-Api-Id: ${{VO_ID}}
                    X-VO-Api-Key: ${{VO_KEY}}
            pagerDuty:
              eventsBaseUrl: {echo_url}/events
            splunkOnCall:
              eventsRestEndpoint: {echo_url}/integrations/generic/20131114/alert/${{REST_KEY}}
            coverage:
              rules:
                - name: prod
                  kinds: [Component]
                  lifecycles: [production]
            """
        )
    )
    env = {"PD_TOKEN": PD_TOKEN, "VO_ID": VO_ID, "VO_KEY": VO_KEY, "REST_KEY": REST_KEY}
    portal = build_portal([config], env=env, demo=False, plugins=[_csrf_probe()])
    with TestClient(create_app(portal)) as client:
        yield client


def _csrf_probe() -> Any:
    """A card whose form gives the crawler a valid CSRF token for posting the vendors' actions
    (their cards show only error boxes while the vendors fail)."""

    async def render(ctx: CardContext) -> str:
        return (
            '<form method="post" action="/probe-form">'
            f'<input type="hidden" name="csrf_token" value="{ctx.csrf_token}"></form>'
        )

    probe = Card(id="csrf-probe", title="Probe", render=render)
    return create_plugin(id="csrf-probe", cards=[probe])


PATH_VALUES = {"namespace": "default", "kind": "component", "name": "checkout",
               "ref": "component:default/checkout", "entity_ref": "component:default/checkout"}
ACTIONS = {
    "pagerduty": {
        "trigger": {"description": "disk full"},
        "acknowledge": {"incident_id": "Q1"},
        "resolve": {"incident_id": "Q1"},
    },
    "splunk-on-call": {
        "trigger": {"display_name": "Disk full", "message": "disk", "incident_type": "CRITICAL"},
        "acknowledge": {"incident": "1"},
        "resolve": {"incident": "1"},
    },
}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._form: tuple[str, dict[str, str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form" and a.get("method", "get").lower() == "post":
            self._form = (a.get("action", ""), {})
            self.forms.append(self._form)
        elif tag in ("input", "textarea", "select") and self._form is not None and a.get("name"):
            value = a.get("value") or ("" if a.get("type") == "hidden" else "crawl text")
            self._form[1].setdefault(a["name"], value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def _crawl(client: TestClient) -> dict[str, str]:
    """Every same-site page reachable from the start pages, every form posted once, and every
    JSON GET in the OpenAPI document: url -> body."""
    seen: dict[str, str] = {}
    queue = ["/", "/incidents", "/oncall", "/plugins", "/coverage", "/healthz", "/openapi.json"]
    posted: set[str] = set()
    paths: set[str] = set()
    while queue and len(seen) < 200:
        url = queue.pop(0)
        # One visit per path: filter and tag links differ only in their query.
        if url in seen or urlsplit(url).path in paths:
            continue
        paths.add(urlsplit(url).path)
        response = client.get(url, headers={"accept": "text/html"}, follow_redirects=True)
        seen[url] = response.text
        if "html" not in response.headers.get("content-type", ""):
            continue
        parser = _Links()
        parser.feed(response.text)
        for href in parser.links:
            parts = urlsplit(urljoin(url, href))
            if parts.netloc in ("", "testserver") and not parts.path.startswith("/static"):
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        for action, fields in parser.forms:
            target = urljoin(url, action)
            if target in posted:
                continue
            posted.add(target)
            answer = client.post(target, data=fields, follow_redirects=True)
            seen[f"POST {target}"] = answer.text
    entity_page = seen["/catalog/default/component/checkout"]
    token = re.search(r'name="csrf_token" value="([^"]+)"', entity_page)
    assert token, "the probe card's form carries a CSRF token"
    for name in ("checkout", "payments"):
        for card_id, actions in ACTIONS.items():
            fragment = f"/catalog/default/component/{name}/cards/{card_id}"
            seen[fragment] = client.get(fragment).text
            for action, fields in actions.items():
                target = f"/catalog/default/component/{name}/actions/{card_id}/{action}"
                answer = client.post(
                    target, data={**fields, "csrf_token": token.group(1)}, follow_redirects=True
                )
                seen[f"POST {target}"] = answer.text
    for provider in ACTIONS:
        for action in ("acknowledge", "resolve"):
            target = f"/incidents/actions/{provider}/{action}"
            answer = client.post(
                target,
                data={"csrf_token": token.group(1), "entity": "component:default/checkout",
                      "incident": "Q1"},
                follow_redirects=True,
            )
            seen[f"POST {target}"] = answer.text
    openapi = json.loads(seen["/openapi.json"])
    refs = ["component:default/checkout", "component:default/payments"]
    for path, operations in openapi["paths"].items():
        if "get" not in operations or path.startswith("/api/proxy"):
            continue
        names = re.findall(r"{(\w+)}", path)
        concrete = re.sub(r"{(\w+)}", lambda m: PATH_VALUES.get(m.group(1), "checkout"), path)
        seen[concrete] = client.get(concrete).text
        if not names:
            seen[concrete + "?entity=" + refs[1]] = client.get(
                concrete, params={"entity": refs[1]}
            ).text
    return seen


def test_a_crawl_of_every_page_and_api_finds_no_echoed_secret(
    leaky_portal: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pages = _crawl(leaky_portal)
    # Whatever logger writes a secret, at any level (httpx logs each request's URL, and the
    # Splunk On-Call REST endpoint's path is its key).
    logging.getLogger("httpx").debug(
        "HTTP Request: POST %s", f"http://x/integrations/generic/20131114/alert/{REST_KEY}"
    )
    logging.getLogger("aiohttp.client").info("sent Authorization: Token token=" + PD_TOKEN)
    # The crawl did reach the vendors' error text (otherwise it proves nothing).
    assert any("Upstream refused" in body or REDACTED in body for body in pages.values())
    assert len(pages) >= 15
    leaking = {url: _leaks(body) for url, body in pages.items() if _leaks(body)}
    assert leaking == {}
    logged = "\n".join(
        [r.getMessage() for r in caplog.records]
        + [r.exc_text or "" for r in caplog.records]
        + [caplog.text]
    )
    assert _leaks(logged) == []


# -- the scrubber's edges ---------------------------------------------------------------------


def test_escaped_forms_of_a_secret_are_scrubbed_too() -> None:
    scrubber = Scrubber(["Token token=a'b\"c&d/e"])
    for shown in [
        "Token token=a'b\"c&d/e",
        "Token token=a&#x27;b&quot;c&amp;d/e",
        'Token token=a\'b\\"c&d/e',
        "Token%20token%3Da%27b%22c%26d%2Fe",
    ]:
        assert scrubber.scrub(f"<p>{shown}</p>") == f"<p>{REDACTED}</p>", shown


def test_a_secret_split_across_streamed_chunks_is_still_scrubbed() -> None:
    secret = "split-secret-0123456789"

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html")]})
        for chunk in (b"<p>head</p><p>split-sec", b"ret-0123", b"456789</p>", b""):
            await send({"type": "http.response.body", "body": chunk, "more_body": bool(chunk)})

    def handler(request: Request) -> StreamingResponse:  # pragma: no cover - unused
        raise AssertionError

    client = TestClient(ScrubbingMiddleware(app, Scrubber([secret])))
    body = client.get("/").text
    assert secret not in body
    assert body == f"<p>head</p><p>{REDACTED}</p>"


def test_a_sized_json_body_gets_its_new_length() -> None:
    secret = "json-secret-abcdef"

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await JSONResponse({"detail": f"upstream said {secret}"})(scope, receive, send)

    response = TestClient(ScrubbingMiddleware(app, Scrubber([secret]))).get("/")
    assert response.json() == {"detail": f"upstream said {REDACTED}"}
    assert int(response.headers["content-length"]) == len(response.content)


def test_log_records_are_scrubbed_whatever_their_arguments() -> None:
    scrubber = Scrubber(["log-secret-424242"])
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s"',
        ("127.0.0.1", "GET", "/x?token=log-secret-424242"), None,
    )
    _scrub_record(record, scrubber)
    assert "log-secret-424242" not in record.getMessage()
    assert isinstance(record.args, tuple) and len(record.args) == 3
    try:
        raise RuntimeError("failed with log-secret-424242")
    except RuntimeError:
        import sys

        failed = logging.LogRecord("x", logging.ERROR, __file__, 1, "oops", (), sys.exc_info())
    _scrub_record(failed, scrubber)
    assert failed.exc_text and "log-secret-424242" not in failed.exc_text


def test_cli_output_is_scrubbed_of_a_built_portals_secrets(tmp_path: Path) -> None:
    import io

    from greenroom._scrub import ScrubbingStream

    config = tmp_path / "app-config.yaml"
    config.write_text(
        "proxy:\n  endpoints:\n    /vendor:\n      target: http://127.0.0.1:9\n"
        "      headers: {Authorization: 'Token token=${CLI_TOKEN}'}\n"
    )
    build_portal([config], env={"CLI_TOKEN": "cli-token-31337"}, demo=False,
                 load_entry_points=False)
    out = io.StringIO()
    ScrubbingStream(out).write("failed: Token token=cli-token-31337\n")
    assert out.getvalue() == f"failed: {REDACTED}\n"

"""Browser hardening: CSP and friends on every response, same-origin state changes, relative
redirects, the public host only when `app.baseUrl` is set, and Secure cookies over https."""

from __future__ import annotations

import base64
import hashlib
import re
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from greenroom import ActionResult, Card, CardContext, create_plugin
from greenroom._portal import build_portal
from greenroom.web import create_app
from greenroom.web._browser_security import _relative

ENTITY_PATH = "/catalog/default/component/checkout"
ACTION_PATH = f"{ENTITY_PATH}/actions/notes/save"
PAGES = ["/", ENTITY_PATH, "/incidents", "/oncall", "/plugins", "/coverage", "/missing-page"]


def _config(tmp_path: Path, extra: str = "") -> Path:
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
        # Guests read but never act: actions come through a trusted (loopback) proxy.
        "auth:\n  provider: proxy\n  allowGuests: true\n"
        "  proxy: {header: X-Forwarded-Email, trustedProxies: [127.0.0.1/32]}\n" + extra
    )
    return config


@pytest.fixture
def saved() -> list[Mapping[str, str]]:
    return []


@pytest.fixture
def make_client(
    tmp_path: Path, saved: list[Mapping[str, str]]
) -> Iterator[Callable[..., TestClient]]:
    async def render(ctx: CardContext) -> str:
        return (
            f'<form method="post" action="{escape(ctx.action_url("save"))}">'
            f'<input type="hidden" name="csrf_token" value="{escape(ctx.csrf_token)}">'
            '<input name="note"><button>Save</button></form>'
        )

    async def save(ctx: CardContext, form: Mapping[str, str]) -> ActionResult:
        saved.append(dict(form))
        return ActionResult("Saved")

    plugin = create_plugin(
        id="notes", cards=[Card(id="notes", title="Notes", render=render, actions={"save": save})]
    )
    clients: list[TestClient] = []

    def make(extra_config: str = "", **kwargs: object) -> TestClient:
        portal = build_portal(
            [_config(tmp_path, extra_config)], plugins=[plugin], load_entry_points=False,
            demo=False,
        )
        kwargs.setdefault("client", ("127.0.0.1", 50000))
        kwargs.setdefault("headers", {"X-Forwarded-Email": "ada@example.com"})
        client = TestClient(create_app(portal), **kwargs)  # type: ignore[arg-type]
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def _token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def _directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def test_every_page_and_json_answer_carries_the_browser_headers(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    for path in [*PAGES, "/api/plugins", "/openapi.json", "/static/greenroom.css", "/healthz"]:
        response = client.get(path, headers={"accept": "text/html"})
        assert response.headers.get("x-content-type-options") == "nosniff", path
        assert response.headers.get("referrer-policy") == "same-origin", path
        policy = _directives(response.headers["content-security-policy"])
        assert policy["frame-ancestors"] == ["'none'"], path
        assert "'unsafe-inline'" not in policy["script-src"], path
        assert "'unsafe-eval'" not in policy["script-src"], path


def test_pages_have_no_inline_script(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    for path in PAGES:
        page = client.get(path, headers={"accept": "text/html"}).text
        inline = [s for s in re.findall(r"<script([^>]*)>", page) if "src=" not in s]
        assert inline == [], path
        assert not re.search(r"\son[a-z]+=", page), f"inline event handler on {path}"


def test_the_api_docs_page_runs_only_its_own_inline_script(
    make_client: Callable[..., TestClient],
) -> None:
    response = make_client().get("/docs")
    scripts = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert scripts
    allowed = _directives(response.headers["content-security-policy"])["script-src"]
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed
    assert "'unsafe-inline'" not in allowed


def test_a_post_from_another_site_is_refused(
    make_client: Callable[..., TestClient], saved: list[Mapping[str, str]]
) -> None:
    client = make_client()
    token = _token(client.get(ENTITY_PATH).text)
    form = {"csrf_token": token, "note": "x"}
    evil = client.post(
        ACTION_PATH, data=form, headers={"origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert evil.status_code == 403 and "another origin" in evil.text
    cross = client.post(
        ACTION_PATH, data=form, headers={"sec-fetch-site": "cross-site"}, follow_redirects=False
    )
    assert cross.status_code == 403
    opaque = client.post(ACTION_PATH, data=form, headers={"origin": "null"}, follow_redirects=False)
    assert opaque.status_code == 403
    proxy = client.post("/api/proxy/anything", headers={"origin": "https://evil.example"})
    assert proxy.status_code == 403
    assert saved == []
    own = client.post(
        ACTION_PATH, data=form,
        headers={"origin": "http://testserver", "sec-fetch-site": "same-origin"},
        follow_redirects=False,
    )
    assert own.status_code == 303
    assert saved == [{"note": "x"}]


def test_redirects_are_relative_whatever_the_host_header(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    response = client.get(
        f"{ENTITY_PATH}/", headers={"host": "evil.example"}, follow_redirects=False
    )
    assert response.status_code in (307, 308)
    assert response.headers["location"] == ENTITY_PATH


@pytest.mark.parametrize("path", ["//evil.example/x/", "/\\evil.example/x/"])
def test_a_redirect_never_becomes_protocol_relative(path: str) -> None:
    location = _relative(f"http://testserver{path.rstrip('/')}", "testserver", None)
    assert location.startswith("/") and not location.startswith(("//", "/\\"))


def test_only_the_public_host_is_answered_when_base_url_is_set(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(
        "app:\n  baseUrl: https://portal.acme.example\n", base_url="https://portal.acme.example"
    )
    assert client.get("/").status_code == 200
    forged = client.get(f"{ENTITY_PATH}/", headers={"host": "evil.example"}, follow_redirects=False)
    assert forged.status_code == 400 and "evil.example" not in forged.headers.get("location", "")
    assert client.get("/healthz", headers={"host": "10.0.0.7:7007"}).status_code == 200


def test_cookies_are_secure_when_the_public_url_is_https(
    make_client: Callable[..., TestClient],
) -> None:
    plain = make_client()
    for cookie in plain.get(ENTITY_PATH).headers.get_list("set-cookie"):
        assert "secure" not in cookie.lower()
    client = make_client(
        "app:\n  baseUrl: https://portal.acme.example\n", base_url="https://portal.acme.example"
    )
    cookies = client.get(ENTITY_PATH).headers.get_list("set-cookie")
    assert cookies
    for cookie in cookies:
        assert "; secure" in cookie.lower()
    assert client.get("/").headers["strict-transport-security"].startswith("max-age=")

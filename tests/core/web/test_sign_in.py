"""Who is asking, resolved once per request by the sign-in middleware, through the real app:
pages, cards, plugin routes (``core.identity``) and the proxy all see the same identity."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from markupsafe import escape
from starlette.requests import HTTPConnection

from greenroom import ApiHolder, Card, CardContext, ConfigError, Identity, create_plugin
from greenroom import identity_api_ref as identity_ref
from greenroom._auth._settings import auth_settings
from greenroom._config import Config
from greenroom._identity import SIGN_IN_BACKENDS
from greenroom._portal import build_portal
from greenroom.web import create_app

ENTITY = "/catalog/default/component/checkout"


async def _whoami_card(ctx: CardContext) -> str:
    return f'<p class="whoami">{escape(ctx.identity.user_id)}|{escape(ctx.identity.name)}</p>'


def _routes(apis: ApiHolder) -> APIRouter:
    router = APIRouter()

    @router.get("/whoami")
    async def whoami() -> dict[str, Any]:
        me = apis.get(identity_ref).current()
        return {"id": me.user_id, "email": me.email, "authenticated": me.authenticated}

    return router


def _plugin() -> Any:
    return create_plugin(
        id="whoami", cards=[Card(id="whoami-card", title="Who", render=_whoami_card)],
        routes=_routes,
    )


def _config(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        "metadata: {name: checkout}\nspec: {type: service, owner: team-a}\n"
    )
    path = tmp_path / "app-config.yaml"
    path.write_text(
        "catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n"
        "proxy:\n  endpoints:\n    /nowhere: {target: 'http://127.0.0.1:9/x'}\n"
        + textwrap.dedent(extra)
    )
    return path


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Any]:
    clients: list[TestClient] = []

    def make(extra: str = "") -> TestClient:
        portal = build_portal(
            [_config(tmp_path, extra)], plugins=[_plugin()], load_entry_points=False, demo=False
        )
        # The TCP peer is the loopback address that HEADER_MODE trusts.
        client = TestClient(create_app(portal), client=("127.0.0.1", 50000))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


HEADER_MODE = """
auth:
  allowGuests: true
  proxy:
    trustedProxies: [127.0.0.1/32]
identity:
  header: X-Forwarded-Email
  nameHeader: X-Forwarded-User
"""


def _card_user(client: TestClient, headers: dict[str, str]) -> str:
    page = client.get(ENTITY, headers=headers).text
    return page.split('<p class="whoami">', 1)[1].split("</p>", 1)[0]


def test_two_users_with_the_same_local_part_are_two_users(make_client: Any) -> None:
    client = make_client(HEADER_MODE)
    a = client.get("/api/whoami/whoami", headers={"X-Forwarded-Email": "alice@a.com"}).json()
    b = client.get("/api/whoami/whoami", headers={"X-Forwarded-Email": "alice@b.com"}).json()
    assert a["id"] == "alice@a.com"
    assert b["id"] == "alice@b.com"
    assert a["id"] != b["id"]
    assert _card_user(client, {"X-Forwarded-Email": "alice@a.com"}).startswith("alice@a.com|")
    assert _card_user(client, {"X-Forwarded-Email": "alice@b.com"}).startswith("alice@b.com|")


def test_the_user_id_is_the_whole_address_lower_cased(make_client: Any) -> None:
    client = make_client(HEADER_MODE)
    headers = {"X-Forwarded-Email": "Alice.Smith@Example.COM", "X-Forwarded-User": "Alice Smith"}
    me = client.get("/api/whoami/whoami", headers=headers).json()
    assert me == {"id": "alice.smith@example.com", "email": "Alice.Smith@Example.COM",
                  "authenticated": True}
    assert _card_user(client, headers) == "alice.smith@example.com|Alice Smith"


def test_without_the_header_every_page_and_the_proxy_see_the_guest(make_client: Any) -> None:
    client = make_client(HEADER_MODE + "  guest: {id: visitor, name: Visitor}\n")
    assert client.get("/api/whoami/whoami").json()["id"] == "visitor"
    assert _card_user(client, {}) == "visitor|Visitor"
    refused = client.get("/api/proxy/nowhere/x")
    assert refused.status_code == 401
    # Signed in, the proxy lets the request through (to an upstream that is down).
    passed = client.get("/api/proxy/nowhere/x", headers={"X-Forwarded-Email": "bob@example.com"})
    assert passed.status_code in (502, 504)


def test_the_identity_header_counts_only_when_configured(make_client: Any) -> None:
    client = make_client()
    me = client.get("/api/whoami/whoami", headers={"X-Forwarded-Email": "ceo@example.com"}).json()
    assert me["id"] == "guest" and me["authenticated"] is False


class CountingTokenBackend:
    """A sign-in mode plugged in by name: a bearer token naming the subject."""

    def __init__(self) -> None:
        self.calls = 0

    async def authenticate(self, request: HTTPConnection) -> Identity | None:
        self.calls += 1
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token != "good-token":
            return None
        return Identity(user_id="subject-42", display_name="Token User", authenticated=True)


def test_a_sign_in_mode_plugs_in_by_name_and_is_asked_once_per_request(
    make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = CountingTokenBackend()
    monkeypatch.setitem(SIGN_IN_BACKENDS, "test-token", lambda config: [backend])
    client = make_client("auth:\n  provider: test-token\n")
    signed_in = {"Authorization": "Bearer good-token"}
    assert _card_user(client, signed_in) == "subject-42|Token User"
    # The page, its card, the base template and the CSRF token made one backend call.
    assert backend.calls == 1
    assert client.get("/api/whoami/whoami", headers=signed_in).json()["id"] == "subject-42"
    assert client.get("/api/whoami/whoami").json()["id"] == "guest"
    assert backend.calls == 3


def test_an_unknown_sign_in_mode_stops_start_up_naming_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        build_portal(
            [_config(tmp_path, "auth:\n  provider: kerberos\n")], load_entry_points=False,
            demo=False,
        )
    message = str(caught.value)
    assert "'kerberos'" in message and "auth.provider" in message
    assert "guest, oidc, proxy" in message
    assert "app-config.yaml:" in message


def test_the_older_header_mode_without_auth_proxy_stops_start_up() -> None:
    """``auth.provider: header``, the older name of ``proxy``, reads its header through
    ``auth.proxy`` too; without it every request was silently the guest."""
    with pytest.raises(ConfigError, match="auth.provider header needs auth.proxy"):
        auth_settings(Config({"auth": {"provider": "header"}}))

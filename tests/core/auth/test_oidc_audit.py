"""Signing in and out through a real OpenID Connect provider (oidc-provider-mock on loopback) is
in the audit trail: who, how it ended, the request id, and never the code, state or a token."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from .conftest import CHECKOUT, Live, csrf_of

ADA = "ada.lovelace@example.com"
AUDITOR = "sec@example.com"


@pytest.fixture(scope="module")
def identity_provider() -> Iterator[str]:
    from oidc_provider_mock import User, run_server_in_thread

    users = [
        User(sub="ada", claims={"email": ADA, "name": "Ada Lovelace", "groups": ["sre"]}),
        User(sub="sec", claims={"email": AUDITOR, "name": "Sec Auditor"}),
    ]
    with run_server_in_thread(port=0, user_claims=users, require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


def oidc_config(issuer: str, extra: str = "") -> str:
    return f"""
    auth:
      provider: oidc
      oidc: {{issuer: {issuer}, clientId: greenroom-tests, clientSecret: tests-secret-0123456789}}
    permissions:
      rules:
        - actions: [audit.read]
          allow: ["user:{AUDITOR}"]
    """ + extra


def to_identity_provider(client: httpx.Client, next_path: str = "/") -> str:
    """Start signing in; the identity provider's authorization URL the portal sends us to."""
    started = client.get("/auth/sign-in", params={"next": next_path})
    assert started.status_code in (302, 303), started.text
    return started.headers["location"]


def answer(authorize_url: str, form: dict[str, str]) -> str:
    """Submit the identity provider's form (a user's button, or Deny); the callback URL it sends
    the browser back to."""
    reply = httpx.post(authorize_url, data=form, follow_redirects=False, timeout=60)
    assert reply.status_code in (302, 303), reply.text
    return reply.headers["location"]


def sign_in(client: httpx.Client, sub: str, next_path: str = "/") -> tuple[httpx.Response, str]:
    """Sign in as ``sub``: the callback's response and the callback URL (with code and state)."""
    back = answer(to_identity_provider(client, next_path), {"sub": sub})
    return client.get(back, follow_redirects=False), back


def auth_entries(live: Live) -> list[dict[str, Any]]:
    with live.client() as auditor:
        response, _ = sign_in(auditor, "sec")
        assert response.status_code == 303
        found = auditor.get("/api/audit", params={"action": "auth.*"})
        assert found.status_code == 200, found.text
        return list(found.json()["entries"])


def test_signing_in_and_out_is_recorded_with_the_user_and_request_id(
    live_portal: Callable[[str], Live], identity_provider: str,
) -> None:
    live = live_portal(oidc_config(identity_provider))
    with live.client() as client:
        response, callback_url = sign_in(client, "ada", CHECKOUT)
        assert response.status_code == 303 and response.headers["location"] == CHECKOUT
        page = client.get(CHECKOUT)
        assert page.status_code == 200 and "Ada Lovelace" in page.text
        signed_out = client.post(
            "/auth/sign-out", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
        )
        assert signed_out.status_code == 303

    entries = auth_entries(live)
    ada = [e for e in entries if e["actor"]["id"] == ADA]
    assert [(e["action"], e["outcome"]) for e in ada] == [
        ("auth.sign-out", "succeeded"), ("auth.sign-in", "succeeded"),
    ]
    for entry in ada:
        assert entry["actor"]["email"] == ADA and entry["actor"]["via"] == "oidc"
        assert entry["request_id"], "each entry names the request that made it"
    assert identity_provider in ada[1]["summary"] and "sre" in ada[1]["summary"]
    # Neither the authorization code nor the state is kept anywhere in the trail.
    query = parse_qs(urlsplit(callback_url).query)
    kept = json.dumps(entries)
    for secret in (query["code"][0], query["state"][0]):
        assert secret not in kept

    with live.client() as auditor:
        sign_in(auditor, "sec")
        table = auditor.get("/audit", params={"actor": ADA}).text
    assert 'data-action="auth.sign-in"' in table and 'data-action="auth.sign-out"' in table
    assert "Sign-in" in table and "Sign-out" in table
    assert ada[0]["request_id"] in table


def test_a_failed_sign_in_is_recorded_without_the_code_or_state(
    live_portal: Callable[[str], Live], identity_provider: str,
) -> None:
    live = live_portal(oidc_config(identity_provider))
    with live.client() as client:
        # The person presses Deny at the identity provider.
        denied = client.get(answer(to_identity_provider(client), {"action": "deny"}))
        assert denied.status_code == 400
        # A callback whose state no sign-in in this browser started (forged or replayed).
        forged = client.get(
            "/auth/callback", params={"code": "stolen-code-0123456789", "state": "forged-state"}
        )
        assert forged.status_code == 400
        assert client.get("/api/incidents").status_code == 401  # still not signed in

    failed = [e for e in auth_entries(live) if e["outcome"] == "failed"]
    assert {e["action"] for e in failed} == {"auth.sign-in"}
    messages = " | ".join(e["message"] for e in failed)
    assert "access_denied" in messages
    assert "state mismatch" in messages
    assert all(e["actor"]["id"] == "guest:127.0.0.1" for e in failed)
    assert all(e["request_id"] for e in failed)
    kept = json.dumps(failed)
    assert "stolen-code-0123456789" not in kept and "forged-state" not in kept


def test_with_the_database_down_signing_in_still_works_and_is_logged_once(
    live_portal: Callable[[str], Live], identity_provider: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    live = live_portal(oidc_config(identity_provider, f"""
    app:
      secret: replicas-share-this-secret-0123456789
    database:
      url: postgresql+psycopg://greenroom:hunter2secret@127.0.0.1:{closed_port}/portal
    """))
    with caplog.at_level(logging.INFO, logger="greenroom"), live.client() as client:
        response, _ = sign_in(client, "ada", CHECKOUT)
        after = client.get(CHECKOUT, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == CHECKOUT
    assert "greenroom_session=" in response.headers.get("set-cookie", "")
    unrecorded = [r for r in caplog.records if "auth.sign-in" in r.getMessage()]
    assert len(unrecorded) == 1, [r.getMessage() for r in unrecorded]
    assert unrecorded[0].levelno == logging.ERROR
    assert "not recorded" in unrecorded[0].getMessage()
    assert "hunter2secret" not in caplog.text
    # Signed in for real: the page knows who is looking (sign-outs cannot be checked now, but
    # a session started during the outage cannot have been signed out).
    assert after.status_code == 200 and "Ada Lovelace" in after.text


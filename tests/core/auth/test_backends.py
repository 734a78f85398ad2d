"""Sign-in backends one by one: trusted proxies, signed assertions, API tokens, sessions."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
from joserfc.jwk import RSAKey
from starlette.requests import Request

from greenroom._auth._oidc import safe_next
from greenroom._auth._proxy import TrustedProxyBackend
from greenroom._auth._settings import ApiTokenSettings, ProxySettings
from greenroom._auth._tokens import ApiTokenBackend

from .conftest import signed


def _request(headers: dict[str, str], peer: str = "10.1.2.3", path: str = "/") -> Request:
    scope = {
        "type": "http", "method": "GET", "path": path, "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": (peer, 50000), "server": ("127.0.0.1", 7007), "scheme": "http",
    }
    return Request(scope)


# -- trusted proxy header ---------------------------------------------------------------------

PROXY = ProxySettings.model_validate({
    "header": "X-Forwarded-Email", "groupsHeader": "X-Forwarded-Groups",
    "trustedProxies": ["10.0.0.0/8", "::1/128"],
})


async def test_the_header_is_believed_only_from_a_trusted_peer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = TrustedProxyBackend(PROXY)
    headers = {"X-Forwarded-Email": "Ceo@Example.com", "X-Forwarded-Groups": "sre, exec"}
    trusted = await backend.authenticate(_request(headers, peer="10.9.9.9"))
    assert trusted is not None
    assert (trusted.user_id, trusted.email, trusted.groups, trusted.via) == (
        "ceo@example.com", "Ceo@Example.com", frozenset({"sre", "exec"}), "proxy",
    )
    for _ in range(3):
        assert await backend.authenticate(_request(headers, peer="192.168.1.50")) is None
    warnings = [r for r in caplog.records if "192.168.1.50" in r.getMessage()]
    assert len(warnings) == 1  # logged once per peer


async def test_an_empty_trusted_list_trusts_nobody() -> None:
    backend = TrustedProxyBackend(ProxySettings.model_validate({"header": "X-Forwarded-Email"}))
    request = _request({"X-Forwarded-Email": "ceo@example.com"}, peer="127.0.0.1")
    assert await backend.authenticate(request) is None


# -- signed assertions ------------------------------------------------------------------------


def _assertion(key: RSAKey, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": "https://proxy.example.com", "aud": "/projects/1/greenroom",
        "email": "alice@example.com", "iat": now, "exp": now + 300, "groups": ["sre"],
    }
    claims.update(overrides)
    return signed(key, claims)


def _jwt_backend(jwks_url: str) -> TrustedProxyBackend:
    return TrustedProxyBackend(ProxySettings.model_validate({
        "trustedProxies": ["10.0.0.0/8"],
        "jwt": {
            "header": "X-Goog-IAP-JWT-Assertion", "jwksUrl": jwks_url,
            "issuer": "https://proxy.example.com", "audience": "/projects/1/greenroom",
            "groupsClaim": "groups",
        },
    }))


async def test_a_valid_assertion_signs_in(signing_key: RSAKey, jwks_url: str) -> None:
    backend = _jwt_backend(jwks_url)
    found = await backend.authenticate(
        _request({"X-Goog-IAP-JWT-Assertion": _assertion(signing_key)})
    )
    assert found is not None
    assert (found.user_id, found.groups, found.via) == ("alice@example.com", {"sre"}, "jwt")


@pytest.mark.parametrize("case", ["forged", "expired", "wrong-audience", "wrong-issuer"])
async def test_a_bad_assertion_is_refused(signing_key: RSAKey, jwks_url: str, case: str) -> None:
    if case == "forged":
        other = RSAKey.generate_key(2048, parameters={"kid": signing_key.kid}, auto_kid=False)
        assertion = _assertion(other)
    elif case == "expired":
        assertion = _assertion(signing_key, iat=int(time.time()) - 7200,
                               exp=int(time.time()) - 3600)
    elif case == "wrong-audience":
        assertion = _assertion(signing_key, aud="/projects/2/other-app")
    else:
        assertion = _assertion(signing_key, iss="https://evil.example.com")
    backend = _jwt_backend(jwks_url)
    assert await backend.authenticate(_request({"X-Goog-IAP-JWT-Assertion": assertion})) is None


async def test_an_assertion_from_an_untrusted_peer_is_not_even_checked(
    signing_key: RSAKey, jwks_url: str,
) -> None:
    backend = _jwt_backend(jwks_url)
    request = _request({"X-Goog-IAP-JWT-Assertion": _assertion(signing_key)}, peer="8.8.8.8")
    assert await backend.authenticate(request) is None


# -- API tokens -------------------------------------------------------------------------------


def test_api_tokens_are_kept_hashed_and_only_sign_in_api_calls() -> None:
    secret = "gr-7f3c2a9e4b1d"
    backend = ApiTokenBackend([
        ApiTokenSettings(name="deploy-bot", sha256=hashlib.sha256(secret.encode()).hexdigest(),
                         groups=["sre"]),
    ])
    assert secret not in repr(backend.__dict__)
    found = backend.authenticate(
        _request({"Authorization": f"Bearer {secret}"}, path="/api/audit")
    )
    assert found is not None
    assert (found.user_id, found.groups, found.via) == ("token:deploy-bot", {"sre"}, "token")
    assert backend.authenticate(
        _request({"Authorization": "Bearer wrong-token"}, path="/api/audit")
    ) is None
    assert backend.authenticate(_request({"Authorization": f"Bearer {secret}"}, path="/")) is None


def test_an_api_token_entry_needs_exactly_one_of_hash_or_token() -> None:
    with pytest.raises(ValueError):
        ApiTokenSettings(name="x")
    with pytest.raises(ValueError):
        ApiTokenSettings(name="x", sha256="abc")


# -- redirects after sign-in ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/catalog/default/component/checkout?tab=1", "/catalog/default/component/checkout?tab=1"),
        ("https://evil.example.com/", "/"),
        ("//evil.example.com/", "/"),
        ("/\\evil.example.com", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        (None, "/"),
    ],
)
def test_sign_in_returns_only_to_paths_on_this_portal(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected

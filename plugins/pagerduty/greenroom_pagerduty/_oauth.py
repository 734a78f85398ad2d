"""PagerDuty scoped OAuth: an app's client-credentials token, kept fresh on the server.

PagerDuty's "Scoped OAuth" apps get tokens from the client-credentials grant at
``https://identity.pagerduty.com/oauth/token`` (EU accounts: ``identity.eu.pagerduty.com``),
form-encoded, with ``scope`` naming the account (``as_account-<region>.<subdomain>``) and the
API scopes wanted (PagerDuty developer docs, "Obtaining an App OAuth Token"). REST requests then
carry ``Authorization: Bearer <token>``.

PagerDuty's own Backstage plugin fetched one token at start-up and never refreshed it, so the
portal stopped working when it expired. Here a :class:`TokenSource` refreshes shortly before
``expires_in`` runs out, lets concurrent requests share one refresh, and refreshes once more
when PagerDuty answers 401 (a token revoked early). Each token issued is handed to the portal's
secret scrubber before any request uses it.

We do not use authlib's OAuth2 client here: token requests must go through ``core.fetch`` (the
portal's one transport, recorded and contract-checked in tests) and the refresh rules above are
the whole of what is needed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from greenroom import ConfigError, FetchApi, ProviderError, UnauthorizedError

IDENTITY_URLS = {
    "us": "https://identity.pagerduty.com",
    "eu": "https://identity.eu.pagerduty.com",
}
TOKEN_PATH = "/oauth/token"

#: The API scopes the plugin asks for, and no more. Each is the ``x-pd-requires-scope`` of an
#: operation the plugin calls in PagerDuty's REST API description:
#: services.read (GET /services, /services/{id}, /services/{id}/change_events),
#: incidents.read (GET /incidents, /incidents/{id}, /incidents/{id}/log_entries and /notes),
#: incidents.write (POST /incidents, PUT /incidents/{id}, POST /incidents/{id}/notes),
#: oncalls.read (GET /oncalls).
SCOPES: tuple[str, ...] = ("services.read", "incidents.read", "incidents.write", "oncalls.read")


class _OAuthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(alias="clientId", min_length=1)
    client_secret: str = Field(alias="clientSecret", min_length=1)
    sub_domain: str = Field(alias="subDomain", min_length=1, pattern=r"^[A-Za-z0-9-]+$")
    region: str = Field("us", pattern=r"^(us|eu)$")
    identity_url: str | None = Field(None, alias="identityUrl")


@dataclass(frozen=True)
class OAuthSettings:
    """``pagerDuty.oauth`` (or an account's ``oauth``). The secret is left out of ``repr``."""

    client_id: str
    client_secret: str = field(repr=False)
    sub_domain: str
    region: str = "us"
    identity_url: str | None = None

    @property
    def token_url(self) -> str:
        base = (self.identity_url or IDENTITY_URLS[self.region]).rstrip("/")
        return base if base.endswith(TOKEN_PATH) else f"{base}{TOKEN_PATH}"

    @property
    def scope(self) -> str:
        return " ".join([f"as_account-{self.region}.{self.sub_domain}", *SCOPES])


def parse_oauth(raw: Any, key_path: str) -> OAuthSettings | None:
    """The ``oauth`` block at ``key_path``, or None when absent; :class:`ConfigError` if bad."""
    if raw is None:
        return None
    try:
        parsed = _OAuthConfig.model_validate(raw)
    except ValidationError as exc:
        # Never echo the input: it holds the client secret.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f"{problems} (expected clientId, clientSecret, subDomain, region us|eu, "
            "and optionally identityUrl)",
            key_path=key_path,
        ) from None
    if parsed.identity_url is not None:
        try:
            url = httpx.URL(parsed.identity_url)
        except (httpx.InvalidURL, ValueError):
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise ConfigError(
                "identityUrl must be an http(s) URL", key_path=f"{key_path}.identityUrl"
            )
    return OAuthSettings(
        parsed.client_id,
        parsed.client_secret,
        parsed.sub_domain,
        parsed.region,
        parsed.identity_url,
    )


class _TokenAnswer(BaseModel):
    access_token: str = Field(min_length=1)
    token_type: str
    expires_in: float = Field(gt=0)


def refresh_margin(lifetime: float) -> float:
    """How long before expiry a token is replaced: a minute for PagerDuty's day-long tokens,
    a quarter of the lifetime for short ones (so a 2-second token is replaced after 1.5 s)."""
    return min(60.0, lifetime / 4)


class TokenSource:
    """One account's current access token.

    ``on_issue`` is called with every new token before anyone uses it (the secret scrubber);
    ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        settings: OAuthSettings,
        *,
        fetch: FetchApi,
        on_issue: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 10.0,
    ) -> None:
        self.settings = settings
        self._fetch = fetch
        self._on_issue = on_issue
        self._clock = clock
        self._timeout = timeout
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        #: Token requests sent (tests and the readiness view read it).
        self.requests = 0

    def __repr__(self) -> str:
        return f"TokenSource({self.settings.client_id!r}, {self.settings.token_url!r})"

    def _fresh(self) -> bool:
        return self._token is not None and self._clock() < self._refresh_at

    async def token(self) -> str:
        """A token that is not about to expire; one refresh serves every concurrent caller."""
        if self._fresh():
            assert self._token is not None
            return self._token
        return await self.refresh(rejected=None)

    async def refresh(self, rejected: str | None) -> str:
        """A new token. ``rejected`` is the token PagerDuty just refused: when another request
        has already replaced it, that replacement is returned instead of asking again."""
        async with self._lock:
            if self._fresh() and self._token != rejected:
                assert self._token is not None
                return self._token
            token, lifetime = await self._request_token()
            if self._on_issue is not None:
                self._on_issue(token)
            self._token = token
            self._refresh_at = self._clock() + lifetime - refresh_margin(lifetime)
            return token

    async def headers(self) -> Mapping[str, str]:
        """The header a request to the REST API carries (for a proxy route's header source)."""
        return {"Authorization": f"Bearer {await self.token()}"}

    async def _request_token(self) -> tuple[str, float]:
        where = f"the PagerDuty OAuth token endpoint ({self.settings.token_url})"
        form = {
            "grant_type": "client_credentials",
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret,
            "scope": self.settings.scope,
        }
        self.requests += 1
        try:
            response = await self._fetch.request(
                "POST",
                self.settings.token_url,
                content=urlencode(form).encode("ascii"),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
                timeout=self._timeout,
            )
        except httpx.TimeoutException:
            raise ProviderError(
                f"{where} did not answer within {self._timeout:g} seconds"
            ) from None
        except httpx.HTTPError as exc:
            raise ProviderError(f"Could not reach {where} ({type(exc).__name__})") from None
        if response.status_code in (400, 401, 403):
            raise UnauthorizedError(
                f"{where} refused the client credentials ({_oauth_error(response)}); check "
                "pagerDuty.oauth clientId, clientSecret, subDomain and region"
            )
        if not response.is_success:
            raise ProviderError(f"{where} answered {response.status_code}")
        try:
            answer = _TokenAnswer.model_validate(response.json())
        except (ValueError, ValidationError):
            raise ProviderError(f"{where} sent an answer without access_token/expires_in") from None
        if answer.token_type.lower() != "bearer":
            raise ProviderError(f"{where} issued a {answer.token_type!r} token, not a bearer token")
        return answer.access_token, answer.expires_in


def _oauth_error(response: httpx.Response) -> str:
    # RFC 6749 section 5.2: {"error": "invalid_client", "error_description": ...}
    try:
        body = response.json()
    except ValueError:
        return f"status {response.status_code}"
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])[:100]
    return f"status {response.status_code}"

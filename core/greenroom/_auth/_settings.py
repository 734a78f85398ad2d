"""The ``auth:`` section: which sign-in mode, and its settings, validated once at start-up.

```yaml
auth:
  provider: oidc            # or proxy
  allowGuests: false        # true: visitors who are not signed in may read (never act)
  session: {lifetimeHours: 12, idleMinutes: 120}
  oidc:
    issuer: https://login.example.com/realms/acme
    clientId: greenroom
    clientSecret: ${OIDC_CLIENT_SECRET}
    scopes: [openid, email, profile]
    groupsClaim: groups
  apiTokens:                # for scripts calling /api/... as `Authorization: Bearer <token>`
    - name: deploy-bot
      sha256: 9f86d0...     # sha256 of the token (or `token: ${DEPLOY_BOT_TOKEN}`)
      groups: [sre]
  proxy:
    header: X-Forwarded-Email
    groupsHeader: X-Forwarded-Groups
    trustedProxies: [10.0.0.0/8]   # no default: empty trusts nobody
    jwt: {header: X-Goog-IAP-JWT-Assertion, jwksUrl: ..., issuer: ..., audience: ...}
```

The older ``identity: {header, nameHeader}`` section still works as ``auth.provider: proxy``
(its keys become ``auth.proxy.*``), with a warning at start-up, and trusts nobody until
``auth.proxy.trustedProxies`` is set.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .._config import Config, validate_section
from .._exceptions import ConfigError

log = logging.getLogger("greenroom.auth")

NO_SIGN_IN_CHOSEN = (
    "no sign-in mode is configured, so anyone who can reach the portal could act as anyone; "
    "choose one: `auth.provider: oidc` (sign in with an OpenID Connect provider), "
    "`auth.provider: proxy` (an authenticating reverse proxy in front, with "
    "auth.proxy.trustedProxies), or `auth.allowGuests: true` (everyone reads, nobody acts); "
    "or run `greenroom serve --demo`"
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SessionSettings(_Model):
    lifetime_hours: float = Field(12, alias="lifetimeHours", gt=0)
    idle_minutes: float = Field(120, alias="idleMinutes", gt=0)


class OidcSettings(_Model):
    issuer: str
    client_id: str = Field(alias="clientId")
    client_secret: str | None = Field(None, alias="clientSecret")
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    groups_claim: str = Field("groups", alias="groupsClaim")

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, scopes: list[str]) -> list[str]:
        return scopes if "openid" in scopes else ["openid", *scopes]


class ApiTokenSettings(_Model):
    name: str
    sha256: str | None = None
    token: str | None = None
    groups: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_of(self) -> ApiTokenSettings:
        if bool(self.sha256) == bool(self.token):
            raise ValueError("give exactly one of sha256 (the token's hash) or token")
        if self.sha256 and len(self.sha256.strip()) != 64:
            raise ValueError("sha256 must be the 64 hex digits of the token's SHA-256")
        return self

    def digest(self) -> str:
        """The token's SHA-256; a plain ``token`` is hashed here and never kept."""
        if self.sha256:
            return self.sha256.strip().lower()
        return hashlib.sha256(str(self.token).encode()).hexdigest()


class JwtSettings(_Model):
    header: str
    jwks_url: str = Field(alias="jwksUrl")
    issuer: str
    audience: str
    email_claim: str = Field("email", alias="emailClaim")
    groups_claim: str | None = Field(None, alias="groupsClaim")
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])


class ProxySettings(_Model):
    header: str | None = None
    name_header: str | None = Field(None, alias="nameHeader")
    groups_header: str | None = Field(None, alias="groupsHeader")
    trusted_proxies: list[str] = Field(default_factory=list, alias="trustedProxies")
    #: Let uvicorn take the client address from X-Forwarded-For, from trustedProxies only.
    trust_forwarded_for: bool = Field(False, alias="trustForwardedFor")
    jwt: JwtSettings | None = None

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError as exc:
                raise ValueError(f"not an IP address or CIDR block: {value!r}") from exc
        return values

    @model_validator(mode="after")
    def _header_or_jwt(self) -> ProxySettings:
        if not self.header and self.jwt is None:
            raise ValueError("set header (e.g. X-Forwarded-Email) or jwt (a signed assertion)")
        return self

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(v, strict=False) for v in self.trusted_proxies]


class AuthSettings(_Model):
    #: oidc, proxy, or another mode registered in ``greenroom._identity.SIGN_IN_BACKENDS``.
    provider: str | None = None
    allow_guests: bool = Field(False, alias="allowGuests")
    session: SessionSettings = Field(default_factory=SessionSettings)  # type: ignore[arg-type]
    oidc: OidcSettings | None = None
    api_tokens: list[ApiTokenSettings] = Field(default_factory=list, alias="apiTokens")
    proxy: ProxySettings | None = None
    #: The old ``identity:`` section was mapped here (warn at start-up).
    legacy_identity: bool = Field(False, exclude=True)

    @model_validator(mode="after")
    def _mode_has_settings(self) -> AuthSettings:
        if self.provider == "oidc" and self.oidc is None:
            raise ValueError("auth.provider oidc needs auth.oidc (issuer, clientId, ...)")
        # ``header`` is the older name of ``proxy``.
        if self.provider in ("proxy", "header") and self.proxy is None:
            raise ValueError(f"auth.provider {self.provider} needs auth.proxy (header or jwt, "
                             "trustedProxies)")
        return self


def auth_settings(config: Config) -> AuthSettings:
    """``auth:`` validated, with the legacy ``identity:`` section mapped into it."""
    raw: dict[str, Any] = dict(config.get("auth") or {})
    legacy = config.get("identity") or {}
    legacy_header = legacy.get("header") if isinstance(legacy, dict) else None
    if legacy_header and raw.get("provider") in (None, "proxy", "header"):
        proxy = dict(raw.get("proxy") or {})
        proxy.setdefault("header", legacy_header)
        if legacy.get("nameHeader"):
            proxy.setdefault("nameHeader", legacy["nameHeader"])
        raw["proxy"] = proxy
        raw["provider"] = "proxy"
        settings = _validate(config, raw)
        return settings.model_copy(update={"legacy_identity": True})
    return _validate(config, raw)


def _validate(config: Config, raw: dict[str, Any]) -> AuthSettings:
    if raw == (config.get("auth") or {}):
        return validate_section(config, "auth", AuthSettings)
    return validate_section(Config({"auth": raw}), "auth", AuthSettings)


def require_sign_in_choice(config: Config, *, demo: bool) -> AuthSettings:
    """The settings, or ``ConfigError`` when a real portal chose neither a sign-in mode nor
    guests (``greenroom serve`` and ``greenroom config check`` refuse such a config)."""
    settings = auth_settings(config)
    if not demo and settings.provider is None and not settings.allow_guests:
        raise ConfigError(NO_SIGN_IN_CHOSEN, key_path="auth.provider")
    return settings


def uvicorn_forwarding(settings: AuthSettings) -> dict[str, Any]:
    """uvicorn's options for ``X-Forwarded-For``. uvicorn believes it from 127.0.0.1 by default,
    which would let anything on the portal's host choose the peer address that
    ``trustedProxies`` is checked against; it is off unless the operator asks
    (``auth.proxy.trustForwardedFor``), and then only from the same trusted list."""
    proxy = settings.proxy
    if proxy is None or not proxy.trust_forwarded_for or not proxy.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(proxy.trusted_proxies)}


def warn_about_legacy(settings: AuthSettings) -> None:
    if settings.legacy_identity:
        trusted = settings.proxy.trusted_proxies if settings.proxy else []
        log.warning(
            "the `identity:` section is read as `auth.provider: proxy` (identity.header -> "
            "auth.proxy.header); move it to `auth:`. %s",
            "Trusted proxies: " + ", ".join(trusted) if trusted else
            "It trusts nobody until auth.proxy.trustedProxies lists your proxy's addresses.",
        )

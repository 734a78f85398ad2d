"""PagerDuty settings, in Backstage's config keys.

- ``pagerDuty.eventsBaseUrl`` (``pagerduty.`` accepted too): where triggers are sent.
- ``pagerDuty.accounts[]``: several PagerDuty accounts, each reached through its own proxy
  route (which holds its token) or base URL; an entity picks one with the
  ``pagerduty.com/account`` annotation, otherwise the ``isDefault`` one (or the first).
- ``pagerDuty.oauth`` (or an account's ``oauth``): scoped OAuth client credentials
  (``clientId``, ``clientSecret``, ``subDomain``, ``region``, ``identityUrl``); the plugin then
  adds ``Authorization: Bearer`` itself and keeps the token fresh.
- ``pagerDuty.apiBaseUrl`` (default ``https://api.pagerduty.com``): where the REST API is when
  the account's proxy route is not configured (with OAuth, or when set explicitly).
- ``plugins.pagerduty``: card options ``readOnly``, ``disableChangeEvents``, ``disableOnCall``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from greenroom import ConfigError, MissingSettingError

from ._oauth import OAuthSettings, parse_oauth

DEFAULT_API_BASE_URL = "https://api.pagerduty.com"
DEFAULT_EVENTS_BASE_URL = "https://events.pagerduty.com/v2"
DEFAULT_PROXY_ROUTE = "/pagerduty"
ACCOUNT_ANNOTATION = "pagerduty.com/account"


class PagerDutySettings(BaseModel):
    """``plugins.pagerduty`` in app-config.yaml."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    read_only: bool = Field(False, alias="readOnly")
    disable_change_events: bool = Field(False, alias="disableChangeEvents")
    disable_on_call: bool = Field(False, alias="disableOnCall")


class _AccountConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    isDefault: bool = False
    proxyRoute: str | None = None
    apiBaseUrl: str | None = None
    eventsBaseUrl: str | None = None
    oauth: dict[str, Any] | None = None


@dataclass(frozen=True)
class PagerDutyAccount:
    """Where one PagerDuty account's REST API and Events API are reached."""

    id: str
    proxy_route: str | None
    api_base_url: str | None
    events_base_url: str
    oauth: OAuthSettings | None = None

    def rest_base(self, proxy_base: str) -> str:
        if self.api_base_url:
            return self.api_base_url.rstrip("/")
        route = (self.proxy_route or DEFAULT_PROXY_ROUTE).strip("/")
        return f"{proxy_base.rstrip('/')}/{route}"


def _section(config: Any) -> dict[str, Any]:
    for key in ("pagerDuty", "pagerduty"):
        value = config.get(key, None) if config is not None else None
        if isinstance(value, dict):
            return value
    return {}


def load_accounts(config: Any) -> list[PagerDutyAccount]:
    """The configured accounts; without ``accounts`` one account through ``/pagerduty``."""
    section = _section(config)
    events_default = str(section.get("eventsBaseUrl") or DEFAULT_EVENTS_BASE_URL).rstrip("/")
    explicit_api_base = section.get("apiBaseUrl")
    if explicit_api_base is not None and not isinstance(explicit_api_base, str):
        raise ConfigError("must be a URL string", key_path="pagerDuty.apiBaseUrl")
    api_default = (explicit_api_base or DEFAULT_API_BASE_URL).rstrip("/")
    routes = _configured_routes(config)

    def direct_base(route: str, oauth: OAuthSettings | None, where: str) -> str | None:
        """The REST base for an account without a configured proxy route, else None."""
        normalized = "/" + route.strip("/")
        if normalized in routes:
            if oauth is not None and any(h.lower() == "authorization" for h in routes[normalized]):
                raise ConfigError(
                    f"proxy route {normalized} sets an Authorization header while {where} "
                    "configures OAuth; remove the header (the plugin adds the OAuth token)",
                    key_path=f"{where}",
                )
            return None
        return api_default if (oauth is not None or explicit_api_base) else None

    raw = section.get("accounts")
    if not raw:
        oauth = parse_oauth(section.get("oauth"), "pagerDuty.oauth")
        return [
            PagerDutyAccount(
                "default",
                DEFAULT_PROXY_ROUTE,
                direct_base(DEFAULT_PROXY_ROUTE, oauth, "pagerDuty.oauth"),
                events_default,
                oauth,
            )
        ]
    if not isinstance(raw, list):
        raise ConfigError(
            "must be a list of accounts ({id, isDefault, proxyRoute or apiBaseUrl, eventsBaseUrl})",
            key_path="pagerDuty.accounts",
        )
    accounts: list[PagerDutyAccount] = []
    default_index = 0
    for index, item in enumerate(raw):
        where = f"pagerDuty.accounts[{index}]"
        if isinstance(item, dict) and "apiToken" in item:
            raise ConfigError(
                "apiToken is not read here: put the token in the account's proxy route "
                "headers (Authorization: Token token=${...}) and name it with proxyRoute, "
                "so it never leaves the server",
                key_path=f"{where}.apiToken",
            )
        try:
            account = _AccountConfig.model_validate(item)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(problems, key_path=where) from None
        if account.isDefault:
            default_index = index
        oauth = parse_oauth(account.oauth, f"{where}.oauth")
        api_base = account.apiBaseUrl or direct_base(
            account.proxyRoute or DEFAULT_PROXY_ROUTE, oauth, f"{where}.oauth"
        )
        accounts.append(
            PagerDutyAccount(
                account.id,
                account.proxyRoute,
                api_base,
                (account.eventsBaseUrl or events_default).rstrip("/"),
                oauth,
            )
        )
    # The default account comes first.
    accounts.insert(0, accounts.pop(default_index))
    return accounts


def _configured_routes(config: Any) -> dict[str, list[str]]:
    """Proxy routes in the config (both of Backstage's forms) and their header names."""
    proxy = config.get("proxy", None) if config is not None else None
    if not isinstance(proxy, dict):
        return {}
    entries = {k: v for k, v in proxy.items() if k not in ("endpoints", "skipInvalidProxies",
                                                          "reviveConsumedRequestBodies")}
    endpoints = proxy.get("endpoints")
    if isinstance(endpoints, dict):
        entries.update(endpoints)
    routes: dict[str, list[str]] = {}
    for route, value in entries.items():
        headers = value.get("headers") if isinstance(value, dict) else None
        routes["/" + str(route).strip("/")] = list(headers) if isinstance(headers, dict) else []
    return routes


def account_for(accounts: list[PagerDutyAccount], annotations: Any) -> PagerDutyAccount:
    wanted = (annotations.get(ACCOUNT_ANNOTATION) or "").strip()
    if not wanted:
        return accounts[0]
    for account in accounts:
        if account.id == wanted:
            return account
    known = ", ".join(a.id for a in accounts)
    raise MissingSettingError(
        f'The {ACCOUNT_ANNOTATION} annotation names account "{wanted}", but '
        f"pagerDuty.accounts has no account with that id (known: {known}). "
        "Add the account to app-config.yaml or fix the annotation."
    )

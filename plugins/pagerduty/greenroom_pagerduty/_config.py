"""PagerDuty settings, in Backstage's config keys.

- ``pagerDuty.eventsBaseUrl`` (``pagerduty.`` accepted too): where triggers are sent.
- ``pagerDuty.accounts[]``: several PagerDuty accounts, each reached through its own proxy
  route (which holds its token) or base URL; an entity picks one with the
  ``pagerduty.com/account`` annotation, otherwise the ``isDefault`` one (or the first).
- ``plugins.pagerduty``: card options ``readOnly``, ``disableChangeEvents``, ``disableOnCall``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from greenroom import ConfigError, MissingSettingError

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


@dataclass(frozen=True)
class PagerDutyAccount:
    """Where one PagerDuty account's REST API and Events API are reached."""

    id: str
    proxy_route: str | None
    api_base_url: str | None
    events_base_url: str

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
    raw = section.get("accounts")
    if not raw:
        return [PagerDutyAccount("default", DEFAULT_PROXY_ROUTE, None, events_default)]
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
        accounts.append(
            PagerDutyAccount(
                account.id,
                account.proxyRoute,
                account.apiBaseUrl,
                (account.eventsBaseUrl or events_default).rstrip("/"),
            )
        )
    # The default account comes first.
    accounts.insert(0, accounts.pop(default_index))
    return accounts


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

"""Sign-in and access: who the viewer is (OIDC, an authenticating proxy, API tokens, the demo,
guests), what they may do (``greenroom._permissions``) and the record of what they did
(``greenroom._audit``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ._access import Access, actor_of, build_access, catalog_groups
from ._settings import (
    NO_SIGN_IN_CHOSEN,
    AuthSettings,
    auth_settings,
    require_sign_in_choice,
    uvicorn_forwarding,
    warn_about_legacy,
)

if TYPE_CHECKING:
    from .._plugin import Card

#: Card actions that are incident actions, whichever provider's card offers them.
INCIDENT_VERBS = ("trigger", "acknowledge", "resolve", "note")


def permission_action(plugin_id: str, card_action: str) -> str:
    """The permission a card's action needs: ``incident.<verb>`` for the incident verbs,
    ``<plugin-id>.<action>`` for anything else a plugin's card declares."""
    if card_action in INCIDENT_VERBS:
        return f"incident.{card_action}"
    return f"{plugin_id}.{card_action}"


def plugin_actions(cards: Iterable[Card]) -> list[str]:
    """Every ``<plugin-id>.<action>`` the plugins' cards declare (their ``actions``)."""
    return sorted({
        permission_action(card.plugin_id, name)
        for card in cards for name in card.actions
        if name not in INCIDENT_VERBS
    })


__all__ = [
    "NO_SIGN_IN_CHOSEN",
    "Access",
    "AuthSettings",
    "INCIDENT_VERBS",
    "actor_of",
    "auth_settings",
    "build_access",
    "catalog_groups",
    "permission_action",
    "plugin_actions",
    "require_sign_in_choice",
    "uvicorn_forwarding",
    "warn_about_legacy",
]

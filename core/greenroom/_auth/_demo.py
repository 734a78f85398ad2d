"""The demo signs everyone in as one demo user, so every button works with no set-up."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._identity import Identity

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

DEMO_USER = Identity(
    user_id="demo@example.com", email="demo@example.com", display_name="Demo User",
    authenticated=True, groups=frozenset(), via="demo",
)


class DemoBackend:
    def authenticate(self, request: HTTPConnection) -> Identity:
        return DEMO_USER

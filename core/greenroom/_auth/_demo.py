"""The demo signs everyone in as one demo user, so every button works with no set-up.

The demo user is the demo's ``identity.guest`` (``guest@example.com``, a user of every bundled
simulator's organisation), signed in: the simulators know that address, so acting works."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._identity import Identity

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection


def demo_user(guest: Identity) -> Identity:
    email = guest.email or "guest@example.com"
    return Identity(
        user_id=email.lower(), email=email, display_name=guest.display_name or "Demo user",
        authenticated=True, groups=frozenset(), via="demo",
    )


class DemoBackend:
    def __init__(self, user: Identity) -> None:
        self.user = user

    def authenticate(self, request: HTTPConnection) -> Identity:
        return self.user

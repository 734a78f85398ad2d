"""The current user, as the portal knows them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    """Who is looking at the page: from a trusted proxy header, or the configured guest."""

    user_id: str
    email: str | None = None
    display_name: str | None = None
    authenticated: bool = False

    @property
    def name(self) -> str:
        return self.display_name or self.email or self.user_id

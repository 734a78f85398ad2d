"""The OIDC session backend while the store of signed-out sessions cannot be reached."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest
from starlette.requests import Request

from greenroom._auth._oidc import OidcSessionBackend
from greenroom._auth._revocations import MemoryRevocations
from greenroom._auth._settings import SessionSettings


class FlakyRevocations(MemoryRevocations):
    """The in-memory store, with an outage switched on and off (the database's stand-in)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def revoke(self, session_id: str, expires_at: datetime) -> None:
        if self.down:
            raise ConnectionRefusedError("database down")
        super().revoke(session_id, expires_at)

    def is_revoked(self, session_id: str) -> bool:
        if self.down:
            raise ConnectionRefusedError("database down")
        return super().is_revoked(session_id)


def browser() -> Request:
    """A request carrying its own session (a browser's cookie, decoded)."""
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "session": {}})


def again(earlier: Request) -> Request:
    """The same browser's next request: the same session."""
    return Request({**earlier.scope, "session": dict(earlier.session)})


def sign_in(backend: OidcSessionBackend, email: str) -> Request:
    request = browser()
    backend.start(request, {"email": email, "sub": email})
    return request


def test_during_an_outage_new_sign_ins_work_and_older_sessions_are_guests(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FlakyRevocations()
    backend = OidcSessionBackend(SessionSettings(), store)
    before = sign_in(backend, "old@example.com")
    stolen = again(before)  # a copy of the cookie, taken before signing out
    backend.end(before)
    assert backend.authenticate(again(stolen)) is None

    store.down = True
    with caplog.at_level(logging.INFO, logger="greenroom.auth"):
        # Nobody can tell whether an older session was signed out: it is a guest meanwhile.
        assert backend.authenticate(again(stolen)) is None
        during = sign_in(backend, "new@example.com")
        for _ in range(3):
            identity = backend.authenticate(again(during))
            assert identity is not None and identity.user_id == "new@example.com"
    outage_lines = [r for r in caplog.records if "signed-out sessions" in r.getMessage()]
    assert len(outage_lines) == 1 and outage_lines[0].levelno == logging.ERROR

    # Signing out during the outage cannot be recorded, but this process stops believing it.
    with pytest.raises(ConnectionRefusedError):
        backend.end(again(during))
    assert backend.authenticate(again(during)) is None

    store.down = False
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="greenroom.auth"):
        assert backend.authenticate(again(stolen)) is None  # still signed out
        later = sign_in(backend, "later@example.com")
        assert backend.authenticate(again(later)) is not None
    assert [r.getMessage() for r in caplog.records] == ["signed-out sessions can be checked again"]

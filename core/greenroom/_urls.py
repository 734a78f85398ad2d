"""Links that came from outside (vendor payloads, plugin data): only http(s) ones are rendered.

A vendor's ``html_url``, ``incidentLink`` or avatar is data, not code; a ``javascript:`` or
``data:`` URL in one would run in the portal's origin when clicked or loaded.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

WEB_SCHEMES = frozenset({"http", "https"})


def http_url(value: object) -> str | None:
    """``value`` as an absolute http(s) URL, or None when it is anything else."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        # urlsplit drops the leading controls, tabs and newlines browsers ignore too, so
        # "\tjava\nscript:" is judged by the scheme a browser would see.
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.netloc:
        return None
    return urlunsplit(parts)


def http_url_or_empty(value: object) -> str:
    """The Jinja filter: ``href="{{ link|http_url }}"`` renders "" for anything not http(s)."""
    return http_url(value) or ""

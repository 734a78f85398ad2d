"""What in a config is a secret: values under keys named like secrets (token, key, secret,
password, authorization), the password in a URL's user info, and the walk that finds them.

``Config`` (``greenroom._config``) uses these to redact what it shows and to scrub any text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ._config_yaml import KeyPath

REDACTED = "<redacted>"

_SECRET_KEY_NAME = re.compile(r"token|key|secret|password|authorization", re.IGNORECASE)
# The password in a URL's user info (database.url: postgresql+psycopg://user:PASSWORD@host/db;
# redis.url: redis://:PASSWORD@host:6379/0, whose user is often empty).
URL_PASSWORD = re.compile(r"(://[^/\s:@]*:)([^@\s/]+)(@)")
# Headers whose values are never credentials, so config check shows them.
PLAIN_HEADERS = frozenset(
    {"accept", "accept-language", "content-type", "user-agent", "cache-control", "x-request-id"}
)
# Scrubbing a very short "secret" (a port, "true", "dev") would mangle ordinary text, and no
# real credential is that short; such values are still redacted where config is shown.
MIN_SCRUBBED_LENGTH = 6


def is_secret_key(name: str) -> bool:
    return bool(_SECRET_KEY_NAME.search(name))


def leaves(
    value: Any, path: KeyPath, secret: bool, *, include_containers: bool = False
) -> Iterator[tuple[KeyPath, Any, bool]]:
    """Every leaf (and, if asked, container) with its path and whether a secret key holds it."""
    if isinstance(value, dict | list):
        if include_containers:
            yield path, value, secret
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            child_secret = secret or (isinstance(key, str) and is_secret_key(key))
            yield from leaves(
                child, (*path, key), child_secret, include_containers=include_containers
            )
    else:
        yield path, value, secret

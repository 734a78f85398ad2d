"""URLs as every replica names them.

Plugins read through their own replica's proxy URL (``http://<this replica>/api/proxy/<route>/...``)
and replicas' addresses differ, so what travels between replicas (shared cache keys, invalidated
prefixes in change events) names proxied URLs without the address. Kept apart from the Redis
modules so that the start of a portal without Redis never imports the Redis client.
"""

from __future__ import annotations

PROXY_MARK = "proxy:"


def portable(url: str, proxy_base: str) -> str:
    """``url`` as every replica names it: plugins read through their own replica's proxy URL
    (``http://<this replica>/api/proxy/<route>/...``), and replicas' addresses differ."""
    if proxy_base and url.startswith(proxy_base):
        return PROXY_MARK + url[len(proxy_base):]
    return url


def localized(url: str, proxy_base: str) -> str:
    """The inverse of :func:`portable`, for this replica."""
    if proxy_base and url.startswith(PROXY_MARK):
        return proxy_base + url[len(PROXY_MARK):]
    return url

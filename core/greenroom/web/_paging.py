"""Paging lists: the incidents page one provider block at a time, and the JSON lists one page
of ``limit`` items at a time.

Each provider's incidents form their own block, newest first, with its own cursor in the URL
(``after.<provider id>=<last incident shown>``), so paging through PagerDuty leaves the Splunk
On-Call block where it was. A cursor names an incident, not a position: an incident that
arrives meanwhile does not shift the next page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

T = TypeVar("T")
PAGE_SIZE = 10
CURSOR_PREFIX = "after."


@dataclass(frozen=True)
class ProviderBlock:
    provider_id: str
    title: str
    rows: list[Any]
    total: int
    start: int  # 1-based position of the first row shown
    next_url: str | None
    first_url: str | None

    @property
    def end(self) -> int:
        return self.start + len(self.rows) - 1


def _url(params: Sequence[tuple[str, str]], path: str) -> str:
    return path + (f"?{urlencode(params)}" if params else "")


def provider_blocks(
    rows: Sequence[Any],
    query: Mapping[str, str] | Any,
    *,
    path: str,
    page_size: int = PAGE_SIZE,
) -> list[ProviderBlock]:
    """``rows`` (each with ``.provider`` and ``.incident``) split per provider and paged by
    each block's cursor in ``query``; blocks in the order their providers first appear. ``path``
    is the page's own path (from its named route), which the blocks' links keep."""
    items = query.multi_items() if hasattr(query, "multi_items") else list(query.items())
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.provider.id, []).append(row)
    blocks = []
    for provider_id, mine in grouped.items():
        key = CURSOR_PREFIX + provider_id
        others = [(k, v) for k, v in items if k != key]
        cursor = dict(items).get(key, "")
        ids = [row.incident.id for row in mine]
        # An unknown cursor (the incident was resolved meanwhile) starts from the newest.
        offset = ids.index(cursor) + 1 if cursor in ids else 0
        page = mine[offset:offset + page_size]
        more = offset + page_size < len(mine)
        blocks.append(
            ProviderBlock(
                provider_id=provider_id,
                title=mine[0].provider.title,
                rows=page,
                total=len(mine),
                start=offset + 1,
                next_url=_url([*others, (key, page[-1].incident.id)], path) if more else None,
                first_url=_url(others, path) if offset else None,
            )
        )
    return blocks


# --- the JSON lists (`/api/incidents`, `/api/oncall`) ---------------------------------------------

#: Items per page of a JSON list when the caller names no ``limit``.
API_PAGE_SIZE = 100
#: The most a caller may ask for in one page.
API_MAX_PAGE_SIZE = 500

Position = tuple[str | float, ...]


class BadCursor(ValueError):
    """An ``after`` that no page of this list handed out."""


_BAD_CURSOR = "'after' is not a cursor of this list: follow the 'next' link of the previous page"


@dataclass(frozen=True)
class ListPage(Generic[T]):
    """One page of a JSON list: its items, how many the whole list has, and the cursor of the
    next page (None on the last)."""

    items: list[T]
    total: int
    next_cursor: str | None

    def next_url(self, path: str, query: Mapping[str, str] | Any) -> str | None:
        """The next page's URL: ``path`` with the same query, its ``after`` replaced."""
        if self.next_cursor is None:
            return None
        items = query.multi_items() if hasattr(query, "multi_items") else list(query.items())
        kept = [(k, v) for k, v in items if k != "after"]
        return _url([*kept, ("after", self.next_cursor)], path)


def page_after(
    items: Sequence[T],
    *,
    limit: int,
    after: str | None,
    identity: Callable[[T], str],
    position: Callable[[T], Position],
) -> ListPage[T]:
    """The ``limit`` items that follow the cursor ``after`` (from the first without one).

    ``items`` are in ``position`` order. As on the incidents page, a cursor names an item
    (its ``identity``), not an index, so an item that arrives meanwhile does not shift the next
    page; when the named item is gone (an incident resolved meanwhile), the page goes on from
    where it stood (its ``position``), never back to the start. ``BadCursor`` for anything else.
    """
    start = 0
    if after:
        wanted, where = _decode(after)
        ids = [identity(item) for item in items]
        if wanted in ids:
            start = ids.index(wanted) + 1
        else:
            try:
                start = next(
                    (i for i, item in enumerate(items) if position(item) > where), len(items)
                )
            except TypeError as exc:  # a cursor of another list: its positions do not compare
                raise BadCursor(_BAD_CURSOR) from exc
    page = list(items[start:start + limit])
    more = start + limit < len(items)
    cursor = _encode(identity(page[-1]), position(page[-1])) if more and page else None
    return ListPage(page, len(items), cursor)


def _encode(identity: str, position: Position) -> str:
    raw = json.dumps([identity, list(position)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, Position]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        identity, position = json.loads(raw)
        if not isinstance(identity, str) or not isinstance(position, list):
            raise TypeError
        if not all(isinstance(p, str | int | float) for p in position):
            raise TypeError
    except (ValueError, TypeError, binascii.Error) as exc:
        raise BadCursor(_BAD_CURSOR) from exc
    return identity, tuple(position)


__all__ = [
    "API_MAX_PAGE_SIZE",
    "API_PAGE_SIZE",
    "CURSOR_PREFIX",
    "PAGE_SIZE",
    "BadCursor",
    "ListPage",
    "ProviderBlock",
    "page_after",
    "provider_blocks",
]

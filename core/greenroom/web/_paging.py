"""Paging the incidents page one provider block at a time.

Each provider's incidents form their own block, newest first, with its own cursor in the URL
(``after.<provider id>=<last incident shown>``), so paging through PagerDuty leaves the Splunk
On-Call block where it was. A cursor names an incident, not a position: an incident that
arrives meanwhile does not shift the next page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

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


__all__ = ["CURSOR_PREFIX", "PAGE_SIZE", "ProviderBlock", "provider_blocks"]

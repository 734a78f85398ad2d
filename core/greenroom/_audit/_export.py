"""``greenroom audit export``: every entry since a time, as JSON lines or CSV, oldest first."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import TextIO

from ._entry import AuditEntry, AuditQuery
from ._store import AuditStore

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = (
    "id", "at", "actor_id", "actor_email", "actor_name", "actor_via", "action", "entity",
    "entities", "provider", "incident_id", "summary", "outcome", "message", "request_id", "count",
    "completed_at",
)
_PAGE = 500


def entries_since(store: AuditStore, since: datetime | None) -> Iterator[AuditEntry]:
    """Entries at or after ``since``, oldest first (read newest first in pages, then reversed:
    an export is read once, and the store's index serves newest-first paging)."""
    collected: list[AuditEntry] = []
    cursor: str | None = None
    while True:
        page = store.query(AuditQuery(since=since, limit=_PAGE, after=cursor))
        collected.extend(page.entries)
        if page.next is None:
            break
        cursor = page.next
    return reversed(collected)


def write_entries(entries: Iterator[AuditEntry], out: TextIO, fmt: str) -> int:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    count = 0
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    for entry in entries:
        data = entry.as_json()
        if writer is None:
            out.write(json.dumps(data, ensure_ascii=False) + "\n")
        else:
            actor = data.pop("actor")
            data.update({f"actor_{k}": v for k, v in actor.items()})
            data["entities"] = " ".join(data["entities"])
            writer.writerow(["" if data[c] is None else data[c] for c in CSV_COLUMNS])
        count += 1
    return count

"""The incidents page's provider blocks: each paged by its own cursor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.datastructures import QueryParams

from greenroom.web._paging import provider_blocks


@dataclass(frozen=True)
class Provider:
    id: str
    title: str


@dataclass(frozen=True)
class Incident:
    id: str


@dataclass(frozen=True)
class Row:
    provider: Provider
    incident: Incident


ALPHA = Provider("alpha", "Alpha")
BETA = Provider("beta", "Beta")
ROWS = [Row(ALPHA, Incident(f"A{i}")) for i in range(1, 8)] + [
    Row(BETA, Incident(f"B{i}")) for i in range(1, 4)
]



def blocks(rows: list[Any], query: QueryParams) -> list[Any]:
    return provider_blocks(rows, query, path="/incidents", page_size=3)

def ids(block: object) -> list[str]:
    return [row.incident.id for row in block.rows]  # type: ignore[attr-defined]


def query_of(url: str) -> QueryParams:
    return QueryParams(parse_qsl(urlsplit(url).query))


def test_each_provider_has_its_own_block_and_first_page() -> None:
    alpha, beta = blocks(ROWS, QueryParams("status=triggered"))
    assert (alpha.title, ids(alpha), alpha.total, alpha.start, alpha.end) == (
        "Alpha", ["A1", "A2", "A3"], 7, 1, 3
    )
    assert (ids(beta), beta.next_url, beta.first_url) == (["B1", "B2", "B3"], None, None)
    assert alpha.first_url is None
    assert alpha.next_url == "/incidents?status=triggered&after.alpha=A3"


def test_following_one_cursor_leaves_the_other_block_and_the_filters_alone() -> None:
    start = blocks(ROWS, QueryParams("status=triggered&after.beta=B1"))
    alpha, beta = blocks(ROWS, query_of(start[0].next_url or ""))
    assert ids(alpha) == ["A4", "A5", "A6"] and alpha.start == 4
    assert ids(beta) == ["B2", "B3"]
    assert dict(query_of(alpha.next_url or "")) == {
        "status": "triggered", "after.beta": "B1", "after.alpha": "A6",
    }
    assert dict(query_of(alpha.first_url or "")) == {"status": "triggered", "after.beta": "B1"}
    last, _ = blocks(ROWS, query_of(alpha.next_url or ""))
    assert ids(last) == ["A7"] and last.next_url is None


def test_a_cursor_names_an_incident_so_new_ones_do_not_shift_the_page() -> None:
    newer = [Row(ALPHA, Incident("A0")), *ROWS]
    alpha, _ = blocks(newer, QueryParams("after.alpha=A3"))
    assert ids(alpha) == ["A4", "A5", "A6"]


def test_an_unknown_cursor_starts_from_the_newest() -> None:
    alpha, _ = blocks(ROWS, QueryParams("after.alpha=gone"))
    assert ids(alpha) == ["A1", "A2", "A3"]

"""`/api/incidents` and `/api/oncall` page like the portal's other lists: `limit` items, a
`next` link (and `Link` header) keeping the filters, and a cursor that names an item."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from greenroom import IncidentStatus
from greenroom.web._paging import API_PAGE_SIZE

from . import test_incidents
from .test_incidents import FakeProvider, incident

# The same two providers and portal as the pages' tests.
alpha, beta, client = test_incidents.alpha, test_incidents.beta, test_incidents.client


def ids(body: dict[str, object]) -> list[str]:
    return [i["id"] for i in body["incidents"]]  # type: ignore[attr-defined, index]


def test_a_caller_asking_no_page_gets_the_first_page_and_a_next_link(
    client: TestClient, alpha: FakeProvider
) -> None:
    alpha.incidents["checkout"] += [
        incident("alpha", f"X{n:03d}", f"Noise {n}", IncidentStatus.TRIGGERED, 100 + n)
        for n in range(120)
    ]
    first = client.get("/api/incidents")
    body = first.json()
    assert len(body["incidents"]) == API_PAGE_SIZE
    assert body["total"] == 124  # the 120 and A3, B1, A1, A2
    assert body["next"].startswith("/api/incidents?after=")
    assert first.headers["link"] == f'<{body["next"]}>; rel="next"'
    second = client.get(body["next"]).json()
    assert second["next"] is None and "link" not in client.get(body["next"]).headers
    everything = ids(body) + ids(second)
    assert len(everything) == len(set(everything)) == 124
    assert everything[:4] == ["A3", "B1", "A1", "A2"]  # newest first, across pages


def test_the_cursor_names_an_incident_so_arrivals_and_resolutions_shift_nothing(
    client: TestClient, alpha: FakeProvider
) -> None:
    first = client.get("/api/incidents", params={"limit": 2}).json()
    assert ids(first) == ["A3", "B1"] and first["total"] == 4
    # A newer incident arrives before the next page is read: the next page is not shifted.
    alpha.incidents["search"].append(
        incident("alpha", "A9", "Brand new", IncidentStatus.TRIGGERED, 1)
    )
    second = client.get(first["next"]).json()
    assert ids(second) == ["A1", "A2"] and second["next"] is None
    # The incident a cursor names is resolved meanwhile: the page goes on from where it stood.
    page = client.get("/api/incidents", params={"limit": 2}).json()
    assert ids(page) == ["A9", "A3"]
    alpha.incidents["search"] = [
        incident("alpha", "A3", "Search index stale", IncidentStatus.RESOLVED, 5)
    ]
    assert ids(client.get(page["next"]).json()) == ["B1", "A1"]


def test_the_next_link_keeps_the_filters_and_the_limit(client: TestClient) -> None:
    body = client.get("/api/incidents", params={"provider": "alpha", "limit": 1}).json()
    assert ids(body) == ["A3"] and body["total"] == 3
    query = parse_qs(urlsplit(body["next"]).query)
    assert query["provider"] == ["alpha"] and query["limit"] == ["1"]
    assert ids(client.get(body["next"]).json()) == ["A1"]


def test_a_bad_cursor_or_limit_is_a_clear_error(client: TestClient) -> None:
    bad = client.get("/api/incidents", params={"after": "not-a-cursor"})
    assert bad.status_code == 400
    assert "follow the 'next' link" in bad.json()["detail"]
    # A cursor of the other list is not this list's either.
    oncall_next = client.get("/api/oncall", params={"limit": 1}).json()["next"]
    other = parse_qs(urlsplit(oncall_next).query)["after"][0]
    assert client.get("/api/incidents", params={"after": other}).status_code == 400
    for limit in ("0", "501", "many"):
        assert client.get("/api/incidents", params={"limit": limit}).status_code == 422


def test_on_call_pages_by_entity_and_an_owner_continues_on_the_next_page(
    client: TestClient,
) -> None:
    first = client.get("/api/oncall", params={"limit": 2})
    body = first.json()
    assert body["total"] == 3
    assert [(o["owner"], [e["ref"] for e in o["entities"]]) for o in body["owners"]] == [
        ("team-pay", ["component:default/payments"]),
        ("team-shop", ["component:default/checkout"]),
    ]
    assert first.headers["link"] == f'<{body["next"]}>; rel="next"'
    rest = client.get(body["next"]).json()
    assert [(o["owner"], [e["ref"] for e in o["entities"]]) for o in rest["owners"]] == [
        ("team-shop", ["component:default/search"]),
    ]
    assert rest["next"] is None
    assert client.get("/api/oncall").json()["next"] is None  # three fit the default page


def test_the_schema_documents_the_paging(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path in ("/api/incidents", "/api/oncall"):
        get = schema["paths"][path]["get"]
        params = {p["name"]: p for p in get["parameters"]}
        assert params["limit"]["schema"]["maximum"] == 500
        assert params["limit"]["schema"]["default"] == API_PAGE_SIZE
        assert "next" in params["after"]["description"]
        assert "400" in get["responses"]
        model = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        fields = schema["components"]["schemas"][model.rsplit("/", 1)[-1]]["properties"]
        assert "Link" in fields["next"]["description"] and "total" in fields

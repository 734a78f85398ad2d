"""Catalog scale: what a page view costs the vendors does not grow with the catalog.

A generated catalog (a third PagerDuty, a third Splunk On-Call, a third neither) runs against
both simulators over loopback, each with a generated account of a few hundred services and
teams. The simulators count every request they answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from greenroom._portal import build_portal
from greenroom.testing import ServedApp, generated_catalog, serve_app
from greenroom.web import create_app
from greenroom_pagerduty.simulator import create_app as pagerduty_app
from greenroom_pagerduty.simulator import generated_annotations as pagerduty_annotations
from greenroom_splunk_on_call.simulator import create_app as splunk_app
from greenroom_splunk_on_call.simulator import generated_annotations as splunk_annotations

PD_TOKEN = "scale-test-token"
VO_ID, VO_KEY = "scale-api-id", "scale-api-key"
#: Generated vendor accounts: PagerDuty services and Splunk On-Call teams.
ACCOUNT_SIZE = 700


@pytest.fixture(scope="module")
def pagerduty() -> Iterator[ServedApp]:
    with serve_app(pagerduty_app(token=PD_TOKEN, scale=ACCOUNT_SIZE)) as served:
        yield served


@pytest.fixture(scope="module")
def splunk() -> Iterator[ServedApp]:
    # Splunk On-Call allows 60 calls a minute per endpoint; the count is what this test checks.
    app = splunk_app(api_id=VO_ID, api_key=VO_KEY, rate_limit_per_minute=10**6, scale=ACCOUNT_SIZE)
    with serve_app(app) as served:
        yield served


def catalog_documents(size: int) -> list[dict[str, Any]]:
    """``size`` components: a third on PagerDuty, a third on Splunk On-Call, a third on
    neither, spread over the generated services and teams (several entities may share one)."""
    return generated_catalog(
        size, [pagerduty_annotations, splunk_annotations, None], account=ACCOUNT_SIZE
    )


def write_portal_config(
    folder: Path, size: int, pagerduty_url: str, splunk_url: str
) -> Path:
    (folder / "catalog-info.yaml").write_text(
        yaml.safe_dump_all(catalog_documents(size), sort_keys=False)
    )
    config = {
        "catalog": {"locations": [{"type": "file", "target": "catalog-info.yaml"}]},
        "proxy": {
            "endpoints": {
                "/pagerduty": {
                    "target": pagerduty_url,
                    "headers": {"Authorization": f"Token token={PD_TOKEN}"},
                },
                "/splunk-on-call": {
                    "target": f"{splunk_url}/api-public",
                    "headers": {"X-VO-Api-Id": VO_ID, "X-VO-Api-Key": VO_KEY},
                },
            }
        },
        "pagerDuty": {"eventsBaseUrl": f"{pagerduty_url}/v2"},
        "coverage": {"rules": [{"name": "components", "kinds": ["Component"]}]},
    }
    path = folder / "app-config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def upstream_requests(pagerduty: ServedApp, splunk: ServedApp) -> list[str]:
    pd = [f"pagerduty {r.method} {r.path}" for r in pagerduty.app.state.control.requests]
    vo = [f"splunk {method} {path}" for method, path, _, _ in splunk.app.state.simulator.requests]
    return pd + vo


def first_views(
    tmp_path: Path, size: int, pagerduty: ServedApp, splunk: ServedApp
) -> tuple[list[str], dict[str, str]]:
    """Start a portal on a catalog of ``size`` entities, open /, /incidents and /oncall once;
    the upstream requests that took, and each page's text."""
    pagerduty.app.state.control.requests.clear()
    splunk.app.state.simulator.requests.clear()
    folder = tmp_path / f"catalog-{size}"
    folder.mkdir()
    config = write_portal_config(folder, size, pagerduty.url, splunk.url)
    portal = build_portal([config], demo=False, load_entry_points=True)
    assert len(portal.catalog.entities) == size, portal.catalog.problems[:3]
    pages = {}
    with TestClient(create_app(portal)) as client:
        for path in ("/", "/incidents", "/oncall"):
            response = client.get(path)
            assert response.status_code == 200, path
            pages[path] = response.text
    return upstream_requests(pagerduty, splunk), pages


def test_upstream_calls_do_not_grow_with_the_catalog(tmp_path, pagerduty, splunk):
    small, small_pages = first_views(tmp_path, 2_100, pagerduty, splunk)
    large, large_pages = first_views(tmp_path, 4_200, pagerduty, splunk)
    assert sorted(small) == sorted(large), "doubling the catalog changed the upstream calls"
    # Bounded by the pages of the account-wide lists: 700 services are 7 pages of 100.
    pagerduty_calls = [c for c in small if c.startswith("pagerduty")]
    assert 0 < len(pagerduty_calls) <= 20, pagerduty_calls
    # Nothing is asked per entity: no service lookups by key or id, no per-service reads.
    assert not [c for c in small if "/services/" in c], small
    # The pages did show the generated account's data.
    assert "Generated incident on service" in small_pages["/incidents"]
    assert "Generated incident for team" in small_pages["/incidents"]
    assert "Generated Person" in small_pages["/oncall"]
    # The home page shows its first 50 rows of either catalog.
    assert "Entities 1–50 of 2100" in small_pages["/"]
    assert "Entities 1–50 of 4200" in large_pages["/"]


def _on_call_rows(html: str) -> list[str]:
    return re.findall(r'data-entity="component:default/(svc-\d+)"', html)


def _rows(html: str) -> list[str]:
    return re.findall(r'<a href="/catalog/default/component/(svc-\d+)">', html)


def test_home_page_is_paged_and_searched_on_the_server(tmp_path, pagerduty, splunk):
    config = write_portal_config(tmp_path, 120, pagerduty.url, splunk.url)
    with TestClient(create_app(build_portal([config], demo=False))) as client:
        first = client.get("/").text
        assert _rows(first) == [f"svc-{n:05d}" for n in range(50)]
        assert "Entities 1–50 of 120" in first
        assert 'href="/?page=2"' in first
        last = client.get("/?page=3").text
        assert _rows(last) == [f"svc-{n:05d}" for n in range(100, 120)]
        assert "Entities 101–120 of 120" in last
        # A page past the end shows the last one; a word that is not a number the first.
        assert _rows(client.get("/?page=99").text) == _rows(last)
        assert _rows(client.get("/?page=abc").text) == _rows(first)
        # Search and filters run on the server, over the whole catalog, and the pager keeps them.
        found = client.get("/?q=SVC-00011").text
        assert _rows(found) == ["svc-00011"]
        owned = client.get("/?owner=team-03").text
        assert _rows(owned) == ["svc-00003", "svc-00043", "svc-00083"]
        # /oncall is paged by service too, each page keeping the owners' grouping.
        on_call = client.get("/oncall").text
        assert "Services 1–50 of 80" in on_call and 'href="/oncall?page=2"' in on_call
        second = client.get("/oncall?page=2").text
        assert "Services 51–80 of 80" in second
        assert set(_on_call_rows(on_call)).isdisjoint(_on_call_rows(second))
        assert len(_on_call_rows(on_call) + _on_call_rows(second)) == 80
        # Summaries are computed for the rows shown: a PagerDuty row says what is open. Read once
        # the views above have built the account-wide indexes, so that a cold build slower than a
        # summary's time budget on a busy machine cannot decide the outcome.
        warm = client.get("/").text
        assert re.search(r"PagerDuty:</span> On call: [^<]+ · \d+ open incident", warm)
        assert re.search(r"Splunk On-Call:</span> [^<]+ · on call: Gen user", warm)


def test_coverage_of_a_large_catalog_comes_from_the_indexes(tmp_path, pagerduty, splunk):
    pagerduty.app.state.control.requests.clear()
    splunk.app.state.simulator.requests.clear()
    config = write_portal_config(tmp_path, 2_100, pagerduty.url, splunk.url)
    with TestClient(create_app(build_portal([config], demo=False))) as client:
        report = client.get("/api/coverage").json()
        calls = upstream_requests(pagerduty, splunk)
        again = client.get("/api/coverage?state=not-covered").json()
    # A third on PagerDuty and a third on Splunk On-Call, all known to the vendors.
    assert (report["total"], report["covered"], report["notCovered"], report["broken"]) == (
        2_100, 1_400, 700, 0
    )
    assert again["total"] == 700
    # The account-wide lists, not a lookup per entity: 8 pages of services and the teams, and
    # who is on call (coverage counts only where someone is paged): one list per vendor.
    assert not [c for c in calls if "/services/" in c or "query" in c]
    assert len(calls) <= 15, calls

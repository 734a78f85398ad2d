"""The /plugins page and /api/marketplace JSON of the plugin directory (with a stand-in portal,
and with a real one)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient

from greenroom import Identity
from greenroom.web import _api_routes, _audit, _coverage, _incidents, _mapping, _pages
from greenroom.web._app import page_templates
from greenroom.web._marketplace import DEFAULT_ICON, router
from greenroom.web._session import Sessions
from greenroom.web._sign_in import SignInMiddleware

from ..test_marketplace import REPO, Record, fake_distribution, write

# -- the page and the JSON ---------------------------------------------------------------------


class PageOutline(HTMLParser):
    """Section id -> titles of the entries listed in it, in page order."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, list[str]] = {}
        self._section: str | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section" and "hidden" not in found:
            self._section = found.get("data-section")
            self.sections[self._section or ""] = []
        if tag == "h3" and self._section is not None:
            self._in_title = True
            self.sections[self._section].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "h3":
            self._in_title = False
        if tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._in_title and self._section is not None:
            titles = self.sections[self._section]
            if not titles[-1]:  # the title text, not the NEW badge after it
                titles[-1] = data.strip()


def outline(html: str) -> dict[str, list[str]]:
    parser = PageOutline()
    parser.feed(html)
    return parser.sections


@dataclass
class StandInConfig:
    values: dict[str, Any]
    file: Path | None = None

    def get(self, key_path: str, default: Any = None) -> Any:
        return self.values.get(key_path, default)

    def location(self, key_path: str) -> tuple[str, int] | None:
        return (str(self.file), 1) if self.file and key_path in self.values else None


@dataclass
class StandInPortal:
    config: StandInConfig
    plugin_records: list[Record]
    demo: bool = False

    guest: Identity = Identity("guest", None, "Guest")


LONG = "A" * 150 + " and more words"  # 165 characters: valid, but cut on the page


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    today = date.today()
    folder = tmp_path / "portal" / "directory"
    entries = {
        "alpha.yaml": "title: Alpha Core\nauthor: Greenroom\ncategory: Core Feature\n"
        "packageName: greenroom-alpha\norder: 2\n",
        "beta.yaml": "title: Beta Core\nauthor: Greenroom\ncategory: Core Feature\n"
        "packageName: greenroom-beta\norder: 1\n",
        "pagerduty.yaml": "title: PagerDuty\nauthor: Greenroom\ncategory: Monitoring\n"
        "packageName: greenroom\nentryPoint: pagerduty\ntags: [on-call, paging]\n"
        f"addedDate: '{today - timedelta(days=5)}'\niconUrl: icons/pd.svg\n"
        "documentation: https://example.com/pagerduty\n",
        "splunk.yaml": "title: Splunk On-Call\nauthor: Victor Team\ncategory: Monitoring\n"
        "packageName: greenroom\nentryPoint: splunk-on-call\ntags: [on-call]\n"
        f"addedDate: '{today - timedelta(days=400)}'\n",
        "acme.yaml": f"title: Acme Security\nauthor: Acme Inc.\nauthorUrl: https://acme.example/\n"
        f"category: Security\npackageName: greenroom-acme-security\ntags: [audit]\n"
        f"description: {LONG}\n",
        "old.yaml": "title: Old Thing\nauthor: Someone\ncategory: Metrics\n"
        "packageName: greenroom-old\nstatus: inactive\n",
        "gone.yaml": "title: Gone Thing\nauthor: Someone\ncategory: Metrics\n"
        "packageName: greenroom-gone\nstatus: archived\n",
        "broken.yaml": "title: Broken\nauthor: Someone\npackageName: greenroom-broken\n"
        "status: retired\n",
    }
    for name, text in entries.items():
        write(folder, name, text)
    write(folder / "icons", "pd.svg", '<svg xmlns="http://www.w3.org/2000/svg"><title>pd</title></svg>')
    return folder


def make_client(portal: StandInPortal) -> TestClient:
    """The directory's router in an app of its own, over a stand-in portal; the other views'
    routers are there so the page's navigation links resolve."""
    app = FastAPI()
    app.state.portal = portal
    app.state.templates = page_templates(app)
    app.add_middleware(SignInMiddleware, backends=[], guest=portal.guest)
    Sessions("marketplace-test-secret-" + "x" * 32).install(app)
    app.include_router(router)
    for other in (_api_routes.router, _incidents.router, _coverage.router, _pages.router,
                  _audit.router, _mapping.router):
        app.include_router(other)
    app.mount("/static", StaticFiles(directory=REPO / "core/greenroom/static"), name="static")
    return TestClient(app)


@pytest.fixture
def client(directory: Path) -> TestClient:
    config_file = directory.parent / "app-config.yaml"
    config = StandInConfig({"marketplace.directory": "directory"}, config_file)
    records = [
        Record("pagerduty", "pagerduty = greenroom_pagerduty:plugin", "greenroom", "0.1.0",
               "enabled"),
        Record("splunk-on-call", "splunk-on-call", "greenroom", "0.1.0", "disabled",
               "disabled in config (plugins.splunk-on-call.enabled: false)"),
    ]
    return make_client(StandInPortal(config, records))


def test_page_sections_order_and_counts(client: TestClient) -> None:
    response = client.get("/plugins")
    assert response.status_code == 200
    html = response.text
    sections = outline(html)
    assert list(sections) == ["core", "all", "inactive"]  # inactive at the bottom
    # By order, then title; the built-in Response metrics ships its own entry (order 1).
    assert sections["core"] == ["Beta Core", "Response metrics", "Alpha Core"]
    assert sections["all"] == ["Acme Security", "PagerDuty", "Splunk On-Call"]
    assert sections["inactive"] == ["Old Thing"]
    assert "Gone Thing" not in html  # archived entries are hidden
    assert "Core Features <span class=\"muted marketplace-count\" data-count>(3)</span>" in html
    assert "All Plugins <span class=\"muted marketplace-count\" data-count>(3)</span>" in html
    assert "Inactive Plugins <span class=\"muted marketplace-count\" data-count>(1)</span>" in html
    assert "Community plugins are not vetted" in html
    assert "No plugins found" in html and 'class="empty marketplace-none" hidden' in html


def entry_html(html: str, title: str) -> str:
    start = html.index(f'<h3 class="card-title">{title}')
    return html[html.rindex("<li", 0, start): html.index("</li>", start)]


def test_page_shows_derived_state_new_badge_and_cut_description(client: TestClient) -> None:
    html = client.get("/plugins").text
    pagerduty = entry_html(html, "PagerDuty")
    assert "Installed 0.1.0" in pagerduty and 'badge badge-enabled">enabled' in pagerduty
    assert "NEW" in pagerduty
    assert 'href="https://example.com/pagerduty"' in pagerduty and "Explore" in pagerduty

    splunk = entry_html(html, "Splunk On-Call")
    assert 'badge badge-disabled">disabled' in splunk
    assert "plugins.splunk-on-call.enabled: false" in splunk
    assert "NEW" not in splunk  # added 400 days ago

    acme = entry_html(html, "Acme Security")
    assert "Not installed" in acme and "pip install greenroom-acme-security" in acme
    assert 'href="https://acme.example/"' in acme
    assert f">{LONG[:160]}...</p>" in acme  # cut at 160 characters exactly
    assert f'title="{LONG}"' in acme  # the whole text is one hover away
    assert "Explore" not in acme  # no documentation link to explore

    # A bundled icon is served by the page; entries without one get the default.
    assert 'src="/plugins/icons/greenroom%3Apagerduty"' in pagerduty
    icon = client.get("/plugins/icons/greenroom:pagerduty")
    assert icon.status_code == 200 and "<title>pd</title>" in icon.text
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert "default-src 'none'" in icon.headers["content-security-policy"]
    default = client.get("/plugins/icons/greenroom-acme-security:")
    assert default.status_code == 200 and default.content == DEFAULT_ICON.read_bytes()
    assert client.get("/plugins/icons/nobody:").status_code == 404


def test_search_covers_title_description_category_author_and_tags(client: TestClient) -> None:
    def titles(**params: Any) -> list[str]:
        html = client.get("/plugins", params=params).text
        return [t for section in outline(html).values() for t in section]

    assert titles(q="splunk") == ["Splunk On-Call"]
    assert titles(q="victor team") == ["Splunk On-Call"]  # author, every word must appear
    assert titles(q="paging") == ["PagerDuty"]  # tag
    assert titles(q="security") == ["Acme Security"]
    assert titles(q="core feature") == ["Beta Core", "Response metrics", "Alpha Core"]  # category
    assert titles(q="more words") == ["Acme Security"]  # description beyond the cut

    html = client.get("/plugins", params={"q": "nothing-like-this"}).text
    assert outline(html) == {}
    assert '<p class="empty marketplace-none" >No plugins found</p>' in html
    assert 'value="nothing-like-this"' in html  # the search box keeps what was typed


def test_category_filter_is_multi_select_and_in_the_url(client: TestClient) -> None:
    html = client.get("/plugins?category=Security&category=Metrics").text
    assert outline(html) == {"all": ["Acme Security"], "inactive": ["Old Thing"]}
    assert 'value="Security" checked' in html and 'value="Metrics" checked' in html
    assert 'value="Monitoring" >' in html  # unchecked
    assert 'method="get" action="/plugins"' in html


def test_tag_chips_filter_and_can_be_removed(client: TestClient) -> None:
    html = client.get("/plugins").text
    assert '<a class="chip" href="/plugins?tag=on-call">on-call</a>' in html
    filtered = client.get("/plugins?tag=on-call").text
    assert outline(filtered) == {"all": ["PagerDuty", "Splunk On-Call"]}
    assert 'href="/plugins" aria-label="Remove tag on-call"' in filtered
    combined = client.get("/plugins?tag=on-call&q=pager").text
    assert outline(combined) == {"all": ["PagerDuty"]}
    assert 'href="/plugins?q=pager" aria-label="Remove tag on-call"' in combined


def test_invalid_entries_are_skipped_and_the_page_says_why(client: TestClient) -> None:
    html = client.get("/plugins").text
    assert "1 directory entry skipped because it is invalid" in html
    assert "greenroom marketplace lint" in html
    assert "<code>broken.yaml</code>: status: unknown status &#39;retired&#39;" in html
    assert "Broken" not in [t for s in outline(html).values() for t in s]


def test_json_is_the_same_data_and_is_in_openapi(client: TestClient) -> None:
    data = client.get("/api/marketplace").json()
    assert [s["id"] for s in data["sections"]] == ["core", "all", "inactive"]
    assert [s["count"] for s in data["sections"]] == [3, 3, 1]
    by_title = {p["title"]: p for s in data["sections"] for p in s["plugins"]}
    assert by_title["PagerDuty"]["state"] == {
        "installed": True, "version": "0.1.0", "status": "enabled", "reason": None,
        "install_command": "pip install greenroom",
    }
    assert by_title["PagerDuty"]["is_new"] is True
    assert by_title["Acme Security"]["state"]["installed"] is False
    assert by_title["Acme Security"]["short_description"].endswith("...")
    assert data["skipped_count"] == 1 and data["skipped"][0]["file"] == "broken.yaml"

    filtered = client.get("/api/marketplace?q=pager").json()
    assert filtered["total"] == 1 and filtered["query"] == "pager"

    schema = client.get("/openapi.json").json()
    assert "/api/marketplace" in schema["paths"]
    assert "/plugins" not in schema["paths"]
    assert "MarketplaceListing" in schema["components"]["schemas"]


def test_directory_defaults_to_marketplace_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "marketplace", "x.yaml", "title: Here\nauthor: A\npackageName: x-here\n")
    monkeypatch.chdir(tmp_path)
    client = make_client(StandInPortal(StandInConfig({}), []))
    titles = [p["title"] for s in client.get("/api/marketplace").json()["sections"]
              for p in s["plugins"]]
    assert "Here" in titles


def test_a_configured_directory_that_is_missing_is_reported_not_fatal(tmp_path: Path) -> None:
    config = StandInConfig({"marketplace.directory": "nowhere"}, tmp_path / "app-config.yaml")
    client = make_client(StandInPortal(config, []))
    response = client.get("/plugins")
    assert response.status_code == 200
    assert "skipped" in response.text and "not found" in response.text


def test_real_portal_shows_bundled_plugins_and_a_disabled_one(tmp_path: Path) -> None:
    from greenroom._portal import build_portal
    from greenroom.web._app import create_app

    (tmp_path / "conf").mkdir()
    config = write(
        tmp_path / "conf",
        "app-config.yaml",
        f"""\
        marketplace:
          directory: {Path("..") / "dir"}
        plugins:
          splunk-on-call:
            enabled: false
        """,
    )
    # Relative to the config file, not to the current folder.
    for name in ("pagerduty.yaml", "splunk-on-call.yaml"):
        write(tmp_path / "dir", name, (REPO / "marketplace" / name).read_text(encoding="utf-8"))
    (tmp_path / "dir" / "icons").mkdir()
    for icon in (REPO / "marketplace" / "icons").iterdir():
        (tmp_path / "dir" / "icons" / icon.name).write_bytes(icon.read_bytes())

    portal = build_portal([config], demo=False)
    with TestClient(create_app(portal)) as client:
        html = client.get("/plugins").text
        data = client.get("/api/marketplace").json()
    states = {p["title"]: p["state"] for s in data["sections"] for p in s["plugins"]}
    assert states["PagerDuty"]["status"] == "enabled"
    assert states["PagerDuty"]["installed"] is True
    assert states["Splunk On-Call"]["status"] == "disabled"
    assert 'badge badge-disabled">disabled' in entry_html(html, "Splunk On-Call")
    assert 'aria-current="page"' in html.split('href="/plugins"', 1)[1][:40]  # nav marks the page


def test_outside_the_repository_every_installed_plugin_is_listed_failed_ones_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from greenroom._portal import build_portal
    from greenroom.web._app import create_app

    # An installed third-party plugin whose import raises, and which ships no entry.
    site = tmp_path / "site"
    fake_distribution(site, "greenroom-shaky", "0.3.0", {"shaky": "greenroom_shaky:plugin"})
    write(site / "greenroom_shaky", "__init__.py", "raise RuntimeError('shaky is broken')\n")
    monkeypatch.syspath_prepend(str(site))
    elsewhere = tmp_path / "elsewhere"  # no ./marketplace here: only shipped entries
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = write(elsewhere, "app-config.yaml", "app:\n  title: Elsewhere\n")

    with TestClient(create_app(build_portal([config], demo=False))) as client:
        html = client.get("/plugins").text
        data = client.get("/api/marketplace").json()
    plugins = {p["title"]: p for s in data["sections"] for p in s["plugins"]}
    assert plugins["Response metrics"]["state"]["status"] == "enabled"
    assert plugins["Response metrics"]["category"] == "Core Feature"
    assert plugins["PagerDuty"]["state"]["status"] == "enabled"
    shaky = plugins["shaky"]
    assert shaky["state"]["installed"] is True and shaky["state"]["status"] == "failed"
    assert "shaky is broken" in shaky["state"]["reason"]
    assert shaky["package_name"] == "greenroom-shaky" and shaky["entry_point"] == "shaky"
    assert 'badge badge-failed">failed' in entry_html(html, "shaky")
    assert "no plugin directory entry describes it" in entry_html(html, "shaky")


def test_json_refuses_an_unknown_category_and_names_the_known_ones(client: TestClient) -> None:
    refused = client.get("/api/marketplace?category=false")
    assert refused.status_code == 422
    assert "Core Feature" in refused.text
    assert client.get("/api/marketplace?category=Monitoring").status_code == 200
    schema = client.get("/openapi.json").json()
    [category] = [p for p in schema["paths"]["/api/marketplace"]["get"]["parameters"]
                  if p["name"] == "category"]
    assert "Core Feature" in json.dumps(category["schema"])

"""The plugin directory: entry schema, lint, check, merge with shipped entries, derived state,
and the /plugins page and /api/marketplace JSON (with a stand-in portal)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import date, timedelta
from html.parser import HTMLParser
from importlib.metadata import PathDistribution
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient

from greenroom import Identity
from greenroom._marketplace import (
    InstalledPlugins,
    MarketplaceEntry,
    check_marketplace,
    lint_directory,
    load_directory,
    load_marketplace,
    plugin_state,
)
from greenroom.cli import marketplace_main as main
from greenroom.web import _api_routes, _audit, _coverage, _incidents, _mapping, _pages
from greenroom.web._app import page_templates
from greenroom.web._marketplace import DEFAULT_ICON, router
from greenroom.web._session import Sessions
from greenroom.web._sign_in import SignInMiddleware

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "marketplace"
BROKEN = FIXTURES / "broken"
TODAY = date(2026, 3, 1)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def fake_distribution(
    root: Path, name: str, version: str, entry_points: dict[str, str], shipped: str | None = None
) -> PathDistribution:
    """A real dist-info folder on disk (as pip leaves it), optionally with a plugin package that
    ships ``marketplace.yaml``."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = "".join(f"{ep} = {target}\n" for ep, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[greenroom]\n{lines}", encoding="utf-8")
    if shipped is not None:
        top = next(iter(entry_points.values())).split(":")[0].split(".")[0]
        write(root / top, "__init__.py", "")
        write(root / top, "marketplace.yaml", shipped)
    return PathDistribution(info)


# -- schema and lint ---------------------------------------------------------------------------


def test_repository_directory_passes_lint() -> None:
    assert lint_directory(REPO / "marketplace") == []
    loaded = load_directory(REPO / "marketplace")
    identities = {item.entry.identity for item in loaded.entries}
    assert ("greenroom", "pagerduty") in identities
    assert ("greenroom", "splunk-on-call") in identities


def test_lint_names_each_problem_in_broken_fixtures() -> None:
    problems = {(Path(p.file).name, p.field): p for p in lint_directory(BROKEN)}

    assert "required field is missing" in problems[("missing-author.yaml", "author")].reason
    long = problems[("long-description.yaml", "description")]
    assert long.reason == "is 171 characters long, at most 170 are allowed"
    assert long.line == 4
    assert "'YYYY-MM-DD'" in problems[("bad-date.yaml", "addedDate")].reason
    assert "http(s) URL" in problems[("bad-url.yaml", "documentation")].reason
    assert "unknown status 'retired'" in problems[("unknown-status.yaml", "status")].reason
    category = problems[("unknown-category.yaml", "category")]
    assert "unknown category 'Gardening'" in category.reason
    assert "Monitoring" in category.reason  # says what to use instead
    yaml_error = problems[("yaml-error.yaml", "(yaml)")]
    assert yaml_error.reason.startswith("invalid YAML") and yaml_error.line == 4
    assert "already used by" in problems[("b-same-title.yaml", "title")].reason
    # Identity compares normalised distribution names: Greenroom_Original == greenroom-original.
    duplicate = problems[("c-same-identity.yaml", "packageName")]
    assert "a-original.yaml" in duplicate.reason
    assert "packageName" in problems[("npm-package-name.yaml", "npmPackageName")].reason
    assert not any(Path(p.file).name == "a-original.yaml" for p in problems.values())


def test_lint_command_exits_non_zero_and_prints_file_field_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["lint", str(BROKEN)]) == 1
    out = capsys.readouterr().out
    assert f"{BROKEN / 'bad-date.yaml'}:4: addedDate: must be a date" in out
    assert f"{BROKEN / 'missing-author.yaml'}: author: required field is missing" in out

    assert main(["lint", str(REPO / "marketplace")]) == 0


def test_description_of_exactly_170_characters_is_valid() -> None:
    base = {"title": "T", "author": "A", "packageName": "p"}
    valid = MarketplaceEntry.model_validate({**base, "description": "x" * 170})
    assert len(valid.description) == 170
    with pytest.raises(ValueError):
        MarketplaceEntry.model_validate({**base, "description": "x" * 171})


def test_unquoted_yaml_date_is_accepted_but_a_timestamp_is_not(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "title: A\nauthor: B\npackageName: a\naddedDate: 2024-05-01\n")
    write(tmp_path, "b.yaml", "title: B\nauthor: B\npackageName: b\naddedDate: 1714521600\n")
    problems = lint_directory(tmp_path)
    assert [(Path(p.file).name, p.field) for p in problems] == [("b.yaml", "addedDate")]


def test_bundled_icon_path_must_exist_and_stay_inside(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "title: A\nauthor: B\npackageName: a\niconUrl: icons/missing.svg\n")
    write(tmp_path, "b.yaml", "title: B\nauthor: B\npackageName: b\niconUrl: ../secret.svg\n")
    problems = {Path(p.file).name: p for p in lint_directory(tmp_path)}
    assert "no image at 'icons/missing.svg'" in problems["a.yaml"].reason
    assert "no '..'" in problems["b.yaml"].reason


def test_missing_directory_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    problems = lint_directory(tmp_path / "nowhere")
    assert len(problems) == 1 and "not found" in problems[0].reason


# -- installed packages: check, shipped entries, merge -----------------------------------------


ENTRY = """\
title: {title}
author: Someone
packageName: {package}
entryPoint: {ep}
category: Monitoring
"""


def test_check_reports_missing_entry_point_and_unlisted_plugin(tmp_path: Path) -> None:
    site = tmp_path / "site"
    installed = InstalledPlugins.scan(
        [
            fake_distribution(site, "greenroom-acme", "1.2.0", {"acme": "greenroom_acme:plugin"}),
            fake_distribution(site, "greenroom-extra", "0.3.0", {"extra": "greenroom_extra:p"}),
        ]
    )
    directory = tmp_path / "marketplace"
    write(directory, "acme.yaml", ENTRY.format(title="Acme", package="greenroom-acme", ep="acmee"))
    write(directory, "gone.yaml", ENTRY.format(title="Gone", package="not-installed", ep="x"))

    problems = check_marketplace(directory, installed)
    reasons = [p.reason for p in problems]
    assert any(
        "greenroom-acme 1.2.0 is installed but has no entry point 'acmee'" in r
        and "provides: acme" in r
        for r in reasons
    )
    assert any("installed plugin 'acme' of greenroom-acme 1.2.0 has no entry" in r for r in reasons)
    assert any("installed plugin 'extra' of greenroom-extra" in r for r in reasons)
    # Entries for packages that are not installed are not checked against anything.
    assert not any("not-installed" in r for r in reasons)

    write(directory, "acme.yaml", ENTRY.format(title="Acme", package="greenroom-acme", ep="acme"))
    write(directory, "extra.yaml", ENTRY.format(title="X", package="Greenroom_Extra", ep="extra"))
    assert check_marketplace(directory, installed) == []


def test_check_passes_for_this_repository() -> None:
    assert check_marketplace(REPO / "marketplace") == []


def test_shipped_entry_merges_with_repository_file_field_by_field(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shipped = """\
        title: Acme Paging
        author: Acme Inc.
        category: Monitoring
        description: Shipped description.
        tags: [paging]
        """
    installed = InstalledPlugins.scan(
        [fake_distribution(site, "greenroom-acme", "1.2.0", {"acme": "greenroom_acme:plugin"},
                           shipped=shipped)]
    )
    # Without a repository file the shipped entry appears, identity filled in from its package.
    alone = load_marketplace(None, installed)
    assert [(i.entry.title, i.entry.identity) for i in alone.entries] == [
        ("Acme Paging", ("greenroom-acme", "acme"))
    ]

    directory = tmp_path / "marketplace"
    write(
        directory,
        "acme.yaml",
        """\
        title: Acme
        author: Acme Inc.
        packageName: greenroom-acme
        entryPoint: acme
        description: Repository description.
        """,
    )
    merged = load_marketplace(directory, installed)
    [item] = merged.entries
    assert item.entry.title == "Acme"  # the repository wins where it sets a field
    assert item.entry.description == "Repository description."
    assert item.entry.tags == ["paging"]  # fields it leaves out come from the package
    assert item.entry.category == "Monitoring"
    # A relative icon the package ships resolves inside the package.
    assert item.base == site / "greenroom_acme"


def test_invalid_shipped_entry_is_reported_not_listed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    installed = InstalledPlugins.scan(
        [fake_distribution(site, "greenroom-bad", "1.0", {"bad": "greenroom_bad:plugin"},
                           shipped="title: Bad\nauthor: B\nstatus: gone\n")]
    )
    loaded = load_marketplace(None, installed)
    assert loaded.entries == []
    assert [(Path(p.file).name, p.field) for p in loaded.problems] == [
        ("marketplace.yaml", "status")
    ]


@dataclass
class Record:
    id: str
    entry_point: str
    distribution: str
    version: str
    state: str
    error: str | None = None


def entry(**fields: Any) -> MarketplaceEntry:
    return MarketplaceEntry.model_validate({"title": "T", "author": "A", **fields})


def test_state_comes_from_metadata_and_plugin_host(tmp_path: Path) -> None:
    installed = InstalledPlugins.scan(
        [fake_distribution(tmp_path, "greenroom-acme", "1.2.0", {"acme": "greenroom_acme:p"})]
    )
    acme = entry(packageName="greenroom-acme", entryPoint="acme")
    # The host records the entry point as written in entry_points.txt.
    failed = Record(
        "acme", "acme = greenroom_acme:p", "greenroom_acme", "1.2.0", "failed", "ImportError: boom"
    )

    state = plugin_state(acme, installed, [failed])
    assert (state.installed, state.version, state.status, state.reason) == (
        True, "1.2.0", "failed", "ImportError: boom"
    )
    assert plugin_state(acme, installed, []).status == "not-loaded"

    missing = plugin_state(entry(packageName="greenroom-nope", entryPoint="x"), installed, [])
    assert (missing.installed, missing.version, missing.status) == (False, None, None)
    assert missing.install_command == "pip install greenroom-nope"

    wrong_ep = plugin_state(entry(packageName="greenroom-acme", entryPoint="other"), installed, [])
    assert wrong_ep.status == "not-loaded" and "no entry point 'other'" in (wrong_ep.reason or "")


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


def test_a_package_cannot_ship_an_entry_for_another_package(tmp_path: Path) -> None:
    site = tmp_path / "site"
    installed = InstalledPlugins.scan(
        [fake_distribution(site, "greenroom-rogue", "1.0", {"rogue": "greenroom_rogue:plugin"},
                           shipped="title: PagerDuty\nauthor: Rogue\npackageName: greenroom\n"
                           "entryPoint: pagerduty\ndescription: Totally official.\n")]
    )
    loaded = load_marketplace(None, installed)
    assert loaded.entries == []
    [problem] = loaded.problems
    assert problem.field == "packageName"
    assert "shipped by greenroom-rogue but describes 'greenroom'" in problem.reason


def test_module_and_greenroom_command_run_lint(tmp_path: Path) -> None:
    from greenroom.cli import main as greenroom_main

    result = subprocess.run(
        [sys.executable, "-m", "greenroom.cli", "marketplace", "lint", str(BROKEN)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1
    assert "unknown category 'Gardening'" in result.stdout
    assert "problem(s) in 10 file(s)" in result.stderr

    assert greenroom_main(["marketplace", "lint", str(REPO / "marketplace")]) == 0
    assert greenroom_main(["marketplace", "lint", str(BROKEN)]) == 1


def test_json_refuses_an_unknown_category_and_names_the_known_ones(client: TestClient) -> None:
    refused = client.get("/api/marketplace?category=false")
    assert refused.status_code == 422
    assert "Core Feature" in refused.text
    assert client.get("/api/marketplace?category=Monitoring").status_code == 200
    schema = client.get("/openapi.json").json()
    [category] = [p for p in schema["paths"]["/api/marketplace"]["get"]["parameters"]
                  if p["name"] == "category"]
    assert "Core Feature" in json.dumps(category["schema"])

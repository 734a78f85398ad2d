"""One test per hook, each through the real host and web app: a hand-written plugin object that
implements that hook (and ``greenroom_plugin_id``, which names it) and nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from greenroom import (
    ApiHolder,
    Capability,
    Card,
    CardContext,
    Entity,
    Incident,
    IncidentStatus,
    PageSection,
    PluginIdError,
    SectionContext,
    Simulator,
    create_api_factory,
    create_api_ref,
    hookimpl,
)
from greenroom._portal import Portal, build_portal
from greenroom.web import create_app

ENTITY = "/catalog/default/component/checkout"
greeter_ref = create_api_ref("plugin.hooked.greeter")


def _config(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        "metadata: {name: checkout, annotations: {hooked/service: shop}}\n"
        "spec: {type: service, owner: team-a}\n"
    )
    path = tmp_path / "app-config.yaml"
    path.write_text(
        "catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n" + extra
    )
    return path


class Named:
    """Only ``greenroom_plugin_id``: the id comes from the hook, not an attribute."""

    @hookimpl
    def greenroom_plugin_id(self) -> str:
        return "hooked"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    clients: list[TestClient] = []

    def start(plugin: object, extra: str = "", **kwargs: Any) -> tuple[Portal, TestClient]:
        kwargs.setdefault("demo", False)
        portal = build_portal(
            [_config(tmp_path, extra)], plugins=[plugin], load_entry_points=False, **kwargs
        )
        client = TestClient(create_app(portal))
        client.__enter__()
        clients.append(client)
        return portal, client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def test_greenroom_plugin_id_names_a_plugin_without_an_id_attribute(serve: Any) -> None:
    portal, client = serve(Named())
    assert [r.id for r in portal.plugin_records] == ["hooked"]
    assert client.get("/api/plugins").json()[0]["state"] == "enabled"


def test_a_bad_plugin_id_says_where_it_came_from_and_how_to_fix_it(tmp_path: Path) -> None:
    class Badly:
        @hookimpl
        def greenroom_plugin_id(self) -> str:
            return "Acme_Pager"

    with pytest.raises(PluginIdError) as caught:
        build_portal([_config(tmp_path)], plugins=[Badly()], load_entry_points=False, demo=False)
    message = str(caught.value)
    assert "'Acme_Pager'" in message and "greenroom_plugin_id()" in message
    assert "lowercase letters and digits" in message and "'acme-pager'" in message


def test_greenroom_api_factories_registers_the_plugins_apis(serve: Any) -> None:
    class Factories(Named):
        @hookimpl
        def greenroom_api_factories(self) -> list[Any]:
            return [create_api_factory(greeter_ref, "hello from hooked")]

    portal, _ = serve(Factories())
    assert portal.registry.get(greeter_ref) == "hello from hooked"
    assert portal.registry.registration_owner(greeter_ref) == "hooked"


def test_greenroom_cards_puts_a_card_on_the_entity_page(serve: Any) -> None:
    async def render(ctx: CardContext) -> str:
        return f"<p>HOOKED CARD for {ctx.entity.name}</p>"

    class Cards(Named):
        @hookimpl
        def greenroom_cards(self) -> list[Card]:
            return [Card(id="hooked-card", title="Hooked", render=render)]

    _, client = serve(Cards())
    assert "HOOKED CARD for checkout" in client.get(ENTITY).text


def test_greenroom_routes_mounts_under_the_plugin_id(serve: Any) -> None:
    class Routes(Named):
        @hookimpl
        def greenroom_routes(self, apis: ApiHolder) -> APIRouter:
            router = APIRouter()

            @router.get("/ping")
            async def ping() -> dict[str, bool]:
                return {"configured": apis.get(greeter_ref) is None}

            return router

    _, client = serve(Routes())
    assert client.get("/api/hooked/ping").json() == {"configured": True}
    assert "/api/hooked/ping" in client.get("/openapi.json").json()["paths"]


class OneIncident:
    id = "hooked"
    title = "Hooked Pager"
    annotations = ("hooked/service",)
    capabilities = frozenset({Capability.INCIDENTS})

    def is_available(self, entity: Entity) -> bool:
        return "hooked/service" in entity.annotations

    async def list_incidents(self, entity: Entity, **kwargs: Any) -> list[Incident]:
        from datetime import UTC, datetime

        return [Incident(provider="hooked", id="H1", title="Hooked outage", entity_ref=entity.ref,
                         status=IncidentStatus.TRIGGERED, created_at=datetime.now(UTC))]


def test_greenroom_incident_providers_feeds_the_incidents_view(serve: Any) -> None:
    provider_ref = create_api_ref("plugin.hooked.provider")

    class Providers(Named):
        @hookimpl
        def greenroom_api_factories(self) -> list[Any]:
            return [create_api_factory(provider_ref, OneIncident())]

        @hookimpl
        def greenroom_incident_providers(self) -> list[Any]:
            return [provider_ref]

    _, client = serve(Providers())
    incidents = client.get("/api/incidents").json()["incidents"]
    assert [(i["provider"], i["id"], i["title"]) for i in incidents] == [
        ("hooked", "H1", "Hooked outage")
    ]


def test_greenroom_simulators_are_served_by_the_demo_and_configured(serve: Any) -> None:
    def vendor() -> FastAPI:
        app = FastAPI()

        @app.get("/whoami")
        async def whoami() -> dict[str, str]:
            return {"vendor": "hooked"}

        return app

    class Simulators(Named):
        @hookimpl
        def greenroom_simulators(self) -> list[Simulator]:
            return [Simulator(plugin_id="hooked", app=vendor, proxy_route="/hooked",
                              config={"hooked": {"vendorUrl": "{url}"}})]

    portal, client = serve(Simulators(), demo=True)
    assert client.get("/_simulators/hooked/whoami").json() == {"vendor": "hooked"}
    assert portal.config.get("hooked.vendorUrl").endswith("/_simulators/hooked")
    assert "/hooked" in portal.config.get("proxy.endpoints")


def test_greenroom_settings_model_validates_the_plugins_config(serve: Any) -> None:
    class HookedSettings(BaseModel):
        greeting: str
        retries: int = 1

    class Settings(Named):
        @hookimpl
        def greenroom_settings_model(self) -> type[BaseModel]:
            return HookedSettings

    portal, _ = serve(Settings(), "plugins:\n  hooked:\n    greeting: hi\n    retries: 3\n")
    assert portal.settings["hooked"] == HookedSettings(greeting="hi", retries=3)


def test_greenroom_startup_runs_once_when_the_portal_starts(serve: Any) -> None:
    started: list[object] = []

    class Startup(Named):
        @hookimpl
        async def greenroom_startup(self, apis: ApiHolder) -> None:
            started.append(apis)

    portal, _ = serve(Startup())
    assert started == [portal.registry]


def test_greenroom_secret_config_keys_are_redacted_and_scrubbed(serve: Any) -> None:
    class Secrets(Named):
        @hookimpl
        def greenroom_secret_config_keys(self) -> list[str]:
            return ["hooked.webhookUrl"]

    url = "https://hooks.example.com/T000/B000/very-secret-path"
    portal, client = serve(Secrets(), f"hooked:\n  webhookUrl: {url}\n")
    assert portal.config.get("hooked.webhookUrl") == url
    assert "very-secret-path" not in portal.config.dump_redacted()
    assert "very-secret-path" not in portal.scrub(f"POST {url} failed")


def test_a_card_predicate_that_asks_for_apis_is_given_the_portals(serve: Any) -> None:
    seen: list[object] = []

    async def render(ctx: CardContext) -> str:
        return "<p>GREETED CARD</p>"

    def greeted(entity: Entity, apis: ApiHolder) -> bool:
        seen.append(apis.get(greeter_ref))
        return apis.get(greeter_ref) == "hello from hooked"

    class Both(Named):
        @hookimpl
        def greenroom_api_factories(self) -> list[Any]:
            return [create_api_factory(greeter_ref, "hello from hooked")]

        @hookimpl
        def greenroom_cards(self) -> list[Card]:
            return [Card(id="greeted", title="Greeted", render=render, is_available=greeted)]

    _, client = serve(Both())
    assert "GREETED CARD" in client.get(ENTITY).text
    assert seen and set(seen) == {"hello from hooked"}


def test_greenroom_page_sections_add_to_the_entity_and_home_pages(serve: Any) -> None:
    async def notice(ctx: SectionContext) -> str:
        assert ctx.entity is not None
        link = ctx.path_for("incidents_page")
        return (f'<p class="hooked-notice">HOOKED NOTICE for {ctx.entity.name} by '
                f'{ctx.identity.display_name}, <a href="{link}">incidents</a></p>')

    async def banner(ctx: SectionContext) -> str | None:
        return "<p>HOOKED BANNER</p>" if ctx.entity is None and ctx.page == "home" else None

    async def broken(ctx: SectionContext) -> str:
        raise RuntimeError("section bug")

    async def hanging(ctx: SectionContext) -> str:
        await asyncio.sleep(3600)
        return "<p>NEVER</p>"

    class Sections(Named):
        @hookimpl
        def greenroom_page_sections(self) -> list[PageSection]:
            return [
                PageSection(id="hooked-broken", page="entity", render=broken),
                PageSection(id="hooked-hanging", page="entity", render=hanging, timeout=0.5),
                PageSection(id="hooked-notice", page="entity", render=notice),
                PageSection(id="hooked-banner", page="home", render=banner),
            ]

    portal, client = serve(Sections(), "auth:\n  allowGuests: true\n")
    sections = portal.sections_for("entity")
    # The portal's own coverage reminder comes through the same hook, first.
    assert [(s.plugin_id, s.id) for s in sections] == [
        ("greenroom-coverage", "coverage-reminder"), ("hooked", "hooked-broken"),
        ("hooked", "hooked-hanging"), ("hooked", "hooked-notice"),
    ]
    entity_page = client.get(ENTITY)
    assert entity_page.status_code == 200
    # Placed above the cards; the section that raised and the one that hung are left out.
    assert 'HOOKED NOTICE for checkout by Guest, <a href="/incidents">' in entity_page.text
    assert "section bug" not in entity_page.text and "NEVER" not in entity_page.text
    assert "HOOKED BANNER" not in entity_page.text
    home = client.get("/")
    assert "HOOKED BANNER" in home.text and "HOOKED NOTICE" not in home.text
    # A section that raises leaves its plugin running (as a card's error does).
    assert client.get("/api/plugins").json()[0]["state"] == "enabled"


def test_a_page_section_for_an_unknown_page_fails_its_plugin_with_the_fix(serve: Any) -> None:
    async def render(ctx: SectionContext) -> str:
        return "<p>NOWHERE</p>"

    class Misplaced(Named):
        @hookimpl
        def greenroom_page_sections(self) -> list[PageSection]:
            return [PageSection(id="misplaced", page="sidebar", render=render)]

    portal, client = serve(Misplaced())
    record = client.get("/api/plugins").json()[0]
    assert record["state"] == "failed"
    assert "'sidebar'" in record["error"] and "entity, home" in record["error"]
    assert [s.plugin_id for s in portal.sections_for("entity")] == ["greenroom-coverage"]
    assert "NOWHERE" not in client.get(ENTITY).text

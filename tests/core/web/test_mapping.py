"""The service-mapping pages through the real web app with an in-memory provider: listing,
suggestions, saving and removing (audited, refused without permission), the index, and the
store's lifetime."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from greenroom import (
    Capability,
    Entity,
    MappableService,
    ServiceDirectoryProvider,
    create_api_factory,
    create_api_ref,
    create_plugin,
)
from greenroom._mapping_sql import SqlMappingStore
from greenroom._portal import build_portal
from greenroom.web import create_app

from ..test_mapping import ANNOTATION, CATALOG, SERVICES

# -- the page ----------------------------------------------------------------------------------


class DirectoryProvider:
    id = "alpha"
    title = "Alpha Pager"
    annotations = (ANNOTATION,)
    capabilities = frozenset({Capability.INCIDENTS})

    def __init__(self) -> None:
        self.fail: Exception | None = None

    def is_available(self, entity: Entity) -> bool:
        return bool(entity.annotations.get(ANNOTATION))

    async def list_incidents(self, entity: Entity, **_: Any) -> list[Any]:
        return []

    async def mappable_services(self) -> Sequence[MappableService]:
        if self.fail is not None:
            raise self.fail
        return SERVICES


@pytest.fixture
def alpha() -> DirectoryProvider:
    return DirectoryProvider()


SIGNED_IN: dict[str, Any] = {
    "client": ("127.0.0.1", 50000), "headers": {"X-Forwarded-Email": "ada@example.com"},
}


def _portal(tmp_path: Path, alpha: DirectoryProvider) -> Any:
    (tmp_path / "catalog-info.yaml").write_text(CATALOG)
    config = tmp_path / "app-config.yaml"
    config.write_text(
        "catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n"
        # Guests never act: requests come from a trusted proxy naming the user.
        "auth:\n  provider: proxy\n"
        "  proxy: {header: X-Forwarded-Email, trustedProxies: [127.0.0.1/32]}\n"
    )
    ref = create_api_ref("plugin.alpha.provider")
    plugin = create_plugin(id="alpha", apis=[create_api_factory(ref, alpha)], providers=[ref])
    return build_portal([config], plugins=[plugin], load_entry_points=False, demo=False)


@pytest.fixture
def client(tmp_path: Path, alpha: DirectoryProvider) -> Iterator[TestClient]:
    with TestClient(create_app(_portal(tmp_path, alpha)), **SIGNED_IN) as test_client:
        yield test_client


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def _save(client: TestClient, entity: str, service: str) -> Any:
    page = client.get("/mapping/alpha")
    return client.post(
        "/mapping/alpha",
        data={"csrf_token": _csrf(page.text), "entity": entity, "service": service},
    )


def test_provider_protocol(alpha: DirectoryProvider) -> None:
    assert isinstance(alpha, ServiceDirectoryProvider)


def test_page_lists_entities_services_and_suggestions(client: TestClient) -> None:
    page = client.get("/mapping/alpha")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    assert "Suggested: Ledger Service (similar name)" in text
    assert f"<code>{ANNOTATION}: checkout</code>" in text and "Annotated in the catalog" in text
    assert "team-pay" not in re.findall(r'data-entity="([^"]+)"', page.text)  # groups are not


def test_saving_maps_the_entity_in_memory_only(client: TestClient, tmp_path: Path) -> None:
    on_disk = (tmp_path / "catalog-info.yaml").read_bytes()
    answer = _save(client, "component:default/ledger-service", "S-LED")
    assert answer.status_code == 200 and "Ledger is mapped to Ledger Service" in answer.text
    portal = client.app.state.portal  # type: ignore[attr-defined]
    ledger = portal.catalog.find("default", "component", "ledger-service")
    assert ledger.annotations[ANNOTATION] == "ledger"
    assert ledger.annotations["github.com/project-slug"] == "acme/ledger"  # nothing removed
    assert [p.provider.id for p in portal.providers() if p.provider.is_available(ledger)] == [
        "alpha"
    ]
    assert (tmp_path / "catalog-info.yaml").read_bytes() == on_disk
    export = client.get("/mapping/alpha/export").text
    assert "# component:default/ledger-service" in export and f"    {ANNOTATION}: ledger" in export

    # An empty choice removes the mapping, and with it the annotation it added.
    _save(client, "component:default/ledger-service", "")
    ledger = portal.catalog.find("default", "component", "ledger-service")
    assert ANNOTATION not in ledger.annotations
    assert "ledger-service" not in client.get("/mapping/alpha/export").text


def test_a_mapping_of_an_annotated_entity_says_the_annotation_wins(client: TestClient) -> None:
    answer = _save(client, "component:default/checkout", "S-ID")
    assert "own catalog annotation wins" in answer.text
    assert "this wins over the saved mapping" in answer.text
    portal = client.app.state.portal  # type: ignore[attr-defined]
    checkout = portal.catalog.find("default", "component", "checkout")
    assert checkout.annotations[ANNOTATION] == "checkout"


def test_refusals_change_nothing(client: TestClient, alpha: DirectoryProvider) -> None:
    client.get("/mapping/alpha")
    forged = client.post(
        "/mapping/alpha",
        data={
            "csrf_token": "forged",
            "entity": "component:default/ledger-service",
            "service": "S-LED",
        },
    )
    assert forged.status_code == 403
    assert _save(client, "component:default/ledger-service", "nope").status_code == 400
    assert _save(client, "component:default/nobody", "S-LED").status_code == 400
    alpha.fail = RuntimeError("vendor down")
    assert _save(client, "component:default/ledger-service", "S-LED").status_code == 502
    assert client.app.state.mapping_store.all() == []  # type: ignore[attr-defined]
    assert client.get("/mapping/nope").status_code == 404


def test_mappings_outlive_a_restart(tmp_path: Path, alpha: DirectoryProvider) -> None:
    with TestClient(create_app(_portal(tmp_path, alpha)), **SIGNED_IN) as first:
        _save(first, "component:default/ledger-service", "S-LED")
    with TestClient(create_app(_portal(tmp_path, alpha)), **SIGNED_IN) as second:
        portal = second.app.state.portal  # type: ignore[attr-defined]
        ledger = portal.catalog.find("default", "component", "ledger-service")
        assert ledger.annotations[ANNOTATION] == "ledger"


def _rules_portal(tmp_path: Path, alpha: DirectoryProvider, rules: str) -> Any:
    (tmp_path / "catalog-info.yaml").write_text(CATALOG)
    config = tmp_path / "app-config.yaml"
    config.write_text(
        "catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n"
        "auth:\n  provider: proxy\n"
        "  proxy: {header: X-Forwarded-Email, groupsHeader: X-Forwarded-Groups,"
        " trustedProxies: [127.0.0.1/32]}\n" + rules
    )
    ref = create_api_ref("plugin.alpha.provider")
    plugin = create_plugin(id="alpha", apis=[create_api_factory(ref, alpha)], providers=[ref])
    return build_portal([config], plugins=[plugin], load_entry_points=False, demo=False)


def test_saving_and_removing_are_in_the_audit_trail(client: TestClient) -> None:
    _save(client, "component:default/ledger-service", "S-LED")
    _save(client, "component:default/ledger-service", "")
    entries = client.get("/api/audit?action=mapping.edit").json()["entries"]
    assert [(e["action"], e["outcome"], e["entity"], e["actor"]["email"], e["provider"])
            for e in entries] == [
        ("mapping.edit", "succeeded", "component:default/ledger-service", "ada@example.com",
         "alpha"),
    ] * 2
    # Newest first: the removal, then the mapping with what it set.
    assert "remove the mapping" in entries[0]["summary"]
    assert f"{ANNOTATION}: ledger" in entries[1]["summary"]


def test_a_refused_mapping_saves_nothing_and_is_audited(
    tmp_path: Path, alpha: DirectoryProvider
) -> None:
    rules = (
        "permissions:\n  rules:\n    - {actions: [mapping.edit], allow: [group:catalog-admins]}\n"
    )
    with TestClient(create_app(_rules_portal(tmp_path, alpha, rules)), **SIGNED_IN) as client:
        page = client.get("/mapping/alpha")
        # The button is shown disabled with the reason, not hidden.
        row = re.search(
            r'<tr data-entity="component:default/ledger-service">.*?</tr>', page.text, re.S
        )
        assert row and "disabled" in row.group(0) and "permission-reason" in row.group(0)
        answer = _save(client, "component:default/ledger-service", "S-LED")
        assert answer.status_code == 403 and "catalog-admins" in answer.text
        assert client.app.state.mapping_store.all() == []  # type: ignore[attr-defined]
        portal = client.app.state.portal  # type: ignore[attr-defined]
        ledger = portal.catalog.find("default", "component", "ledger-service")
        assert ANNOTATION not in ledger.annotations
        [entry] = client.get("/api/audit?action=mapping.edit").json()["entries"]
        assert (entry["action"], entry["outcome"]) == ("mapping.edit", "refused")
        # A member of the group may.
        admin = {"X-Forwarded-Email": "ada@example.com", "X-Forwarded-Groups": "catalog-admins"}
        page = client.get("/mapping/alpha", headers=admin)
        answer = client.post(
            "/mapping/alpha", headers=admin,
            data={"csrf_token": _csrf(page.text), "entity": "component:default/ledger-service",
                  "service": "S-LED"},
        )
        assert answer.status_code == 200 and "Ledger is mapped to Ledger Service" in answer.text


def test_the_index_links_each_mapping_page_and_the_nav_links_the_index(
    client: TestClient,
) -> None:
    _save(client, "component:default/ledger-service", "S-LED")
    index = client.get("/mapping")
    assert index.status_code == 200
    assert '<a href="/mapping/alpha">Alpha Pager</a>' in index.text
    assert "1 entity mapped" in index.text
    home = client.get("/")
    assert re.search(r'<nav aria-label="Main">.*href="/mapping".*</nav>', home.text, re.S)


def test_the_store_is_closed_with_the_portal(tmp_path: Path, alpha: DirectoryProvider) -> None:
    closed: list[str] = []
    app = create_app(_portal(tmp_path, alpha))
    with TestClient(app, **SIGNED_IN) as client:
        _save(client, "component:default/ledger-service", "S-LED")
        store = client.app.state.mapping_store  # type: ignore[attr-defined]
        assert isinstance(store, SqlMappingStore)
        database = store.database
        original = database.close
        database.close = lambda: (closed.append("closed"), original())[1]
        assert client.get("/readyz").status_code == 200
    assert closed == ["closed"]

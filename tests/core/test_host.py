"""The plugin host: entry-point discovery, isolation of broken plugins, central duplicate checks,
strict mode, and enabling/disabling by config.

Discovery is tested for real: the fixture packages under ``fixtures/plugins/`` are installed with
pip into a temporary virtual environment that sees this repository's editable install, and the
``greenroom`` command runs there. Everything else builds a portal in-process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel

from greenroom import (
    ApiHolder,
    Card,
    CardContext,
    ConfigError,
    DuplicateApiFactoryError,
    DuplicatePluginError,
    Entity,
    config_api_ref,
    create_api_factory,
    create_api_ref,
    create_plugin,
    hookimpl,
)
from greenroom._exceptions import PluginLoadError
from greenroom._portal import Portal, build_portal
from greenroom.web import create_app

FIXTURES = Path(__file__).parent / "fixtures" / "plugins"
ENTITY_PATH = "/catalog/default/component/checkout"

# --- a real plugin installed from a folder --------------------------------------------------------


@pytest.fixture(scope="module")
def plugin_venv(tmp_path_factory: pytest.TempPathFactory, venv_factory: Any) -> Path:
    """A venv over the environment running the tests (where greenroom is installed editable) with
    the fixture plugins pip-installed into it."""
    root = tmp_path_factory.mktemp("plugin-venv")
    venv = venv_factory(root / "venv")
    python = venv / "bin" / "python"
    sources = []
    for name in ("hello", "broken"):
        source = root / "src" / name
        shutil.copytree(FIXTURES / name, source)
        shutil.copy(FIXTURES / "fixture_backend.py", source)
        sources.append(str(source))
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", *sources],
        capture_output=True, text=True,
    )
    assert installed.returncode == 0, installed.stderr
    return python


def _greenroom(python: Path, *args: str, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "GREENROOM_STRICT"}
    environment.pop("GREENROOM_CONFIG", None)
    environment.update(env or {})
    return subprocess.run(
        [str(python), "-m", "greenroom.cli", *args],
        capture_output=True, text=True, env=environment, cwd=cwd, timeout=120,
    )


def _by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {record["id"]: record for record in records}


def test_installed_plugin_is_discovered_through_its_entry_point(plugin_venv: Path) -> None:
    result = _greenroom(plugin_venv, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    records = _by_id(json.loads(result.stdout))

    assert records["hello"] == {
        "id": "hello",
        "entryPoint": "hello = greenroom_fixture_hello:plugin",
        "distribution": "greenroom-fixture-hello",
        "version": "1.2.3",
        "state": "enabled",
        "error": None,
    }
    # The bundled plugins come through the same entry-point group.
    assert records["pagerduty"]["distribution"] == "greenroom"
    assert records["splunk-on-call"]["distribution"] == "greenroom"


def test_plugin_raising_on_import_is_listed_as_failed_with_its_error(plugin_venv: Path) -> None:
    result = _greenroom(plugin_venv, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    broken = _by_id(json.loads(result.stdout))["broken"]
    assert broken["state"] == "failed"
    assert broken["distribution"] == "greenroom-fixture-broken"
    assert broken["error"] == (
        "Plugin broken failed in import: RuntimeError: greenroom-fixture-broken cannot start: "
        "its vendor SDK is not installed"
    )

    table = _greenroom(plugin_venv, "plugins")
    assert "broken" in table.stdout and "failed" in table.stdout
    assert "its vendor SDK is not installed" in table.stdout


def test_portal_serves_the_other_plugins_when_one_is_broken(plugin_venv: Path) -> None:
    script = textwrap.dedent(
        """
        import json
        from fastapi.testclient import TestClient
        from greenroom._portal import build_portal
        from greenroom.web import create_app

        portal = build_portal([], demo=False)
        with TestClient(create_app(portal)) as client:
            greeting = client.get("/api/hello/greeting")
            plugins = client.get("/api/plugins").json()
            health = client.get("/healthz")
        print(json.dumps({
            "greeting": [greeting.status_code, greeting.json()],
            "states": {p["id"]: p["state"] for p in plugins},
            "health": health.status_code,
        }))
        """
    )
    environment = {k: v for k, v in os.environ.items() if k != "GREENROOM_STRICT"}
    result = subprocess.run(
        [str(plugin_venv), "-c", script], capture_output=True, text=True, env=environment,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["greeting"] == [200, {"greeting": "Hello from a plugin"}]
    assert seen["states"]["hello"] == "enabled"
    assert seen["states"]["broken"] == "failed"
    assert seen["health"] == 200


def test_strict_mode_stops_on_a_plugin_that_raises_on_import(plugin_venv: Path) -> None:
    result = _greenroom(plugin_venv, "plugins", "--json", env={"GREENROOM_STRICT": "1"})
    assert result.returncode != 0
    assert "Plugin broken failed in import" in result.stderr
    assert result.stdout == ""


def test_installed_plugin_disabled_in_config(plugin_venv: Path, tmp_path: Path) -> None:
    config = tmp_path / "app-config.yaml"
    config.write_text("plugins:\n  hello:\n    enabled: false\n  broken:\n    enabled: false\n")
    result = _greenroom(plugin_venv, "plugins", "--json", "--config", str(config))
    assert result.returncode == 0, result.stderr
    records = _by_id(json.loads(result.stdout))
    assert records["hello"]["state"] == "disabled"
    # A disabled plugin is not even imported, so a broken one stops failing.
    assert records["broken"]["state"] == "disabled"
    assert records["broken"]["error"] is None


# --- in-process portals ---------------------------------------------------------------------------


def _catalog_config(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "catalog-info.yaml").write_text(
        textwrap.dedent(
            """
            apiVersion: backstage.io/v1alpha1
            kind: Component
            metadata:
              name: checkout
            spec:
              type: service
              owner: team-a
            """
        )
    )
    config = tmp_path / "app-config.yaml"
    config.write_text(
        "catalog:\n  locations:\n    - type: file\n      target: catalog-info.yaml\n" + extra
    )
    return config


def _text_card(card_id: str, text: str, **kwargs: Any) -> Card:
    async def render(ctx: CardContext) -> str:
        return f"<p>{text}</p>"

    return Card(id=card_id, title=card_id.title(), render=render, **kwargs)


def _router(answer: str) -> Any:
    def routes(apis: ApiHolder) -> APIRouter:
        router = APIRouter()

        @router.get("/ping")
        async def ping() -> dict[str, str]:
            return {"answer": answer}

        return router

    return routes


def healthy_plugin() -> Any:
    return create_plugin(
        id="healthy",
        apis=[create_api_factory(create_api_ref("plugin.healthy.api"), "healthy api")],
        cards=[_text_card("healthy-card", "HEALTHY CARD BODY")],
        routes=_router("healthy"),
    )


def _portal(tmp_path: Path, *plugins: Any, extra_config: str = "", **kwargs: Any) -> Portal:
    return build_portal(
        [_catalog_config(tmp_path, extra_config)], plugins=list(plugins),
        load_entry_points=False, demo=False, **kwargs,
    )


@pytest.fixture
def client_for() -> Iterator[Any]:
    clients: list[TestClient] = []

    def make(portal: Portal) -> TestClient:
        client = TestClient(create_app(portal))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def _states(portal: Portal) -> dict[str, tuple[str, str | None]]:
    return {r.id: (r.state, r.error) for r in portal.plugin_records}


def _assert_healthy_serves(client: TestClient) -> None:
    assert client.get("/api/healthy/ping").json() == {"answer": "healthy"}
    page = client.get(ENTITY_PATH)
    assert page.status_code == 200
    assert "HEALTHY CARD BODY" in page.text
    assert client.get("/healthz").json()["status"] == "ok"


def test_duplicate_plugin_id_fails_the_second(tmp_path: Path, client_for: Any) -> None:
    twin = create_plugin(id="healthy", cards=[_text_card("twin-card", "TWIN BODY")])
    portal = _portal(tmp_path, healthy_plugin(), twin)
    failed = [r for r in portal.plugin_records if r.state == "failed"]
    assert [(r.id, r.error) for r in failed] == [("healthy", "Duplicate plugin found 'healthy'")]
    client = client_for(portal)
    _assert_healthy_serves(client)
    assert "TWIN BODY" not in client.get(ENTITY_PATH).text


def test_duplicate_plugin_id_in_strict_mode(tmp_path: Path) -> None:
    twin = create_plugin(id="healthy")
    with pytest.raises(DuplicatePluginError, match=r"^Duplicate plugin found 'healthy'$"):
        _portal(tmp_path, healthy_plugin(), twin, strict=True)


def test_duplicate_api_factory_fails_the_plugin_that_came_second(
    tmp_path: Path, client_for: Any
) -> None:
    own = create_api_ref("plugin.thief.own")
    thief = create_plugin(
        id="thief",
        apis=[
            create_api_factory(own, "registered before the clash"),
            create_api_factory(create_api_ref("plugin.healthy.api"), "stolen"),
        ],
        cards=[_text_card("thief-card", "THIEF BODY")],
    )
    portal = _portal(tmp_path, healthy_plugin(), thief)
    state, error = _states(portal)["thief"]
    assert state == "failed"
    assert error is not None and error.endswith(
        "Plugin thief tried to register duplicate or forbidden API factory for "
        "apiRef{plugin.healthy.api}"
    )
    assert portal.registry.get(create_api_ref("plugin.healthy.api")) == "healthy api"
    # A failed plugin contributes nothing, including the factories it registered first.
    assert portal.registry.get(own) is None
    client = client_for(portal)
    _assert_healthy_serves(client)
    assert "THIEF BODY" not in client.get(ENTITY_PATH).text


def test_a_plugin_cannot_replace_a_static_core_api(tmp_path: Path) -> None:
    usurper = create_plugin(id="usurper", apis=[create_api_factory(config_api_ref, {"fake": 1})])
    with pytest.raises(DuplicateApiFactoryError) as caught:
        _portal(tmp_path, usurper, strict=True)
    assert str(caught.value) == (
        "Plugin usurper tried to register duplicate or forbidden API factory for "
        "apiRef{core.config}"
    )
    portal = _portal(tmp_path, usurper)
    assert _states(portal)["usurper"][0] == "failed"
    assert portal.registry.get(config_api_ref) is portal.config


def test_duplicate_card_id_fails_the_second_plugin(tmp_path: Path, client_for: Any) -> None:
    copycat = create_plugin(id="copycat", cards=[_text_card("healthy-card", "COPYCAT BODY")])
    portal = _portal(tmp_path, healthy_plugin(), copycat)
    state, error = _states(portal)["copycat"]
    assert state == "failed"
    assert error is not None and (
        "Plugin copycat tried to register duplicate card 'healthy-card' "
        "(already registered by plugin healthy)" in error
    )
    client = client_for(portal)
    _assert_healthy_serves(client)
    assert "COPYCAT BODY" not in client.get(ENTITY_PATH).text


class MisspeltHook:
    """Hand-written plugin whose author typed ``greenroom_card`` for ``greenroom_cards``."""

    id = "misspelt"

    @hookimpl
    def greenroom_card(self) -> list[Card]:
        return [_text_card("misspelt-card", "MISSPELT BODY")]


def test_misspelt_hook_name_is_an_error(tmp_path: Path, client_for: Any) -> None:
    portal = _portal(tmp_path, healthy_plugin(), MisspeltHook())
    state, error = _states(portal)["misspelt"]
    assert state == "failed"
    assert error is not None and "greenroom_card" in error and "unknown hook" in error
    _assert_healthy_serves(client_for(portal))


def test_misspelt_hook_name_raises_in_strict_mode(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match="unknown hook 'greenroom_card'"):
        _portal(tmp_path, MisspeltHook(), strict=True)


class RaisingHook:
    id = "raising-hook"

    @hookimpl
    def greenroom_cards(self) -> list[Card]:
        raise RuntimeError("card list unavailable")

    @hookimpl
    def greenroom_routes(self, apis: ApiHolder) -> APIRouter:
        return _router("raising")(apis)


def test_hook_that_raises_fails_its_plugin_and_the_portal_serves(
    tmp_path: Path, client_for: Any
) -> None:
    portal = _portal(tmp_path, healthy_plugin(), RaisingHook())
    assert _states(portal)["raising-hook"] == (
        "failed",
        "Plugin raising-hook failed in hook greenroom_cards: RuntimeError: card list unavailable",
    )
    client = client_for(portal)
    _assert_healthy_serves(client)
    # Its other contributions are dropped too.
    assert client.get("/api/raising-hook/ping").status_code == 404


def test_factory_that_raises_fails_its_plugin_and_the_portal_serves(
    tmp_path: Path, client_for: Any
) -> None:
    def explode() -> object:
        raise ConnectionError("vendor SDK could not reach its licence server")

    bad = create_plugin(
        id="bad-factory",
        apis=[create_api_factory(api=create_api_ref("plugin.bad-factory.api"), factory=explode)],
        cards=[_text_card("bad-factory-card", "BAD FACTORY BODY")],
    )
    portal = _portal(tmp_path, healthy_plugin(), bad)
    state, error = _states(portal)["bad-factory"]
    assert state == "failed"
    assert error is not None and "vendor SDK could not reach its licence server" in error
    assert "apiRef{plugin.bad-factory.api}" in error
    client = client_for(portal)
    _assert_healthy_serves(client)
    assert "BAD FACTORY BODY" not in client.get(ENTITY_PATH).text


def test_predicate_that_raises_hides_the_card_and_fails_its_plugin(
    tmp_path: Path, client_for: Any
) -> None:
    def is_available(entity: Entity) -> bool:
        raise KeyError("spec.system")

    flaky = create_plugin(
        id="flaky", cards=[_text_card("flaky-card", "FLAKY BODY", is_available=is_available)]
    )
    client = client_for(_portal(tmp_path, healthy_plugin(), flaky))
    page = client.get(ENTITY_PATH)
    assert page.status_code == 200
    assert "HEALTHY CARD BODY" in page.text
    assert "FLAKY BODY" not in page.text
    states = {p["id"]: p for p in client.get("/api/plugins").json()}
    assert states["flaky"]["state"] == "failed"
    assert "predicate of card flaky-card" in states["flaky"]["error"]


def test_strict_env_variable_stops_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREENROOM_STRICT", "1")
    with pytest.raises(PluginLoadError, match="card list unavailable"):
        _portal(tmp_path, healthy_plugin(), RaisingHook())
    monkeypatch.setenv("GREENROOM_STRICT", "0")
    assert _states(_portal(tmp_path, healthy_plugin(), RaisingHook()))["raising-hook"][0] == (
        "failed"
    )


def test_strict_mode_does_not_fail_pages_after_start_up(tmp_path: Path, client_for: Any) -> None:
    def is_available(entity: Entity) -> bool:
        raise KeyError("spec.system")

    flaky = create_plugin(
        id="flaky", cards=[_text_card("flaky-card", "FLAKY BODY", is_available=is_available)]
    )
    client = client_for(_portal(tmp_path, healthy_plugin(), flaky, strict=True))
    page = client.get(ENTITY_PATH)
    assert page.status_code == 200
    assert "HEALTHY CARD BODY" in page.text


def test_disabled_plugin_has_no_cards_routes_or_apis(tmp_path: Path, client_for: Any) -> None:
    portal = _portal(
        tmp_path, healthy_plugin(), extra_config="plugins:\n  healthy:\n    enabled: false\n"
    )
    assert _states(portal)["healthy"] == ("disabled", None)
    assert portal.registry.get(create_api_ref("plugin.healthy.api")) is None
    assert portal.cards == []
    client = client_for(portal)
    assert client.get("/api/healthy/ping").status_code == 404
    assert "HEALTHY CARD BODY" not in client.get(ENTITY_PATH).text
    assert "/api/healthy/ping" not in client.get("/openapi.json").json()["paths"]
    assert {p["id"]: p["state"] for p in client.get("/api/plugins").json()} == {
        "healthy": "disabled"
    }


def test_enabled_is_the_default_and_can_be_explicit(tmp_path: Path, client_for: Any) -> None:
    portal = _portal(
        tmp_path, healthy_plugin(), extra_config="plugins:\n  healthy:\n    enabled: true\n"
    )
    assert _states(portal)["healthy"] == ("enabled", None)
    _assert_healthy_serves(client_for(portal))


class GreetingSettings(BaseModel):
    greeting: str = "Hello"
    retries: int = 3


def test_plugin_settings_are_validated_and_given_to_cards(
    tmp_path: Path, client_for: Any
) -> None:
    async def render(ctx: CardContext) -> str:
        return f"<p>{ctx.settings.greeting} x{ctx.settings.retries}</p>"

    plugin = create_plugin(
        id="greeter", settings_model=GreetingSettings,
        cards=[Card(id="greeter-card", title="Greeter", render=render)],
    )
    portal = _portal(
        tmp_path, plugin,
        extra_config="plugins:\n  greeter:\n    enabled: true\n    greeting: Howdy\n",
    )
    assert portal.settings["greeter"] == GreetingSettings(greeting="Howdy")
    assert "Howdy x3" in client_for(portal).get(ENTITY_PATH).text


def test_wrong_plugin_setting_names_file_key_path_and_expectation(tmp_path: Path) -> None:
    plugin = create_plugin(id="greeter", settings_model=GreetingSettings)
    extra = "plugins:\n  greeter:\n    retries: many\n"
    portal = _portal(tmp_path, plugin, extra_config=extra)
    state, error = _states(portal)["greeter"]
    assert state == "failed"
    assert error is not None
    assert "app-config.yaml" in error and "plugins.greeter.retries" in error
    assert "integer" in error
    with pytest.raises(ConfigError, match=r"plugins\.greeter\.retries"):
        _portal(tmp_path, plugin, extra_config=extra, strict=True)

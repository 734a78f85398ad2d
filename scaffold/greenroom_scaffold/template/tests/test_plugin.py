"""The portal finds the plugin through its entry point, and its APIs wire up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points

import httpx
from greenroom import (
    ApiRegistry,
    FetchApi,
    IncidentProvider,
    Plugin,
    Scope,
    create_api_factory,
    discovery_api_ref,
    fetch_api_ref,
)

import __GR_MODULE__
from __GR_MODULE__ import (
    __GR_CLASS__Client,
    __GR_SNAKE___api_ref,
    __GR_SNAKE___provider_ref,
)

# Imported through the package, as the entry point `__GR_MODULE__:plugin` does.
plugin = __GR_MODULE__.plugin
PLUGIN_ID = "__GR_ID__"


class _Discovery:
    def get_base_url(self, plugin_id: str) -> str:
        return f"http://portal.test/api/{plugin_id}"


def test_the_host_finds_the_plugin_by_its_entry_point() -> None:
    found = [ep for ep in entry_points(group="greenroom") if ep.name == PLUGIN_ID]
    assert len(found) == 1, "the entry point is missing: run `pip install -e .` first"
    loaded = found[0].load()
    assert isinstance(loaded, Plugin)
    assert loaded.id == PLUGIN_ID
    assert loaded is plugin


def test_the_portal_lists_the_plugin_as_enabled() -> None:
    # `greenroom plugins --json`, as an operator would run it (without any config of theirs).
    env = {name: value for name, value in os.environ.items() if name != "GREENROOM_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "greenroom.cli", "plugins", "--json"],
        capture_output=True, text=True, env=env, check=False,
    )
    assert result.returncode == 0, result.stderr
    records = {record["id"]: record for record in json.loads(result.stdout)}
    assert PLUGIN_ID in records, f"the portal lists only {sorted(records)}"
    assert records[PLUGIN_ID]["state"] == "enabled", records[PLUGIN_ID]["error"]
    assert records[PLUGIN_ID]["distribution"] == "__GR_DIST__"


def test_the_client_goes_through_the_proxy_route() -> None:
    registry = ApiRegistry()
    fetch = FetchApi(transport=httpx.MockTransport(lambda request: httpx.Response(500)))
    registry.register(Scope.STATIC, create_api_factory(fetch_api_ref, fetch))
    registry.register(Scope.STATIC, create_api_factory(discovery_api_ref, _Discovery()))
    for factory in plugin.apis:
        assert registry.register(Scope.DEFAULT, factory)
    registry.validate()

    client = registry.get(__GR_SNAKE___api_ref)
    assert isinstance(client, __GR_CLASS__Client)
    assert client.base_url == "http://portal.test/api/proxy/__GR_ID__"
    assert client.fetch is fetch
    assert isinstance(registry.get(__GR_SNAKE___provider_ref), IncidentProvider)
    assert plugin.providers == (__GR_SNAKE___provider_ref,)


def test_the_demo_serves_the_simulator_with_an_annotated_entity() -> None:
    (simulator,) = plugin.simulators
    assert simulator.proxy_route == "/__GR_ID__"
    assert "__GR_ID__.example.com/service" in simulator.catalog
    assert simulator.proxy_headers, "the demo proxy route must add the simulator's token"

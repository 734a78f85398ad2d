"""The plugin as the host sees it: through its entry point, with the ids the issue names."""

from __future__ import annotations

from pathlib import Path

from greenroom._host import PluginHost
from greenroom._portal import build_portal
from greenroom_splunk_on_call import plugin, splunk_on_call_api_ref


def test_the_host_loads_the_plugin_from_its_entry_point() -> None:
    host = PluginHost()
    host.load_entry_points()
    found = [s for _pid, sims in host._each("greenroom_simulators") for s in sims]
    assert "splunk-on-call" in {s.plugin_id for s in found}


def test_ids_and_contributions() -> None:
    assert plugin.id == "splunk-on-call"
    assert splunk_on_call_api_ref.id == "plugin.splunk-on-call.api"
    assert list(plugin.providers) == [splunk_on_call_api_ref]
    [card] = plugin.cards
    assert (card.id, card.title, sorted(card.actions)) == (
        "splunk-on-call",
        "Splunk On-Call",
        ["acknowledge", "resolve", "trigger"],
    )
    [simulator] = plugin.simulators
    assert simulator.proxy_route == "/splunk-on-call"
    assert simulator.config["proxy"]["endpoints"]["/splunk-on-call"]["target"] == "{url}/api-public"
    assert "splunk.com/on-call-routing-key: checkout-web" in simulator.catalog
    assert "name: payments-api" not in simulator.catalog  # the PagerDuty demo defines it


def test_the_rest_endpoint_is_a_secret_the_plugin_declares(tmp_path: Path) -> None:
    """Its path holds the integration key, so `config check` and every scrubbed text hide it."""
    endpoint = "https://alert.victorops.com/integrations/generic/20131114/alert/abcdef123456"
    config = tmp_path / "app-config.yaml"
    config.write_text(f"splunkOnCall:\n  eventsRestEndpoint: {endpoint}\n")
    portal = build_portal([config], demo=False, env={})
    assert portal.config.get("splunkOnCall.eventsRestEndpoint") == endpoint
    assert "abcdef123456" not in portal.config.dump_redacted()
    assert "abcdef123456" not in portal.scrub(f"failed to reach {endpoint}")

"""Coverage evaluated: states against a provider plugin and the real PagerDuty plugin, the web views
and the CLI (the policy's rules are in test_coverage_policy, the report in test_coverage_report)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from greenroom import (
    Capability,
    ConfigError,
    CoverageCheck,
    Entity,
    RequestFailedError,
    create_api_factory,
    create_api_ref,
    create_plugin,
)
from greenroom._coverage import annotation_snippets, evaluate
from greenroom._portal import build_portal, run_startup
from greenroom.cli import coverage_main as main
from greenroom.web import create_app
from greenroom_pagerduty.simulator import (
    CHECKOUT_SERVICE_ID,
    LEGACY_SERVICE_ID,
    PAYMENTS_SERVICE_ID,
)
from greenroom_pagerduty.simulator import create_app as pagerduty_simulator

POLICY = """\
coverage:
  rules:
    - name: production-services
      description: Every production service must have on-call support.
      kinds: [Component, API]
      lifecycles: [production]
"""

CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: covered-svc, annotations: {acme.io/team: payments}}
spec: {type: service, lifecycle: production, owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: bare-svc}
spec: {type: service, lifecycle: production, owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: ghost-api, annotations: {acme.io/team: ghost}}
spec: {type: openapi, lifecycle: production, owner: group:default/team-b}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: flaky-svc, annotations: {acme.io/team: down}}
spec: {type: service, lifecycle: production, owner: team-b}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: toy, annotations: {}}
spec: {type: service, lifecycle: experimental, owner: team-a}
"""


class AcmeProvider:
    """A third-party provider: only its ``annotations`` tell Greenroom what it covers."""

    id = "acme"
    title = "Acme Paging"
    capabilities = frozenset({Capability.INCIDENTS})
    annotations = ("acme.io/team", "acme.io/routing-key")

    def is_available(self, entity: Entity) -> bool:
        return any(k in entity.annotations for k in self.annotations)

    async def check_coverage(self, entity: Entity) -> CoverageCheck:
        team = entity.annotations["acme.io/team"]
        if team == "down":
            raise RequestFailedError(503, ["maintenance"])
        if team == "ghost":
            return CoverageCheck("broken", 'Acme has no team "ghost"', self.id)
        return CoverageCheck("covered", f"Acme team {team}", self.id)


def acme_plugin() -> object:
    ref = create_api_ref("plugin.acme.provider")
    return create_plugin(id="acme", apis=[create_api_factory(ref, AcmeProvider())],
                         providers=[ref])


def write_config(folder: Path, policy: str = POLICY, catalog: str = CATALOG) -> Path:
    (folder / "catalog-info.yaml").write_text(catalog)
    config = folder / "app-config.yaml"
    config.write_text(
        "catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n" + policy
    )
    return config


def portal_for(folder: Path, policy: str = POLICY) -> object:
    return build_portal([write_config(folder, policy)], plugins=[acme_plugin()],
                        load_entry_points=False, demo=False)


def test_bad_policy_stops_the_app_at_start_up(tmp_path: Path) -> None:
    portal = portal_for(tmp_path, "coverage:\n  rules:\n    - {name: r, kinds: API}\n")
    with pytest.raises(ConfigError, match=r"coverage\.rules\[0\]\.kinds"):
        create_app(portal)


# --- evaluating ----------------------------------------------------------------------------------


async def test_states_grouping_totals_and_percentage(tmp_path: Path) -> None:
    report = await evaluate(portal_for(tmp_path))
    states = {e.entity.name: e.state for e in report.entries}
    # toy is experimental: no rule selects it. flaky-svc's vendor is down: nobody could
    # confirm it, so it is unknown and does not count. ghost-api's team does not exist: broken.
    assert states == {"covered-svc": "covered", "bare-svc": "not-covered",
                      "ghost-api": "broken", "flaky-svc": "unknown"}
    assert (report.total, report.count("covered"), report.percentage) == (4, 1, 25.0)
    assert report.summary == "25% (1 of 4)"
    assert {o: [e.entity.name for e in es] for o, es in report.by_owner().items()} == {
        "team-a": ["bare-svc", "covered-svc"],
        "team-b": ["flaky-svc", "ghost-api"],
    }
    flaky = next(e for e in report.entries if e.entity.name == "flaky-svc")
    assert "Acme Paging could not be asked" in flaky.reason and "maintenance" in flaky.reason


def test_snippets_come_from_provider_annotations() -> None:
    [snippet] = annotation_snippets([AcmeProvider()])
    assert snippet.text == (
        'metadata:\n  annotations:\n    acme.io/team: "<your team>"\n'
        '    # or: acme.io/routing-key: "<your routing-key>"\n'
    )


# --- the web views -------------------------------------------------------------------------------


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(portal_for(tmp_path))) as test_client:
        yield test_client


def test_uncovered_entity_page_shows_the_reminder_with_snippets(client: TestClient) -> None:
    page = client.get("/catalog/default/component/bare-svc").text
    assert "On-call coverage missing" in page
    assert "production-services" in page and "kind Component or API, lifecycle production" in page
    assert "none of their annotations" in page
    assert 'data-provider="acme"' in page
    assert "acme.io/team: &#34;&lt;your team&gt;&#34;" in page


def test_broken_annotation_reminder_says_so(client: TestClient) -> None:
    page = client.get("/catalog/default/api/ghost-api").text
    assert "Its on-call annotation is broken" in page
    assert "Acme has no team &#34;ghost&#34;" in page


def test_no_reminder_when_covered_or_not_selected(client: TestClient) -> None:
    for path in ("/catalog/default/component/covered-svc", "/catalog/default/component/toy"):
        assert "On-call coverage" not in client.get(path).text, path


def test_unknown_coverage_reminder_gives_the_reason(client: TestClient) -> None:
    page = client.get("/catalog/default/component/flaky-svc").text
    assert "On-call coverage unknown" in page and "On-call coverage missing" not in page
    assert "Acme Paging could not be asked" in page and "maintenance" in page


def test_coverage_page_and_filters(client: TestClient) -> None:
    page = client.get("/coverage").text
    assert "25% (1 of 4)" in page
    assert re.findall(r'data-entity="([^"]+)" data-state="([^"]+)"', page) == [
        ("component:default/bare-svc", "not-covered"),
        ("component:default/covered-svc", "covered"),
        ("component:default/flaky-svc", "unknown"),
        ("api:default/ghost-api", "broken"),
    ]
    filtered = client.get("/coverage?owner=team-a&state=not-covered").text
    assert re.findall(r'data-entity="([^"]+)"', filtered) == ["component:default/bare-svc"]


def test_coverage_json(client: TestClient) -> None:
    body = client.get("/api/coverage?owner=team-b").json()
    assert (body["total"], body["covered"], body["broken"], body["notCovered"],
            body["unknown"]) == (2, 0, 1, 0, 1)
    assert body["filters"] == {"owner": "team-b"}
    ghost = body["owners"][0]["entities"][1]
    assert ghost["ref"] == "api:default/ghost-api"
    assert ghost["providers"] == [
        {"provider": "acme", "state": "broken", "reason": 'Acme has no team "ghost"'}
    ]


def test_home_page_shows_the_percentage(client: TestClient) -> None:
    assert "On-call coverage: <a href=\"/coverage\"><strong>25% (1 of 4)</strong>" in (
        client.get("/").text
    )


def test_without_policy_nothing_is_reminded(tmp_path: Path) -> None:
    with TestClient(create_app(portal_for(tmp_path, policy=""))) as client:
        assert "On-call coverage" not in client.get("/").text
        assert "On-call coverage missing" not in client.get(
            "/catalog/default/component/bare-svc").text
        assert "No coverage policy" in client.get("/coverage").text


# --- unknown coverage, against the real PagerDuty plugin and its simulator ---------------------

PD_TOKEN = "coverage-test-token"

PD_CATALOG = f"""\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {{name: paged, annotations: {{pagerduty.com/service-id: {PAYMENTS_SERVICE_ID}}}}}
spec: {{type: service, lifecycle: production, owner: team-a}}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {{name: nobody-on-call, annotations: {{pagerduty.com/service-id: {LEGACY_SERVICE_ID}}}}}
spec: {{type: service, lifecycle: production, owner: team-a}}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: other-account
  annotations: {{pagerduty.com/service-id: {PAYMENTS_SERVICE_ID}, pagerduty.com/account: eu}}
spec: {{type: service, lifecycle: production, owner: team-b}}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {{name: forgotten}}
spec: {{type: service, lifecycle: production, owner: team-b}}
"""


@pytest.fixture
def pagerduty() -> Iterator[tuple[str, object]]:
    """The PagerDuty simulator on a loopback port: its URL and its app (faults via control)."""
    app = pagerduty_simulator(token=PD_TOKEN)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the simulator's server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=10)


def pd_config(folder: Path, url: str, token: str = PD_TOKEN, catalog: str = PD_CATALOG) -> Path:
    config = write_config(folder, catalog=catalog)
    config.write_text(
        config.read_text()
        + f"proxy:\n  endpoints:\n    /pagerduty:\n      target: {url}\n"
        + f"      headers:\n        Authorization: Token token={token}\n"
    )
    return config


async def pd_report(config: Path, timeout: float = 10.0) -> dict[str, object]:
    portal = build_portal([config], demo=False)
    await run_startup(portal)
    try:
        report = await evaluate(portal, timeout=timeout)
    finally:
        await portal.aclose()
    return {e.entity.name: e for e in report.entries}


async def test_unknown_account_and_empty_escalation_policy_are_unknown(
    tmp_path: Path, pagerduty: tuple[str, object]
) -> None:
    entries = await pd_report(pd_config(tmp_path, pagerduty[0]))
    assert {name: e.state for name, e in entries.items()} == {
        "paged": "covered", "nobody-on-call": "unknown", "other-account": "unknown",
        "forgotten": "not-covered",
    }
    assert "escalation policy is empty" in entries["nobody-on-call"].reason
    assert 'names account "eu"' in entries["other-account"].reason


async def test_empty_escalation_policy_is_unknown_from_bulk_reads_too(
    tmp_path: Path, pagerduty: tuple[str, object]
) -> None:
    # Without the bad-account entity PagerDuty answers every entity from its bulk reads.
    two = "---\n".join(PD_CATALOG.split("---\n")[:2])
    entries = await pd_report(pd_config(tmp_path, pagerduty[0], catalog=two))
    assert {name: e.state for name, e in entries.items()} == {
        "paged": "covered", "nobody-on-call": "unknown",
    }
    assert "escalation policy is empty: nobody is on call" in entries["nobody-on-call"].reason


async def test_invalid_token_is_unknown_and_never_shown(
    tmp_path: Path, pagerduty: tuple[str, object]
) -> None:
    entries = await pd_report(pd_config(tmp_path, pagerduty[0], token="wrong-token"))
    assert entries["paged"].state == "unknown"
    assert "PagerDuty could not be asked" in entries["paged"].reason
    assert "wrong-token" not in entries["paged"].reason


async def test_provider_timeout_is_unknown(
    tmp_path: Path, pagerduty: tuple[str, object]
) -> None:
    pagerduty[1].state.control.add_fault(latency=5.0)  # type: ignore[attr-defined]
    entries = await pd_report(pd_config(tmp_path, pagerduty[0]), timeout=0.5)
    assert entries["paged"].state == "unknown"
    assert entries["paged"].reason == "PagerDuty did not answer within 0.5 s"


# --- the command line ----------------------------------------------------------------------------

def test_cli_fails_under_threshold_and_names_the_gaps(
    tmp_path: Path, pagerduty: tuple[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    only_gap = PD_CATALOG.split("---\n")[0] + "---\n" + PD_CATALOG.split("---\n")[3]
    config = pd_config(tmp_path, pagerduty[0], catalog=only_gap)
    assert main(["--config", str(config), "--fail-under", "100"]) == 1
    out, err = capsys.readouterr()
    assert "50% (1 of 2)" in out
    assert "component:default/forgotten (not-covered)" in err
    assert main(["--config", str(config), "--fail-under", "50"]) == 0


def test_cli_fails_on_unknown_unless_allowed(
    tmp_path: Path, pagerduty: tuple[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    config = pd_config(tmp_path, pagerduty[0])
    # 1 of 4 confirmed: 25%. Enough for --fail-under 20, but two entities are unknown.
    assert main(["--config", str(config), "--fail-under", "20"]) == 1
    out, err = capsys.readouterr()
    assert "25% (1 of 4)" in out and "unknown 2" in out
    assert "Coverage of 2 entities is unknown" in err
    assert "component:default/nobody-on-call" in err and "--allow-unknown" in err
    assert main(["--config", str(config), "--fail-under", "20", "--allow-unknown"]) == 0
    # Unknown never counts as covered, allowed or not.
    assert main(["--config", str(config), "--fail-under", "30", "--allow-unknown"]) == 1
    # Without --fail-under the report is only printed.
    assert main(["--config", str(config)]) == 0


def test_cli_passes_once_the_gap_is_fixed(
    tmp_path: Path, pagerduty: tuple[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    fixed = PD_CATALOG.split("---\n")[0] + "---\n" + PD_CATALOG.split("---\n")[3].replace(
        "{name: forgotten}",
        f"{{name: forgotten, annotations: {{pagerduty.com/service-id: {CHECKOUT_SERVICE_ID}}}}}",
    )
    config = pd_config(tmp_path, pagerduty[0], catalog=fixed)
    assert main(["--config", str(config), "--fail-under", "100", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert (body["total"], body["covered"], body["unknown"], body["percentage"]) == (
        2, 2, 0, 100.0
    )


def test_cli_bad_config_and_bad_threshold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, policy="coverage:\n  rules: [{kinds: [API]}]\n")
    assert main(["--config", str(config)]) == 2
    assert "coverage.rules[0].name" in capsys.readouterr().err
    assert main(["--config", str(config), "--fail-under", "120"]) == 2
    assert "between 0 and 100" in capsys.readouterr().err


def test_cli_on_the_demo_names_the_uncovered_service(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--fail-under", "100"]) == 1
    out, err = capsys.readouterr()
    assert "component:default/ledger-service" in err
    assert re.search(r"not-covered\s+component:default/ledger-service", out)

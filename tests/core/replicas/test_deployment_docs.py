"""The README's deployment sample is a config the portal accepts, and it means what the README
says: a shared Redis (its password redacted), a PostgreSQL database, PagerDuty's budget."""

from __future__ import annotations

import re
from pathlib import Path

from greenroom._budget import RateLimit
from greenroom._data import app_secret
from greenroom._portal import build_portal

README = Path(__file__).parents[3] / "README.md"
ENV = {
    "GREENROOM_APP_SECRET": "the-fleet-secret-0123456789abcdefghij",
    "OIDC_CLIENT_SECRET": "oidc-client-secret-value",
    "PAGERDUTY_TOKEN": "pagerduty-token-value",
    "REDIS_PASSWORD": "redis-pass-word-value",
    "DB_PASSWORD": "db-pass-word-value",
}


def _sample() -> str:
    text = README.read_text()
    found = re.search(r"```yaml\n(# app-config\.production\.yaml.*?)```", text, re.S)
    assert found, "the README's deployment sample is missing"
    return found.group(1)


def test_the_deployment_sample_builds_a_portal_that_shares_through_redis(tmp_path: Path) -> None:
    config_file = tmp_path / "app-config.production.yaml"
    config_file.write_text(_sample())
    portal = build_portal([config_file], env=ENV, demo=False)
    config = portal.config
    assert portal.proxy.endpoints["/pagerduty"].rate_limit == RateLimit(960, 60.0)
    assert portal.fetch.shared is not None and portal.fetch.budget is not None
    assert str(config.get("redis.url")).startswith("rediss://")
    assert str(config.get("database.url")).startswith("postgresql+psycopg://")
    assert app_secret(config, tmp_path / "data") == ENV["GREENROOM_APP_SECRET"]
    shown = config.dump_redacted()
    for secret in ENV.values():
        assert secret not in shown

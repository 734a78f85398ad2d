"""A portal over this simulator, as tests and benchmarks set it up: a catalog of Components
mapped to simulated services, and an ``app-config.yaml`` whose ``/pagerduty`` proxy route points
at the simulator with its token.

    config = write_portal_config(tmp_path, simulator_url, token="t", entities=[CHECKOUT_ENTITY])
    portal = build_portal([config], demo=False)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from textwrap import dedent
from typing import Any

import yaml

from ._state import (
    CHECKOUT_INTEGRATION_KEY,
    PAYMENTS_SERVICE_ID,
    SEARCH_SERVICE_ID,
)

# Plugins a portal over this simulator alone leaves off: Splunk On-Call has no simulator here,
# and the response-metrics card reads every incident of the account on each page.
DEFAULT_DISABLED_PLUGINS = ("splunk-on-call", "response-metrics")


@dataclass(frozen=True)
class MappedEntity:
    """A catalog Component mapped to a simulated PagerDuty service by its ``annotations``."""

    name: str
    annotations: Mapping[str, str]
    owner: str = "team-a"
    namespace: str = "default"

    @property
    def ref(self) -> str:
        """The entity reference, ``component:default/<name>``."""
        return f"component:{self.namespace}/{self.name}"

    @property
    def path(self) -> str:
        """The entity page's path, ``/catalog/default/component/<name>``."""
        return f"/catalog/{self.namespace}/component/{self.name}"

    def as_document(self) -> dict[str, Any]:
        """The entity as a Backstage catalog document (``catalog-info.yaml``)."""
        metadata: dict[str, Any] = {"name": self.name, "annotations": dict(self.annotations)}
        if self.namespace != "default":
            metadata["namespace"] = self.namespace
        return {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": metadata,
            "spec": {"type": "service", "owner": self.owner},
        }


#: Checkout, mapped by its integration key (the annotation Backstage's PagerDuty plugin reads).
CHECKOUT_ENTITY = MappedEntity(
    "checkout", {"pagerduty.com/integration-key": CHECKOUT_INTEGRATION_KEY}, "team-a"
)
#: Payments, mapped by its service id.
PAYMENTS_ENTITY = MappedEntity("payments", {"pagerduty.com/service-id": PAYMENTS_SERVICE_ID},
                               "team-b")
#: Search, mapped by its service id.
SEARCH_ENTITY = MappedEntity("search", {"pagerduty.com/service-id": SEARCH_SERVICE_ID}, "team-c")


def write_portal_config(
    folder: Path,
    simulator_url: str,
    *,
    token: str,
    entities: Sequence[MappedEntity] = (CHECKOUT_ENTITY,),
    documents: Sequence[Mapping[str, Any]] = (),
    cache_ttl_seconds: float | None = None,
    webhook_secrets: Iterable[str] = (),
    route: Mapping[str, Any] | None = None,
    disabled_plugins: Iterable[str] = DEFAULT_DISABLED_PLUGINS,
    extra: str = "",
) -> Path:
    """Write ``catalog-info.yaml`` (the ``entities``, then ``documents``: more catalog documents
    as mappings, such as the Users and Groups permission rules read) and ``app-config.yaml``
    into ``folder``; the config's path.

    The config has the ``/pagerduty`` proxy route to ``simulator_url`` with ``token``
    (``route`` adds keys to it, such as ``rateLimit`` or ``credentials``), the fetch cache's
    TTL when given, ``pagerDuty.webhookSecrets`` when given, and ``disabled_plugins`` off.
    ``extra`` is more config as YAML (indented or not); its keys are merged over these, a
    mapping key by key, anything else replacing."""
    catalog = folder / "catalog-info.yaml"
    catalog.write_text(yaml.safe_dump_all(
        [*(entity.as_document() for entity in entities), *map(dict, documents)],
        sort_keys=False,
    ))
    endpoint: dict[str, Any] = {
        "target": simulator_url, "headers": {"Authorization": f"Token token={token}"},
    }
    endpoint.update(route or {})
    config: dict[str, Any] = {
        "catalog": {"locations": [{"type": "file", "target": catalog.name}]},
        "proxy": {"endpoints": {"/pagerduty": endpoint}},
    }
    if cache_ttl_seconds is not None:
        config["fetch"] = {"cacheTtlSeconds": cache_ttl_seconds}
    secrets = list(webhook_secrets)
    if secrets:
        config["pagerDuty"] = {"webhookSecrets": secrets}
    plugins = {plugin: {"enabled": False} for plugin in disabled_plugins}
    if plugins:
        config["plugins"] = plugins
    more = yaml.safe_load(dedent(extra)) if extra.strip() else None
    if more is not None and not isinstance(more, dict):
        raise ValueError(f"extra config must be a YAML mapping, not {type(more).__name__}")
    path = folder / "app-config.yaml"
    path.write_text(yaml.safe_dump(_merged(config, more or {}), sort_keys=False))
    return path


def _merged(base: dict[str, Any], more: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in more.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged

"""The portal: config, plugins, APIs, catalog and proxy wired together in Backstage's order.

Wiring order (Backstage's app wiring, `core-app-api`'s `ApiFactoryRegistry`): static core APIs;
default core APIs; each plugin's factories at
``default``; the operator's factories at ``app``; validate the whole graph; then serve.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._api import ApiFactory, ApiRegistry, Scope, create_api_factory
from ._auth import Access
from ._budget import attach_budget
from ._catalog import Catalog, merge_annotations
from ._catalog_files import load_catalog, load_catalog_text
from ._config import Config, load_config, validate_section
from ._core_apis import (
    Discovery,
    RequestIdentity,
    config_api_ref,
    discovery_api_ref,
    fetch_api_ref,
    identity_api_ref,
    incident_providers_api_ref,
)
from ._entity import Entity
from ._exceptions import ConfigError, GreenroomError
from ._fetch import DEFAULT_CACHE_BYTES, DEFAULT_CACHE_ENTRIES, FetchApi
from ._host import Contributions, PluginHost, PluginRecord
from ._identity import Identity, SignInBackend, guest_identity
from ._live import LiveUpdates, build_live, live_api_ref
from ._plugin import Card, PageSection
from ._provider import IncidentProvider
from ._proxy import ProxyRoutes, parse_proxy_config
from ._scrub import install_log_scrubbing, process_scrubber

log = logging.getLogger("greenroom")

SIMULATOR_PREFIX = "/_simulators"
#: Seconds each plugin's start-up hook may take before the plugin is marked failed.
STARTUP_TIMEOUT = 30.0
DEMO_DIR = Path(__file__).parent / "demo"


@dataclass
class ProviderHandle:
    plugin_id: str
    provider: IncidentProvider


class EnabledProviders:
    """`core.incident-providers`: the incident providers of every enabled plugin."""

    def __init__(self) -> None:
        self.portal: Portal | None = None

    def providers(self) -> list[IncidentProvider]:
        return [h.provider for h in self.portal.providers()] if self.portal else []


@dataclass
class Portal:
    config: Config
    host: PluginHost
    registry: ApiRegistry
    catalog: Catalog
    contributions: Contributions
    fetch: FetchApi
    proxy: ProxyRoutes
    base_url: str
    demo: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    guest: Identity = field(default_factory=lambda: Identity("guest", None, "Guest"))
    #: Who is asking is resolved by these, in order (``auth.provider``; see ``_identity``).
    sign_in: list[SignInBackend] = field(default_factory=list)
    #: Who may act and the audit trail of who did (``greenroom._auth``).
    access: Access | None = None
    problems: list[str] = field(default_factory=list)
    live: LiveUpdates = field(default_factory=LiveUpdates)

    @property
    def plugin_records(self) -> list[PluginRecord]:
        return list(self.host.records.values())

    @property
    def cards(self) -> list[Card]:
        return self.contributions.cards

    def providers(self) -> list[ProviderHandle]:
        live = set(self.host.enabled_ids())
        handles = []
        for plugin_id, ref in self.contributions.providers:
            if plugin_id not in live:
                continue
            try:
                provider = self.registry.get(ref)
            except Exception as exc:  # noqa: BLE001 - a broken factory fails its plugin only
                self.host.mark_failed(plugin_id, f"API factory {ref}", exc)
                continue
            if provider is not None:
                handles.append(ProviderHandle(plugin_id, provider))
        return handles

    def scrub(self, text: str) -> str:
        """``text`` without any secret the config holds: the one scrubber for pages, JSON,
        logs and errors."""
        return self.config.scrub(text)

    def sections_for(self, page: str) -> list[PageSection]:
        """The page sections for ``page`` (see ``SECTION_PAGES``) of the portal's built-ins and
        its enabled plugins."""
        live = set(self.host.enabled_ids()) | set(self.host.builtins)
        return [s for s in self.contributions.sections if s.page == page and s.plugin_id in live]

    def cards_for(self, entity: Entity) -> list[Card]:
        live = set(self.host.enabled_ids())
        return [c for c in self.contributions.cards if c.plugin_id in live]

    async def aclose(self) -> None:
        """Close every API whose factory says how (pools, clients), then the shared HTTP
        client. A close that fails is logged (scrubbed) and the rest still close."""
        for ref, exc in await self.registry.aclose():
            log.error("closing %s failed: %s", ref, self.scrub(f"{type(exc).__name__}: {exc}"))
        await self.live.aclose()
        await self.fetch.aclose()
        if self.access is not None:
            self.access.close()


def _simulator_config(portal_url: str, simulators: Iterable[Any]) -> dict[str, Any]:
    """Demo config pointing each plugin's proxy route at its simulator under this portal."""
    merged: dict[str, Any] = {"proxy": {"endpoints": {}}}
    for sim in simulators:
        url = f"{portal_url}{SIMULATOR_PREFIX}/{sim.plugin_id}"
        endpoint: dict[str, Any] = {"target": url, "headers": dict(sim.proxy_headers)}
        endpoint.update(sim.proxy_options)
        merged["proxy"]["endpoints"][sim.proxy_route] = endpoint
        _deep_merge(merged, _format_urls(sim.config, url))
    return merged


def _format_urls(value: Any, url: str) -> Any:
    if isinstance(value, str):
        return value.replace("{url}", url)
    if isinstance(value, Mapping):
        return {k: _format_urls(v, url) for k, v in value.items()}
    if isinstance(value, list):
        return [_format_urls(v, url) for v in value]
    return value


def _deep_merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value


def _strict_from_env() -> bool:
    return os.environ.get("GREENROOM_STRICT", "").strip().lower() in {"1", "true", "yes"}


def build_portal(
    config_paths: Sequence[str | Path] = (),
    *,
    base_url: str = "http://127.0.0.1:7007",
    demo: bool | None = None,
    env: Mapping[str, str] | None = None,
    plugins: Sequence[Any] = (),
    load_entry_points: bool = True,
    app_apis: Sequence[ApiFactory[Any]] = (),
    strict: bool | None = None,
    fetch: FetchApi | None = None,
) -> Portal:
    """Build a portal. With no config files (and ``demo`` not False) it is the demo."""
    strict = _strict_from_env() if strict is None else strict
    demo = (not config_paths) if demo is None else demo
    base_url = base_url.rstrip("/")

    # Plugins are found before config is read, because the demo's config comes from them.
    preliminary = load_config(list(config_paths), env=env)
    disabled = {
        pid for pid, section in (preliminary.get("plugins") or {}).items()
        if isinstance(section, Mapping) and section.get("enabled") is False
    }
    host = PluginHost(disabled=disabled, strict=strict)
    # The portal's own page sections come through the same public hook as any plugin's.
    from ._coverage_sections import coverage_sections

    host.add_builtin(coverage_sections())
    if load_entry_points:
        host.load_entry_points()
    for obj in plugins:
        host.add(obj)

    defaults: list[dict[str, Any]] = []
    if demo:
        from ._demo import demo_defaults

        defaults.append(demo_defaults())
        defaults.append(_simulator_config(base_url, _simulators_of(host)))
    secret_paths = host.secret_config_keys()
    config = (
        load_config(list(config_paths), env=env, defaults=defaults, secret_paths=secret_paths)
        if defaults or secret_paths
        else preliminary
    )

    settings: dict[str, Any] = {}
    registry = ApiRegistry()
    proxy = ProxyRoutes(parse_proxy_config(config.get("proxy")), f"{base_url}/api/proxy")
    fetch = fetch or FetchApi(
        proxy=proxy,
        cache_ttl=float(config.get("fetch.cacheTtlSeconds", 15)),
        timeout=float(config.get("fetch.timeoutSeconds", 10)),
        cache_entries=int(config.get("fetch.cacheMaxEntries", DEFAULT_CACHE_ENTRIES)),
        cache_bytes=int(config.get("fetch.cacheMaxBytes", DEFAULT_CACHE_BYTES)),
    )
    if getattr(fetch, "shared", False) is None and config.get("redis.url"):
        from ._shared_cache import shared_reads

        fetch.shared = shared_reads(config, proxy_base=str(proxy.base_url))
    attach_budget(config, fetch, proxy)
    guest = guest_identity(config)
    access = _build_access(config, demo, proxy)
    sign_in = access.sign_in_backends(config)
    identity = RequestIdentity(guest)
    registry.register(Scope.STATIC, create_api_factory(config_api_ref, config))
    registry.register(Scope.STATIC, create_api_factory(identity_api_ref, identity))
    registry.register(Scope.DEFAULT, create_api_factory(discovery_api_ref, Discovery(base_url)))
    registry.register(Scope.DEFAULT, create_api_factory(fetch_api_ref, fetch))
    enabled_providers = EnabledProviders()
    registry.register(
        Scope.DEFAULT, create_api_factory(incident_providers_api_ref, enabled_providers)
    )
    live = build_live(config, fetch)
    registry.register(Scope.DEFAULT, create_api_factory(live_api_ref, live))
    host.register_apis(registry)
    for factory in app_apis:
        registry.register(Scope.APP, factory, owner="app")
    registry.validate()

    contributions = host.collect(registry)
    for plugin_id, model in contributions.settings_models.items():
        try:
            settings[plugin_id] = validate_section(
                config, f"plugins.{plugin_id}", model, exclude={"enabled"}
            )
        except ConfigError as exc:
            if strict:
                raise
            host.mark_failed(plugin_id, "settings", exc)
    # Build every plugin API now: a factory that raises fails its plugin, not the portal.
    for factory in registry.factories():
        owner = registry.registration_owner(factory.api)
        if owner in host.records:
            try:
                registry.get(factory.api)
            except GreenroomError:
                raise
            except Exception as exc:  # noqa: BLE001
                host.mark_failed(owner, f"API factory {factory.api}", exc)

    catalog = _load_catalog(config, config_paths, demo, contributions)
    portal = Portal(
        config=config,
        host=host,
        registry=registry,
        catalog=catalog,
        contributions=contributions,
        fetch=fetch,
        proxy=proxy,
        base_url=base_url,
        demo=demo,
        settings=settings,
        guest=guest,
        sign_in=sign_in,
        access=access,
        live=live,
    )
    access.catalog = catalog
    access.permissions = _permissions(config, contributions, proxy)
    live.entities = lambda: portal.catalog.entities
    enabled_providers.portal = portal
    # Log records and CLI output are scrubbed of every portal's secrets (see _scrub).
    process_scrubber.learn(*config.secret_values)
    install_log_scrubbing()
    return portal


def _build_access(config: Config, demo: bool, proxy: ProxyRoutes) -> Access:
    from ._auth import auth_settings, build_access

    return build_access(
        config, auth_settings(config), demo=demo, proxy_routes=list(proxy.endpoints),
    )


def _permissions(config: Config, contributions: Contributions, proxy: ProxyRoutes) -> Any:
    from ._auth import plugin_actions
    from ._permissions import parse_permissions

    return parse_permissions(
        config.get("permissions"), plugin_actions=plugin_actions(contributions.cards),
        proxy_routes=list(proxy.endpoints), location=config.location,
    )


def _simulators_of(host: PluginHost) -> list[Any]:
    sims = []
    for _plugin_id, found in host._each("greenroom_simulators"):
        sims.extend(found)
    return sims


def _load_catalog(
    config: Config, config_paths: Sequence[str | Path], demo: bool, contributions: Contributions
) -> Catalog:
    locations = config.get("catalog.locations") or []
    where = config.location("catalog.locations") if locations else None
    if where and where[0] and not str(where[0]).startswith("<"):
        base_dir = Path(where[0]).parent
    elif config_paths:
        base_dir = Path(config_paths[-1]).parent
    else:
        base_dir = DEMO_DIR
    catalog = load_catalog(locations, base_dir)
    if demo:
        extra_entities: list[Entity] = []
        extra_problems = []
        for sim in contributions.simulators:
            if sim.catalog:
                entities, problems = load_catalog_text(
                    sim.catalog, source=f"<demo:{sim.plugin_id}>"
                )
                extra_entities.extend(entities)
                extra_problems.extend(problems)
        catalog = Catalog.from_entities(
            [*catalog.entities, *merge_annotations(extra_entities)],
            problems=[*catalog.problems, *extra_problems],
        )
    return catalog


async def run_startup(portal: Portal) -> None:
    from ._deadline import call_plugin

    await portal.live.start()
    for plugin_id, hook in portal.host.startup_hooks():
        try:
            await call_plugin(
                hook, apis=portal.registry, timeout=STARTUP_TIMEOUT,
                what=f"start-up hook of plugin {plugin_id}",
            )
        except Exception as exc:  # noqa: BLE001
            portal.host.mark_failed(plugin_id, "startup", exc)
    if portal.access is not None:
        await portal.access.start()
    # Strict mode fails fast at start-up only; once serving, a failure marks its plugin.
    portal.host.serving()

"""The plugin host: finds plugins through entry points, registers them with pluggy, and
collects what they contribute as typed records, checked in one place.

One broken plugin never takes the portal down: a plugin whose import, hook, factory or
predicate raises is marked failed with its error and the rest carry on. With strict mode
(``GREENROOM_STRICT=1``, for CI) any such failure stops start-up instead.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from ._api import ApiFactory, ApiHolder, ApiRef, ApiRegistry, Scope, require_api
from ._core_apis import config_api_ref
from ._exceptions import (
    DuplicateApiFactoryError,
    DuplicateCardError,
    DuplicatePluginError,
    PluginError,
    PluginIdError,
    PluginLoadError,
)
from ._plugin import PROJECT_NAME, SECTION_PAGES, Card, PageSection, Simulator, check_plugin_id

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ._provider import IncidentProvider

log = logging.getLogger("greenroom.plugins")

ENTRY_POINT_GROUP = "greenroom"


@dataclass
class PluginRecord:
    """What the host knows of one plugin: where it came from and whether it runs."""

    id: str
    entry_point: str | None = None
    distribution: str | None = None
    version: str | None = None
    state: str = "enabled"  # enabled | disabled | failed
    error: str | None = None
    plugin: Any = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "entryPoint": self.entry_point,
            "distribution": self.distribution,
            "version": self.version,
            "state": self.state,
            "error": self.error,
        }


@dataclass
class Contributions:
    """Everything the enabled plugins contribute, after central checks."""

    cards: list[Card] = field(default_factory=list)
    sections: list[PageSection] = field(default_factory=list)
    providers: list[tuple[str, ApiRef[IncidentProvider]]] = field(default_factory=list)
    simulators: list[Simulator] = field(default_factory=list)
    settings_models: dict[str, type[BaseModel]] = field(default_factory=dict)
    routes: dict[str, Any] = field(default_factory=dict)


class PluginHost:
    def __init__(self, *, disabled: Iterable[str] = (), strict: bool = False) -> None:
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.disabled = set(disabled)
        self.strict = strict
        self.records: dict[str, PluginRecord] = {}
        #: The portal's own features that use the public hooks (not listed as plugins).
        self.builtins: dict[str, PluginRecord] = {}
        self._scrub: Callable[[str], str] = lambda text: text
        self._serving = False

    def use_scrubber(self, scrub: Callable[[str], str]) -> None:
        """Remove secrets from plugin errors (those already recorded, and every later one):
        they are shown by ``/api/plugins``, ``greenroom plugins`` and the logs."""
        self._scrub = scrub
        for record in self.records.values():
            if record.error:
                record.error = scrub(record.error)

    # -- discovery --------------------------------------------------------------------------

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load every entry point of ``group`` one at a time (pluggy's own loader stops at the
        first broken one)."""
        seen: set[tuple[str, str]] = set()
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            # The same distribution can be visible twice (editable install + site-packages).
            if (ep.name, ep.value) in seen:
                continue
            seen.add((ep.name, ep.value))
            self._load_entry_point(ep)

    def _load_entry_point(self, ep: EntryPoint) -> None:
        dist = ep.dist
        record = PluginRecord(
            id=ep.name,
            entry_point=f"{ep.name} = {ep.value}",
            distribution=dist.metadata["Name"] if dist is not None else None,
            version=dist.version if dist is not None else None,
        )
        if ep.name in self.disabled:
            record.state = "disabled"
            self._store(record)
            return
        try:
            obj = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import failure marks the plugin failed
            self._fail(record, "import", exc)
            self._store(record)
            return
        self.add(obj, record=record)

    def add(self, obj: Any, *, record: PluginRecord | None = None) -> PluginRecord:
        """Register a plugin object (from an entry point, or directly in tests)."""
        try:
            plugin_id = _declared_id(obj, record)
        except Exception as exc:  # noqa: BLE001 - a bad id, or a greenroom_plugin_id that raises
            if record is None or self.strict:
                raise
            self._fail(record, "plugin id", exc)
            self._store(record)
            return record
        record = record or PluginRecord(id=plugin_id)
        if record.entry_point and plugin_id != record.id:
            log.warning(
                "entry point %r provides plugin id %r; using the plugin's id",
                record.entry_point, plugin_id,
            )
        record.id = plugin_id
        record.plugin = obj
        if plugin_id in self.records and self.records[plugin_id].state != "disabled":
            error = DuplicatePluginError(plugin_id)
            if self.strict:
                raise error
            record.state, record.error = "failed", str(error)
            log.error("%s", error)
            self.records[f"{plugin_id} ({record.entry_point or 'duplicate'})"] = record
            return record
        if plugin_id in self.disabled:
            record.state = "disabled"
            self._store(record)
            return record
        try:
            self.pm.register(obj, name=plugin_id)
            self.pm.check_pending()
        except Exception as exc:  # noqa: BLE001 - pluggy raises its own error types
            if self.pm.is_registered(obj):
                self.pm.unregister(obj)
            self._fail(record, "registration", exc)
        self._store(record)
        return record

    def add_builtin(self, obj: Any) -> None:
        """Register one of the portal's own features: it implements hooks as a plugin does, but
        is part of the portal (not installed, not listed, not disabled by ``plugins.<id>``)."""
        plugin_id = _declared_id(obj, None)
        self.pm.register(obj, name=plugin_id)
        self.builtins[plugin_id] = PluginRecord(id=plugin_id, plugin=obj)

    def _record(self, plugin_id: str) -> PluginRecord:
        return self.records.get(plugin_id) or self.builtins[plugin_id]

    def _store(self, record: PluginRecord) -> None:
        self.records[record.id] = record

    def serving(self) -> None:
        """Start-up is over: from now on a failing plugin is marked failed even in strict mode,
        because raising would turn one card's bad predicate into a failed page."""
        self._serving = True

    def _fail(self, record: PluginRecord, stage: str, exc: BaseException) -> None:
        error = PluginLoadError(record.id, stage, exc)
        # A plugin's exception may quote config it was given, secrets included.
        error.args = (self._scrub(str(error)),)
        if self.strict and not self._serving:
            raise error from exc
        record.state = "failed"
        record.error = str(error)
        log.error("%s", record.error)
        obj = record.plugin
        if obj is not None and self.pm.is_registered(obj):
            self.pm.unregister(obj)

    def mark_failed(self, plugin_id: str, stage: str, exc: BaseException) -> None:
        record = self.records.get(plugin_id)
        if record is not None and record.state == "enabled":
            self._fail(record, stage, exc)

    def enabled_ids(self) -> list[str]:
        return [r.id for r in self.records.values() if r.state == "enabled"]

    # -- collection --------------------------------------------------------------------------

    def _each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call one hook per plugin, so one plugin raising does not lose the others."""
        results: list[tuple[str, Any]] = []
        hook = getattr(self.pm.hook, hook_name)
        # pluggy calls implementations last-registered first; the host wants registration order
        # so that the first plugin to claim an id keeps it and cards appear in loading order.
        for impl in hook.get_hookimpls():
            plugin_id = impl.plugin_name
            record = self.records.get(plugin_id) or self.builtins.get(plugin_id)
            if record is not None and record.state != "enabled":
                continue
            try:
                result = impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:  # noqa: BLE001
                self._fail(self._record(plugin_id), f"hook {hook_name}", exc)
                continue
            if result is not None:
                results.append((plugin_id, result))
        return results

    def register_apis(self, registry: ApiRegistry) -> None:
        """Register each enabled plugin's factories at the default scope."""
        # core.config is registered (static scope) before any plugin factory.
        self.use_scrubber(require_api(registry, config_api_ref).scrub)
        for plugin_id, factories in self._each("greenroom_api_factories"):
            try:
                for factory in factories:
                    if not isinstance(factory, ApiFactory):
                        raise PluginError(
                            f"Plugin {plugin_id}: greenroom_api_factories returned {factory!r}; "
                            "return ApiFactory objects made with create_api_factory"
                        )
                    if not registry.register(Scope.DEFAULT, factory, owner=plugin_id):
                        raise DuplicateApiFactoryError(plugin_id, factory.api)
            except (PluginError, DuplicateApiFactoryError) as exc:
                if self.strict:
                    raise
                # A failed plugin contributes nothing, not even the factories it got in first.
                registry.unregister_owner(plugin_id)
                self._fail(self._record(plugin_id), "API factories", exc)

    def collect(self, apis: ApiHolder) -> Contributions:
        found = Contributions()
        card_owner: dict[str, str] = {}
        for plugin_id, cards in self._each("greenroom_cards"):
            for card in cards:
                if not isinstance(card, Card):
                    self._fail(self._record(plugin_id), "cards", TypeError(repr(card)))
                    break
                if card.id in card_owner:
                    error = DuplicateCardError(card.id, plugin_id, card_owner[card.id])
                    if self.strict:
                        raise error
                    self._fail(self._record(plugin_id), "cards", error)
                    break
                card_owner[card.id] = plugin_id
                # A card belongs to the plugin whose hook returned it, whatever it says.
                if card.plugin_id != plugin_id:
                    card = dataclasses.replace(card, plugin_id=plugin_id)
                found.cards.append(card)
        self._collect_sections(found)
        for plugin_id, refs in self._each("greenroom_incident_providers"):
            found.providers.extend((plugin_id, ref) for ref in refs)
        for _plugin_id, simulators in self._each("greenroom_simulators"):
            found.simulators.extend(simulators)
        for plugin_id, model in self._each("greenroom_settings_model"):
            found.settings_models[plugin_id] = model
        for plugin_id, router in self._each("greenroom_routes", apis=apis):
            found.routes[plugin_id] = router
        # A plugin that failed along the way contributes nothing at all.
        live = set(self.enabled_ids())
        found.cards = [c for c in found.cards if c.plugin_id in live]
        live.update(i for i, r in self.builtins.items() if r.state == "enabled")
        found.sections = [s for s in found.sections if s.plugin_id in live]
        found.providers = [(p, r) for p, r in found.providers if p in live]
        found.simulators = [s for s in found.simulators if s.plugin_id in live]
        found.routes = {p: r for p, r in found.routes.items() if p in live}
        return found

    def _collect_sections(self, found: Contributions) -> None:
        owner: dict[str, str] = {}
        for plugin_id, sections in self._each("greenroom_page_sections"):
            for section in sections:
                problem: Exception | None = None
                if not isinstance(section, PageSection):
                    problem = TypeError(
                        f"greenroom_page_sections returned {section!r}; return PageSection objects"
                    )
                elif section.page not in SECTION_PAGES:
                    problem = ValueError(
                        f"page section {section.id!r} is for page {section.page!r}; "
                        f"use one of {', '.join(SECTION_PAGES)}"
                    )
                elif section.id in owner:
                    problem = ValueError(
                        f"page section {section.id!r} is also provided by {owner[section.id]}; "
                        "give it another id"
                    )
                if problem is not None:
                    if self.strict:
                        raise PluginError(f"Plugin {plugin_id}: {problem}")
                    self._fail(self._record(plugin_id), "page sections", problem)
                    break
                owner[section.id] = plugin_id
                # A section belongs to the plugin whose hook returned it, whatever it says.
                found.sections.append(dataclasses.replace(section, plugin_id=plugin_id))

    def secret_config_keys(self) -> list[str]:
        """Config key paths the enabled plugins declare secret (their secret_config_keys hook)."""
        found: list[str] = []
        for plugin_id, keys in self._each("greenroom_secret_config_keys"):
            if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
                self._fail(self._record(plugin_id), "secret config keys", TypeError(
                    "greenroom_secret_config_keys must return key paths (strings), "
                    f"got {keys!r}"
                ))
                continue
            found.extend(keys)
        return found

    def startup_calls(self, apis: ApiHolder) -> list[tuple[str, Any]]:
        return self._each("greenroom_startup", apis=apis)

    def startup_hooks(self) -> list[tuple[str, Any]]:
        """``(plugin id, hook function)`` of each enabled plugin, uncalled: the caller runs each
        under a deadline (a hook may block or hang)."""
        impls = self.pm.hook.greenroom_startup.get_hookimpls()
        return [
            (impl.plugin_name, impl.function)
            for impl in impls
            if self.records.get(impl.plugin_name, PluginRecord(impl.plugin_name)).state
            == "enabled"
        ]


def _declared_id(obj: Any, record: PluginRecord | None) -> str:
    """The id a plugin object gives: its ``greenroom_plugin_id`` hook, else its ``id``
    attribute, else the entry point's name."""
    hook = getattr(obj, "greenroom_plugin_id", None)
    if callable(hook) and hasattr(hook, f"{PROJECT_NAME}_impl"):
        return check_plugin_id(hook(), f"{obj!r}.greenroom_plugin_id()")
    declared = getattr(obj, "id", None)
    if declared is not None:
        return check_plugin_id(declared, f"{obj!r}.id")
    if record is not None:
        return check_plugin_id(record.id, f"entry point {record.entry_point}")
    raise PluginIdError(None, f"{obj!r}, which has no greenroom_plugin_id hook and no id")


def records_json(records: Mapping[str, PluginRecord]) -> list[dict[str, Any]]:
    return [r.as_json() for r in records.values()]

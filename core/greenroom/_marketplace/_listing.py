"""The listing: what ``/plugins`` and ``/api/marketplace`` show, with state derived from
package metadata and the plugin host's records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from ._directory import DirectoryLoad
from ._entry import (
    CORE_CATEGORY,
    DESCRIPTION_SHOWN,
    ENTRY_POINT_GROUP,
    NEW_FOR_DAYS,
    EntryStatus,
    MarketplaceEntry,
    PluginStatus,
    normalize_distribution,
)
from ._installed import InstalledPlugins


@dataclass(frozen=True)
class PluginState:
    """An entry's state in this portal, derived from package metadata and the plugin host."""

    installed: bool
    version: str | None
    #: enabled / disabled / failed per the plugin host; not-loaded when the host has no record.
    status: PluginStatus | None
    reason: str | None
    install_command: str


@dataclass(frozen=True)
class ListedPlugin:
    key: str
    title: str
    author: str
    author_url: str | None
    category: str | None
    description: str
    short_description: str
    documentation: str | None
    icon_url: str | None
    package_name: str
    entry_point: str | None
    tags: list[str]
    added_date: date | None
    order: int | None
    status: EntryStatus
    is_new: bool
    state: PluginState


@dataclass(frozen=True)
class ListingSection:
    id: Literal["core", "all", "inactive"]
    title: str
    count: int
    plugins: list[ListedPlugin]


@dataclass(frozen=True)
class SkippedEntry:
    file: str
    field: str
    reason: str


@dataclass(frozen=True)
class MarketplaceListing:
    sections: list[ListingSection]
    total: int
    query: str
    selected_categories: list[str]
    selected_tags: list[str]
    categories: list[str]
    tags: list[str]
    skipped_count: int
    skipped: list[SkippedEntry]


def shorten(text: str, limit: int = DESCRIPTION_SHOWN) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _record_field(record: object, name: str) -> Any:
    return record.get(name) if isinstance(record, dict) else getattr(record, name, None)


def _entry_point_name(value: object) -> str | None:
    """The name from an ``EntryPoint``, from ``"name = module:attr"`` (as the host records it)
    or from a bare name."""
    if value is None:
        return None
    name = getattr(value, "name", value)
    return str(name).split("=", 1)[0].strip()


def plugin_state(
    entry: MarketplaceEntry, installed: InstalledPlugins, records: Sequence[object]
) -> PluginState:
    command = f"pip install {entry.packageName}"
    package = installed.get(entry.packageName)
    if package is None:
        return PluginState(False, None, None, None, command)
    for record in records:
        distribution = _record_field(record, "distribution")
        entry_point = _entry_point_name(_record_field(record, "entry_point"))
        wanted = normalize_distribution(entry.packageName)
        if distribution is None or normalize_distribution(str(distribution)) != wanted:
            continue
        if entry.entryPoint is not None and entry_point != entry.entryPoint:
            continue
        version = _record_field(record, "version") or package.version
        return PluginState(
            True,
            str(version),
            _record_field(record, "state"),
            _record_field(record, "error"),
            command,
        )
    if entry.entryPoint is None:
        return PluginState(True, package.version, None, None, command)
    provided = any(ep.name == entry.entryPoint for ep in package.entry_points)
    reason = (
        "the plugin host did not load it"
        if provided
        else f"{package.name} has no entry point {entry.entryPoint!r} in group "
        f"'{ENTRY_POINT_GROUP}'"
    )
    return PluginState(True, package.version, "not-loaded", reason, command)


def _matches(entry: MarketplaceEntry, query: str, categories: set[str], tags: set[str]) -> bool:
    if categories and entry.category not in categories:
        return False
    if tags and not tags.intersection(entry.tags):
        return False
    if not query:
        return True
    haystack = " ".join(
        [entry.title, entry.description, entry.category or "", entry.author, *entry.tags]
    ).casefold()
    return all(word in haystack for word in query.casefold().split())


def build_listing(
    loaded: DirectoryLoad,
    *,
    installed: InstalledPlugins,
    records: Sequence[object] = (),
    today: date,
    query: str = "",
    categories: Sequence[str] = (),
    tags: Sequence[str] = (),
    icon_url: Any = None,
) -> MarketplaceListing:
    """The page's data: filtered entries in their sections, and what was skipped.

    ``icon_url(loaded_entry) -> str`` turns an entry's icon into a URL the page can load.
    """
    query = query.strip()
    wanted_categories = {category for category in categories if category}
    wanted_tags = {tag for tag in tags if tag}
    visible = [item for item in loaded.entries if item.entry.status != "archived"]
    core: list[ListedPlugin] = []
    others: list[ListedPlugin] = []
    inactive: list[ListedPlugin] = []
    for item in visible:
        entry = item.entry
        if not _matches(entry, query, wanted_categories, wanted_tags):
            continue
        listed = ListedPlugin(
            key=entry.key,
            title=entry.title,
            author=entry.author,
            author_url=entry.authorUrl,
            category=entry.category,
            description=entry.description,
            short_description=shorten(entry.description),
            documentation=entry.documentation,
            icon_url=icon_url(item) if icon_url is not None else entry.iconUrl,
            package_name=entry.packageName,
            entry_point=entry.entryPoint,
            tags=list(entry.tags),
            added_date=entry.addedDate,
            order=entry.order,
            status=entry.status,
            is_new=entry.addedDate is not None
            and today - timedelta(days=NEW_FOR_DAYS) <= entry.addedDate <= today,
            state=plugin_state(entry, installed, records),
        )
        if entry.status == "inactive":
            inactive.append(listed)
        elif entry.category == CORE_CATEGORY:
            core.append(listed)
        else:
            others.append(listed)
    core.sort(key=lambda p: (p.order is None, p.order or 0, p.title.casefold()))
    others.sort(key=lambda p: p.title.casefold())
    inactive.sort(key=lambda p: p.title.casefold())
    sections = [
        ListingSection("core", "Core Features", len(core), core),
        ListingSection("all", "All Plugins", len(others), others),
        ListingSection("inactive", "Inactive Plugins", len(inactive), inactive),
    ]
    return MarketplaceListing(
        sections=sections,
        total=len(core) + len(others) + len(inactive),
        query=query,
        selected_categories=sorted(wanted_categories),
        selected_tags=sorted(wanted_tags),
        categories=sorted({i.entry.category for i in visible if i.entry.category}),
        tags=sorted({tag for i in visible for tag in i.entry.tags}, key=str.casefold),
        skipped_count=len(loaded.skipped_files),
        skipped=[SkippedEntry(Path(p.file).name, p.field, p.reason) for p in loaded.problems],
    )


# -- command line ------------------------------------------------------------------------------

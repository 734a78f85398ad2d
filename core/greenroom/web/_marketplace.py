"""The plugin directory page ``/plugins`` and its data as JSON at ``/api/marketplace``.

Both read the directory on each request (a handful of small files) so that an edited entry
shows without a restart; invalid entries are left out and counted, never fatal.
"""

from __future__ import annotations

import mimetypes
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from .._marketplace import (
    CATEGORIES,
    DEFAULT_DIRECTORY,
    DirectoryLoad,
    InstalledPlugins,
    LoadedEntry,
    MarketplaceEntry,
    MarketplaceListing,
    build_listing,
    load_marketplace,
    normalize_distribution,
)
from ._context import page_context, portal_of, render_page

router = APIRouter()

DEFAULT_ICON = Path(__file__).resolve().parents[1] / "static" / "marketplace" / "default-icon.svg"
# Icons come from plugin packages and directory files: an SVG opened directly must not run script.
_ICON_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


def marketplace_directory(portal: Any) -> Path | None:
    """``marketplace.directory`` from config (relative to the file that sets it), else
    ``./marketplace`` when it exists, else none (only entries shipped by packages)."""
    config = getattr(portal, "config", None)
    value = config.get("marketplace.directory") if config is not None else None
    if value:
        path = Path(str(value)).expanduser()
        if not path.is_absolute():
            path = _config_folder(config, "marketplace.directory") / path
        return path
    default = Path.cwd() / DEFAULT_DIRECTORY
    return default if default.is_dir() else None


def _config_folder(config: Any, key_path: str) -> Path:
    location = getattr(config, "location", None)
    if callable(location):
        try:
            where = location(key_path)
        except Exception:  # noqa: BLE001 - no location known: fall back to the current folder
            where = None
        if isinstance(where, (tuple, list)) and where and where[0]:
            return Path(str(where[0])).parent
        if isinstance(where, (str, Path)):
            return Path(where).parent
    return Path.cwd()


def _load(request: Request) -> tuple[Any, InstalledPlugins, Any]:
    portal = request.app.state.portal
    installed = InstalledPlugins.scan()
    loaded = load_marketplace(marketplace_directory(portal), installed)
    records = list(getattr(portal, "plugin_records", []) or [])
    return portal, installed, with_unlisted_plugins(loaded, records, installed)


def with_unlisted_plugins(
    loaded: DirectoryLoad, records: list[Any], installed: InstalledPlugins
) -> DirectoryLoad:
    """Every installed plugin the host knows is listed, even one no directory entry describes
    (a third-party plugin that failed to load most of all), so its state shows on any portal."""
    listed = {item.entry.identity for item in loaded.entries}
    listed_packages = {name for name, entry_point in listed if entry_point is None}
    extra: list[LoadedEntry] = []
    for record in records:
        distribution = getattr(record, "distribution", None)
        entry_point = str(getattr(record, "entry_point", None) or "").split("=", 1)[0].strip()
        package = installed.get(distribution) if distribution else None
        if package is None or not entry_point:
            continue  # not from an installed package (a plugin passed in code)
        identity = (normalize_distribution(package.name), entry_point)
        if identity in listed or identity[0] in listed_packages:
            continue
        entry = MarketplaceEntry(
            title=str(getattr(record, "id", entry_point)),
            author=package.name,
            packageName=package.name,
            entryPoint=entry_point,
            description="Installed here, but no plugin directory entry describes it.",
        )
        extra.append(LoadedEntry(entry, DEFAULT_ICON))
        listed.add(identity)
    if not extra:
        return loaded
    return DirectoryLoad([*loaded.entries, *extra], list(loaded.problems))


def _icon_url(request: Request, loaded: LoadedEntry) -> str:
    icon = loaded.entry.iconUrl
    if icon and urlsplit(icon).scheme in ("http", "https"):
        return icon
    return str(request.app.url_path_for("plugin_icon", key=quote(loaded.entry.key, safe="")))


SearchQuery = Annotated[
    str,
    Query(description="words that must all appear in title, description, category, author or tags"),
]
CategoryFilter = Annotated[
    list[str] | None, Query(description="keep entries of these categories (any of them)")
]
# The JSON API names the directory's fixed categories in its schema and refuses any other
# (`category=false` is a typo, not an empty filter); the HTML page stays forgiving of old links.
KnownCategory = Literal[CATEGORIES]  # type: ignore[valid-type]
KnownCategoryFilter = Annotated[
    list[KnownCategory] | None,
    Query(description="keep entries of these categories (any of them)"),
]
TagFilter = Annotated[list[str] | None, Query(description="keep entries with any of these tags")]


def _listing(
    request: Request, q: str, category: list[str] | None, tag: list[str] | None
) -> MarketplaceListing:
    portal, installed, loaded = _load(request)
    return build_listing(
        loaded,
        installed=installed,
        records=list(getattr(portal, "plugin_records", []) or []),
        today=date.today(),
        query=q,
        categories=category or [],
        tags=tag or [],
        icon_url=lambda loaded: _icon_url(request, loaded),
    )


def filter_url(path: str, q: str, categories: list[str], tags: list[str]) -> str:
    """The shareable URL of a filtered view of the directory page at ``path``."""
    params: list[tuple[str, str]] = []
    if q:
        params.append(("q", q))
    params += [("category", c) for c in categories]
    params += [("tag", t) for t in tags]
    return path + (f"?{urlencode(params)}" if params else "")


@router.get("/plugins", response_class=HTMLResponse, include_in_schema=False)
def plugins_page(
    request: Request,
    q: SearchQuery = "",
    category: CategoryFilter = None,
    tag: TagFilter = None,
) -> Response:
    listing = _listing(request, q, category, tag)
    chosen_tags = listing.selected_tags
    page = str(request.app.url_path_for("plugins_page"))
    context = page_context(request, nav="plugins")
    context |= {
        "listing": listing,
        # Failed plugins are named even when they have no directory entry.
        "failed_plugins": [
            (r.id, portal_of(request).scrub(str(r.error or "failed")))
            for r in portal_of(request).plugin_records
            if r.state == "failed"
        ],
        "all_categories": sorted(set(CATEGORIES) | set(listing.categories)),
        "tag_url": lambda t: filter_url(
            page, listing.query, listing.selected_categories, sorted({*chosen_tags, t})
        ),
        "untag_url": lambda t: filter_url(
            page, listing.query, listing.selected_categories, [x for x in chosen_tags if x != t]
        ),
    }
    return render_page(request, "plugins.html", context)


@router.get("/api/marketplace", response_model=MarketplaceListing)
def marketplace_json(
    request: Request,
    q: SearchQuery = "",
    category: KnownCategoryFilter = None,
    tag: TagFilter = None,
) -> MarketplaceListing:
    """The plugin directory as this portal sees it: sections, derived state, skipped files."""
    return _listing(request, q, list(category or []), tag)


@router.get("/plugins/icons/{key}", include_in_schema=False)
def plugin_icon(request: Request, key: str) -> FileResponse:
    _, _, loaded = _load(request)
    for item in loaded.entries:
        if item.entry.key != key:
            continue
        icon = item.entry.iconUrl
        if icon and urlsplit(icon).scheme not in ("http", "https"):
            base = item.base.resolve()
            path = (base / icon).resolve()
            if path.is_file() and path.is_relative_to(base):
                media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return FileResponse(path, media_type=media_type, headers=_ICON_HEADERS)
        return FileResponse(DEFAULT_ICON, media_type="image/svg+xml", headers=_ICON_HEADERS)
    raise HTTPException(status_code=404, detail=f"No plugin directory entry {key!r}")


__all__ = ["filter_url", "marketplace_directory", "router", "with_unlisted_plugins"]

"""The plugin directory: ``marketplace/*.yaml`` entries, their lint, and what the portal shows.

One YAML file describes one plugin. An entry's identity is the pair (``packageName``,
``entryPoint``): ``packageName`` is the Python distribution to ``pip install`` and
``entryPoint`` the name of the plugin in that distribution's ``greenroom`` entry-point group.
Both parts are needed because one distribution may provide several plugins (the bundled
PagerDuty and Splunk On-Call plugins both live in the ``greenroom`` distribution). An entry
without ``entryPoint`` stands for the whole distribution.

An installed plugin package may ship its own entry as ``marketplace.yaml`` beside its
``__init__.py``; it is merged with the repository's file of the same identity, the repository's
file winning field by field.

Derived state (installed version, enabled/disabled/failed in this portal) is never typed by
hand: it comes from package metadata and the plugin host's records.

Modules by concept: ``_entry`` (the entry model), ``_directory`` (directory files and their
lint), ``_installed`` (installed packages and the entries they ship), ``_listing`` (what the
portal shows). The command line (``greenroom marketplace lint|check [DIR]``) is in
``greenroom.cli``.
"""

from __future__ import annotations

from ._directory import (
    DirectoryLoad,
    LintProblem,
    LoadedEntry,
    lint_directory,
    load_directory,
    read_entry_file,
)
from ._entry import (
    CATEGORIES,
    CORE_CATEGORY,
    DEFAULT_DIRECTORY,
    DESCRIPTION_MAX,
    DESCRIPTION_SHOWN,
    ENTRY_POINT_GROUP,
    ICON_SUFFIXES,
    NEW_FOR_DAYS,
    SHIPPED_ENTRY_FILE,
    MarketplaceEntry,
    normalize_distribution,
)
from ._installed import (
    InstalledPackage,
    InstalledPlugins,
    check_marketplace,
    load_marketplace,
    load_shipped_entries,
    merge_entries,
    shipped_entry_path,
)
from ._listing import (
    ListedPlugin,
    ListingSection,
    MarketplaceListing,
    PluginState,
    SkippedEntry,
    build_listing,
    plugin_state,
    shorten,
)

__all__ = [
    "CATEGORIES",
    "CORE_CATEGORY",
    "DEFAULT_DIRECTORY",
    "DESCRIPTION_MAX",
    "DESCRIPTION_SHOWN",
    "ENTRY_POINT_GROUP",
    "ICON_SUFFIXES",
    "NEW_FOR_DAYS",
    "SHIPPED_ENTRY_FILE",
    "DirectoryLoad",
    "InstalledPackage",
    "InstalledPlugins",
    "LintProblem",
    "ListedPlugin",
    "ListingSection",
    "LoadedEntry",
    "MarketplaceEntry",
    "MarketplaceListing",
    "PluginState",
    "SkippedEntry",
    "build_listing",
    "check_marketplace",
    "lint_directory",
    "load_directory",
    "load_marketplace",
    "load_shipped_entries",
    "merge_entries",
    "normalize_distribution",
    "plugin_state",
    "read_entry_file",
    "shipped_entry_path",
    "shorten",
]

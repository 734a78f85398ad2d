"""Installed packages: plugin distributions in this environment, the entries they ship beside
their code, and the directory merged with them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass, replace
from importlib.metadata import Distribution, EntryPoint, distributions
from pathlib import Path

from ._directory import DirectoryLoad, LintProblem, LoadedEntry, load_directory, read_entry_file
from ._entry import ENTRY_POINT_GROUP, SHIPPED_ENTRY_FILE, normalize_distribution


@dataclass(frozen=True)
class InstalledPackage:
    name: str
    version: str
    entry_points: tuple[EntryPoint, ...]
    distribution: Distribution


@dataclass(frozen=True)
class InstalledPlugins:
    """A snapshot of the installed distributions and their ``greenroom`` entry points."""

    packages: dict[str, InstalledPackage]

    @classmethod
    def scan(cls, dists: Iterable[Distribution] | None = None) -> InstalledPlugins:
        packages: dict[str, InstalledPackage] = {}
        for dist in distributions() if dists is None else dists:
            name = dist.metadata["Name"]
            if not name:
                continue
            key = normalize_distribution(name)
            if key in packages:  # the first on sys.path is the one Python imports
                continue
            eps = tuple(ep for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP)
            packages[key] = InstalledPackage(name, dist.version, eps, dist)
        return cls(packages)

    def get(self, package_name: str) -> InstalledPackage | None:
        return self.packages.get(normalize_distribution(package_name))

    def plugin_entry_points(self) -> list[tuple[InstalledPackage, EntryPoint]]:
        return [(pkg, ep) for pkg in self.packages.values() for ep in pkg.entry_points]


def shipped_entry_path(package: InstalledPackage, entry_point: EntryPoint) -> Path | None:
    """Where a plugin package ships its ``marketplace.yaml``, found without importing it."""
    top = entry_point.module.split(".")[0]
    folders: list[Path] = []
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        folders.extend(Path(location) for location in spec.submodule_search_locations)
    # A distribution found by path but not importable from sys.path (e.g. a wheel unpacked
    # somewhere for inspection) still keeps its package beside its metadata.
    folders.append(Path(str(package.distribution.locate_file(top))))
    for folder in folders:
        candidate = folder / SHIPPED_ENTRY_FILE
        if candidate.is_file():
            return candidate
    return None


def load_shipped_entries(installed: InstalledPlugins) -> DirectoryLoad:
    """Entries shipped inside installed plugin packages (``packageName``/``entryPoint`` default
    to the distribution and entry point that led us there)."""
    result = DirectoryLoad()
    seen: set[Path] = set()
    for package, ep in installed.plugin_entry_points():
        path = shipped_entry_path(package, ep)
        if path is None or path in seen:
            continue
        seen.add(path)
        outcome = read_entry_file(
            path, defaults={"packageName": package.name, "entryPoint": ep.name}
        )
        if isinstance(outcome, list):
            result.problems.extend(outcome)
        elif outcome.entry.identity[0] != normalize_distribution(package.name):
            # A package may describe itself only; otherwise it could rewrite another plugin's
            # entry (fields the repository's file leaves out come from the shipped one).
            result.problems.append(
                LintProblem(
                    str(path),
                    "packageName",
                    f"shipped by {package.name} but describes {outcome.entry.packageName!r}; "
                    f"a package's {SHIPPED_ENTRY_FILE} may only describe that package",
                )
            )
        else:
            result.entries.append(replace(outcome, shipped=True))
    return result


def merge_entries(repository: DirectoryLoad, shipped: DirectoryLoad) -> DirectoryLoad:
    """Entries of both sources by identity; where both have one, the repository's file wins
    field by field (only the fields it sets)."""
    merged: dict[tuple[str, str | None], LoadedEntry] = {}
    for loaded in shipped.entries:
        merged.setdefault(loaded.entry.identity, loaded)
    for loaded in repository.entries:
        base = merged.get(loaded.entry.identity)
        if base is None:
            merged[loaded.entry.identity] = loaded
            continue
        update = {name: getattr(loaded.entry, name) for name in loaded.entry.model_fields_set}
        combined = base.entry.model_copy(update=update)
        icon_from_repository = "iconUrl" in loaded.entry.model_fields_set
        merged[loaded.entry.identity] = LoadedEntry(
            combined, loaded.source if icon_from_repository else base.source
        )
    entries = sorted(merged.values(), key=lambda loaded: loaded.entry.title.casefold())
    return DirectoryLoad(entries, [*repository.problems, *shipped.problems])


def load_marketplace(
    directory: str | Path | None, installed: InstalledPlugins | None = None
) -> DirectoryLoad:
    """The repository's directory (if any) merged with the entries installed packages ship."""
    installed = installed or InstalledPlugins.scan()
    repository = load_directory(directory) if directory is not None else DirectoryLoad()
    return merge_entries(repository, load_shipped_entries(installed))


def check_marketplace(
    directory: str | Path, installed: InstalledPlugins | None = None
) -> list[LintProblem]:
    """Lint, then: each installed entry's package provides its entry point, and each installed
    plugin has an entry."""
    installed = installed or InstalledPlugins.scan()
    loaded = load_marketplace(directory, installed)
    problems = list(loaded.problems)
    listed = {loaded_entry.entry.identity for loaded_entry in loaded.entries}
    for loaded_entry in loaded.entries:
        entry = loaded_entry.entry
        package = installed.get(entry.packageName)
        if package is None or entry.entryPoint is None:
            continue
        names = sorted(ep.name for ep in package.entry_points)
        if entry.entryPoint not in names:
            provided = ", ".join(names) if names else "none"
            problems.append(
                LintProblem(
                    str(loaded_entry.source),
                    "entryPoint",
                    f"{package.name} {package.version} is installed but has no entry point "
                    f"{entry.entryPoint!r} in group '{ENTRY_POINT_GROUP}' (it provides: "
                    f"{provided}); fix entryPoint or the package's entry points",
                )
            )
    for package, ep in installed.plugin_entry_points():
        if (normalize_distribution(package.name), ep.name) not in listed:
            problems.append(
                LintProblem(
                    str(directory),
                    "(directory)",
                    f"installed plugin {ep.name!r} of {package.name} {package.version} has no "
                    f"entry; add {Path(directory) / (ep.name + '.yaml')} with packageName "
                    f"{package.name!r} and entryPoint {ep.name!r}, or ship "
                    f"{SHIPPED_ENTRY_FILE} in its package",
                )
            )
    return problems


# -- what the portal shows ---------------------------------------------------------------------

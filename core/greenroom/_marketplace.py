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

Command line: ``greenroom marketplace lint [DIR]`` and ``greenroom marketplace check [DIR]``
(also ``python -m greenroom._marketplace lint DIR``).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from importlib.metadata import Distribution, EntryPoint, distributions
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENTRY_POINT_GROUP = "greenroom"
DEFAULT_DIRECTORY = "marketplace"
SHIPPED_ENTRY_FILE = "marketplace.yaml"

#: Categories seen in the original directory (behaviours §6).
CATEGORIES: tuple[str, ...] = (
    "Core Feature",
    "Monitoring",
    "CI/CD",
    "Security",
    "Discovery",
    "Metrics",
    "Search",
    "Services",
)
CORE_CATEGORY = "Core Feature"
DESCRIPTION_MAX = 170
DESCRIPTION_SHOWN = 160
NEW_FOR_DAYS = 100
ICON_SUFFIXES = (".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp")

EntryStatus = Literal["active", "inactive", "archived"]
PluginStatus = Literal["enabled", "disabled", "failed", "not-loaded"]

_DIST_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_ENTRY_POINT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def normalize_distribution(name: str) -> str:
    """PEP 503 normalisation, so ``Greenroom_PagerDuty`` and ``greenroom-pagerduty`` match."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
        raise ValueError(f"must be an http(s) URL such as 'https://example.com/', got {value!r}")
    return value


class MarketplaceEntry(BaseModel):
    """One plugin directory entry, as written in ``marketplace/<name>.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    title: str = Field(min_length=1)
    author: str = Field(min_length=1)
    packageName: str
    entryPoint: str | None = None
    authorUrl: str | None = None
    category: str | None = None
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    documentation: str | None = None
    iconUrl: str | None = None
    tags: list[str] = Field(default_factory=list)
    addedDate: date | None = None
    order: int | None = None
    status: EntryStatus = "active"

    @field_validator("packageName")
    @classmethod
    def _distribution_name(cls, value: str) -> str:
        if not _DIST_NAME.match(value):
            raise ValueError(
                f"must be a Python distribution name (what you would 'pip install'), got {value!r}"
            )
        return value

    @field_validator("entryPoint")
    @classmethod
    def _entry_point_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENTRY_POINT_NAME.match(value):
            raise ValueError(
                f"must be the plugin's name in the '{ENTRY_POINT_GROUP}' entry-point group, "
                f"got {value!r}"
            )
        return value

    @field_validator("authorUrl", "documentation")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)

    @field_validator("iconUrl")
    @classmethod
    def _icon(cls, value: str | None) -> str | None:
        if value is None or urlsplit(value).scheme in ("http", "https"):
            return _check_url(value) if value is not None else None
        path = PurePosixPath(value)
        if path.is_absolute() or ".." in path.parts or ":" in value:
            raise ValueError(
                "must be an http(s) URL or a path relative to the entry's file "
                f"(no '..', not absolute), got {value!r}"
            )
        if path.suffix.lower() not in ICON_SUFFIXES:
            raise ValueError(
                f"must name an image ({', '.join(ICON_SUFFIXES)}), got {value!r}"
            )
        return value

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str | None) -> str | None:
        if value is not None and value not in CATEGORIES:
            raise ValueError(f"unknown category {value!r}; use one of: {', '.join(CATEGORIES)}")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        tags = [tag.strip() for tag in value]
        if any(not tag for tag in tags):
            raise ValueError("tags must be non-empty strings")
        return tags

    @field_validator("addedDate", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> object:
        # YAML reads an unquoted 2024-05-01 as a date already; anything else must be the
        # 'YYYY-MM-DD' text (pydantic alone would also take timestamps and datetimes).
        if isinstance(value, date) and not hasattr(value, "hour"):
            return value
        if isinstance(value, str) and _ISO_DATE.match(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise ValueError(f"must be a date written 'YYYY-MM-DD', got {value!r}")

    @property
    def identity(self) -> tuple[str, str | None]:
        return (normalize_distribution(self.packageName), self.entryPoint)

    @property
    def key(self) -> str:
        return f"{normalize_distribution(self.packageName)}:{self.entryPoint or ''}"


@dataclass(frozen=True)
class LintProblem:
    """One thing wrong with one directory file: which file, which field, why."""

    file: str
    field: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.reason}"


@dataclass(frozen=True)
class LoadedEntry:
    """A valid entry and where it came from (relative icon paths resolve against ``base``)."""

    entry: MarketplaceEntry
    source: Path
    shipped: bool = False

    @property
    def base(self) -> Path:
        return self.source.parent


@dataclass
class DirectoryLoad:
    entries: list[LoadedEntry] = field(default_factory=list)
    problems: list[LintProblem] = field(default_factory=list)

    @property
    def skipped_files(self) -> list[str]:
        return sorted({problem.file for problem in self.problems})


# -- reading files -----------------------------------------------------------------------------


def _key_lines(text: str) -> dict[str, int]:
    """Top-level key -> 1-based line, to point lint problems at the right line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {
        str(key.value): key.start_mark.line + 1
        for key, _ in node.value
        if isinstance(key, yaml.ScalarNode)
    }


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ")


def _validation_problems(
    error: ValidationError, file: str, lines: dict[str, int]
) -> list[LintProblem]:
    problems = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "(file)"
        where = ".".join(str(part) for part in item["loc"]) or "(file)"
        if item["type"] == "missing":
            reason = f"required field is missing; add '{name}: ...'"
        elif item["type"] == "extra_forbidden":
            reason = "unknown field"
            if name == "npmPackageName":
                reason += "; Greenroom entries name their Python distribution in 'packageName'"
            else:
                reason += f"; known fields: {', '.join(MarketplaceEntry.model_fields)}"
        elif item["type"] == "string_too_long":
            length = len(str(item.get("input", "")))
            reason = f"is {length} characters long, at most {DESCRIPTION_MAX} are allowed"
        elif item["type"] == "literal_error":
            reason = (
                f"unknown status {item.get('input')!r}; use one of: active, inactive, archived"
            )
        else:
            reason = _clean(item["msg"])
        problems.append(LintProblem(file, where, reason, lines.get(name)))
    return problems


def read_entry_file(
    path: Path, *, display: str | None = None, defaults: dict[str, str] | None = None
) -> LoadedEntry | list[LintProblem]:
    """Parse and validate one entry file: the entry, or every problem found in it.

    ``defaults`` fill fields the file leaves out."""
    file = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return [LintProblem(file, "(file)", f"cannot be read: {error}")]
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        return [LintProblem(file, "(yaml)", f"invalid YAML: {problem}", line)]
    if not documents:
        return [LintProblem(file, "(file)", "is empty; write one entry (title, author, ...)")]
    if len(documents) > 1:
        return [LintProblem(file, "(file)", "holds several YAML documents; write one entry a file")]
    data = documents[0]
    if not isinstance(data, dict):
        return [
            LintProblem(file, "(file)", f"must be a mapping of fields, got {type(data).__name__}")
        ]
    lines = _key_lines(text)
    try:
        entry = MarketplaceEntry.model_validate({**(defaults or {}), **data})
    except ValidationError as error:
        return _validation_problems(error, file, lines)
    if entry.iconUrl and urlsplit(entry.iconUrl).scheme not in ("http", "https"):
        if not (path.parent / entry.iconUrl).is_file():
            return [
                LintProblem(
                    file,
                    "iconUrl",
                    f"no image at {entry.iconUrl!r} (relative to this file's folder)",
                    lines.get("iconUrl"),
                )
            ]
    return LoadedEntry(entry, path)


def _entry_files(directory: Path) -> list[Path]:
    return sorted(
        path
        for path in directory.iterdir()
        if path.is_file() and path.suffix in (".yaml", ".yml")
    )


def load_directory(directory: str | Path) -> DirectoryLoad:
    """Read every ``*.yaml`` in ``directory``: the valid entries and every problem.

    Files with problems are left out; of two files with the same title or identity the second
    (in name order) is left out.
    """
    directory = Path(directory)
    result = DirectoryLoad()
    if not directory.is_dir():
        result.problems.append(
            LintProblem(
                str(directory),
                "(directory)",
                "not found; pass the folder holding the plugin directory's *.yaml files",
            )
        )
        return result
    for path in _entry_files(directory):
        outcome = read_entry_file(path, display=str(path))
        if isinstance(outcome, list):
            result.problems.extend(outcome)
        else:
            result.entries.append(outcome)
    result.entries = _drop_duplicates(result.entries, result.problems)
    result.problems.sort(key=lambda problem: (problem.file, problem.line or 0))
    return result


def _drop_duplicates(entries: list[LoadedEntry], problems: list[LintProblem]) -> list[LoadedEntry]:
    titles: dict[str, LoadedEntry] = {}
    identities: dict[tuple[str, str | None], LoadedEntry] = {}
    kept = []
    for loaded in entries:
        entry = loaded.entry
        lines = _key_lines(loaded.source.read_text(encoding="utf-8"))
        title_key = entry.title.casefold()
        duplicate = False
        if title_key in titles:
            problems.append(
                LintProblem(
                    str(loaded.source),
                    "title",
                    f"duplicate title {entry.title!r}, already used by {titles[title_key].source}",
                    lines.get("title"),
                )
            )
            duplicate = True
        if entry.identity in identities:
            problems.append(
                LintProblem(
                    str(loaded.source),
                    "packageName",
                    f"duplicate plugin: packageName {entry.packageName!r} with entryPoint "
                    f"{entry.entryPoint!r} is already listed by "
                    f"{identities[entry.identity].source}",
                    lines.get("packageName"),
                )
            )
            duplicate = True
        if not duplicate:
            titles[title_key] = loaded
            identities[entry.identity] = loaded
            kept.append(loaded)
    return kept


def lint_directory(path: str | Path) -> list[LintProblem]:
    """Every problem in the directory's files; empty when every file is a valid entry."""
    return load_directory(path).problems


# -- what is installed -------------------------------------------------------------------------


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


def main(argv: Sequence[str] | None = None) -> int:
    """``greenroom marketplace lint [DIR]`` / ``greenroom marketplace check [DIR]``."""
    parser = argparse.ArgumentParser(
        prog="greenroom marketplace", description="Validate the plugin directory."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    lint = commands.add_parser("lint", help="report every invalid entry file")
    lint.add_argument("directory", nargs="?", default=DEFAULT_DIRECTORY)
    check = commands.add_parser(
        "check",
        help="lint, then check entries against the installed plugin packages",
    )
    check.add_argument("directory", nargs="?", default=DEFAULT_DIRECTORY)
    args = parser.parse_args(argv)
    if args.command == "lint":
        problems = lint_directory(args.directory)
    else:
        problems = check_marketplace(args.directory)
    for problem in problems:
        print(problem)
    if problems:
        files = len({problem.file for problem in problems})
        print(
            f"{len(problems)} problem(s) in {files} file(s) under {args.directory}",
            file=sys.stderr,
        )
        return 1
    print(f"{args.directory}: OK ({args.command})")
    return 0


__all__ = [
    "CATEGORIES",
    "DirectoryLoad",
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
    "main",
    "merge_entries",
    "plugin_state",
]

if __name__ == "__main__":
    sys.exit(main())

"""Directory files: reading every entry file of a folder, with each problem located by file,
key and line, and duplicate identities refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from pydantic import ValidationError

from ._entry import DESCRIPTION_MAX, MarketplaceEntry


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

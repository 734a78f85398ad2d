"""The template tree and how it is rendered.

Files under ``template/`` are copied with ``__GR_<NAME>__`` tokens replaced, in paths and in
contents. Plain tokens rather than Jinja2, because the tree itself holds Jinja2 card templates.
Tokens ending in ``_STR`` are quoted: a JSON string literal is also a valid Python, TOML and
YAML string, so an author called ``O"Brien`` cannot break any generated file.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path, PurePosixPath

from ._errors import ScaffoldError
from ._spec import PluginSpec

TEMPLATE_ROOT = Path(__file__).parent / "template"
#: The plugin directory entry; copied to ``marketplace/<id>.yaml`` in a Greenroom checkout.
MARKETPLACE_ENTRY = PurePosixPath("__GR_MODULE__/marketplace.yaml")

_TOKEN = re.compile(r"__GR_([A-Z]+(?:_[A-Z]+)*)__")
_SKIPPED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}


def tokens(spec: PluginSpec) -> dict[str, str]:
    """The value of every token the template may use."""
    added = (spec.added or date.today()).isoformat()
    plain = {
        "ID": spec.id,
        "MODULE": spec.module,
        "SNAKE": spec.id.replace("-", "_"),
        "CONST": spec.id.replace("-", "_").upper(),
        "DIST": spec.distribution,
        "CLASS": spec.class_prefix,
        "TITLE": spec.title,
        "AUTHOR": spec.author,
        "DESCRIPTION": spec.description,
        "CATEGORY": spec.category,
        "ADDED": added,
    }
    quoted = {f"{name}_STR": json.dumps(value, ensure_ascii=False) for name, value in plain.items()}
    return {**plain, **quoted}


@functools.lru_cache(maxsize=4)
def template_files(root: Path = TEMPLATE_ROOT) -> tuple[tuple[PurePosixPath, str], ...]:
    """The template tree as ``(relative path, text)`` pairs, read once per process."""
    files = []
    for path in sorted(root.rglob("*")):
        relative = PurePosixPath(path.relative_to(root).as_posix())
        if not path.is_file() or _SKIPPED_PARTS.intersection(relative.parts):
            continue
        if path.suffix == ".pyc":
            continue
        files.append((relative, path.read_text(encoding="utf-8")))
    if not files:
        raise ScaffoldError(f"The plugin template is missing: no files under {root}.")
    return tuple(files)


def substitute(text: str, values: Mapping[str, str], *, where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ScaffoldError(f"Unknown template token {match.group(0)} in {where}.")
        return values[name]

    return _TOKEN.sub(replace, text)


def render(spec: PluginSpec, template: Path = TEMPLATE_ROOT) -> dict[PurePosixPath, str]:
    """Every generated file of ``spec``'s package, by path relative to the package folder."""
    values = tokens(spec)
    rendered: dict[PurePosixPath, str] = {}
    for relative, text in template_files(template):
        path = PurePosixPath(substitute(str(relative), values, where=str(relative)))
        rendered[path] = substitute(text, values, where=str(relative))
    return rendered


def marketplace_entry_path(spec: PluginSpec) -> PurePosixPath:
    return PurePosixPath(substitute(str(MARKETPLACE_ENTRY), tokens(spec), where="marketplace"))

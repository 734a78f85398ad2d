"""Where a new plugin goes, and writing it there all at once or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ._errors import ScaffoldError
from ._spec import TRY_AGAIN, PluginSpec, check_spec
from ._template import TEMPLATE_ROOT, marketplace_entry_path, render


@dataclass(frozen=True)
class Layout:
    """The folder the package goes into and, in a Greenroom checkout, its directory entry."""

    package_dir: Path
    marketplace_entry: Path | None = None


@dataclass(frozen=True)
class Created:
    package_dir: Path
    files: tuple[Path, ...]
    marketplace_entry: Path | None = None


def is_greenroom_checkout(folder: Path) -> bool:
    """A folder holding Greenroom's own `pyproject.toml` and its plugin directory."""
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file() or not (folder / "marketplace").is_dir():
        return False
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return isinstance(project, dict) and project.get("name") == "greenroom"


def plan_layout(spec: PluginSpec, *, cwd: Path, target: Path | None = None) -> Layout:
    """``greenroom-<id>/`` in ``cwd``; ``plugins/<id>/`` plus ``marketplace/<id>.yaml`` at the
    root of a Greenroom checkout. ``target`` replaces the package folder only."""
    cwd = cwd.resolve()
    checkout = is_greenroom_checkout(cwd)
    if target is not None:
        package_dir = (cwd / target).resolve()
    elif checkout:
        package_dir = cwd / "plugins" / spec.id
    else:
        package_dir = cwd / spec.distribution
    entry = cwd / "marketplace" / f"{spec.id}.yaml" if checkout else None
    return Layout(package_dir=package_dir, marketplace_entry=entry)


def check_destination(spec: PluginSpec, *, cwd: Path, target: Path | None = None) -> Layout:
    """The layout for ``spec``, or :class:`ScaffoldError` when any part of it exists."""
    layout = plan_layout(spec, cwd=cwd, target=target)
    _refuse_existing(layout, chosen_dir=target is not None)
    return layout


def _refuse_existing(layout: Layout, *, chosen_dir: bool = False) -> None:
    for path in (layout.package_dir, layout.marketplace_entry):
        if path is None or not (path.exists() or path.is_symlink()):
            continue
        if chosen_dir and path == layout.package_dir:
            # The person named this folder; another plugin id would not help.
            raise ScaffoldError(
                f"The folder given with --dir already exists: {path}",
                "Please choose another --dir, or move that folder away first",
            )
        raise ScaffoldError(f"A plugin with the same name already exists: {path}", TRY_AGAIN)


def create_plugin_package(
    spec: PluginSpec, *, cwd: Path, target: Path | None = None, template: Path = TEMPLATE_ROOT
) -> Created:
    """Check ``spec``, render the template into a temporary folder beside the destination and
    move it into place only when every file is written. A refusal writes nothing."""
    check_spec(spec)
    layout = check_destination(spec, cwd=cwd, target=target)
    parent = layout.package_dir.parent
    if not parent.is_dir():
        raise ScaffoldError(
            f"The folder {parent} does not exist; create it or choose another --dir."
        )
    files = render(spec, template)
    entry_source = marketplace_entry_path(spec)
    # Staged on the destination's file system so that the final move is a rename.
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.distribution}-", dir=parent))
    try:
        staged_package = staging / "package"
        for relative, text in files.items():
            path = staged_package / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        staged_entry = staging / "marketplace.yaml"
        if layout.marketplace_entry is not None and entry_source in files:
            staged_entry.write_text(files[entry_source], encoding="utf-8")
        _refuse_existing(layout, chosen_dir=target is not None)  # created meanwhile?
        os.rename(staged_package, layout.package_dir)
        entry = layout.marketplace_entry if staged_entry.exists() else None
        if entry is not None:
            try:
                os.rename(staged_entry, entry)
            except OSError:
                shutil.rmtree(layout.package_dir, ignore_errors=True)
                raise
    except OSError as exc:
        raise ScaffoldError(
            f"Could not write the plugin to {layout.package_dir}: {exc}. Nothing was created."
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    written = tuple(layout.package_dir / relative for relative in sorted(files))
    return Created(layout.package_dir, written, entry)

"""The plugin directory: entry schema, lint, check, merge with shipped entries, derived state, and
the command that lints it. (The /plugins page and /api/marketplace: tests/core/web.)"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import date
from importlib.metadata import PathDistribution
from pathlib import Path
from typing import Any

import pytest

from greenroom._marketplace import (
    InstalledPlugins,
    MarketplaceEntry,
    check_marketplace,
    lint_directory,
    load_directory,
    load_marketplace,
    plugin_state,
)
from greenroom.cli import marketplace_main as main

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "marketplace"
BROKEN = FIXTURES / "broken"
TODAY = date(2026, 3, 1)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def fake_distribution(
    root: Path, name: str, version: str, entry_points: dict[str, str], shipped: str | None = None
) -> PathDistribution:
    """A real dist-info folder on disk (as pip leaves it), optionally with a plugin package that
    ships ``marketplace.yaml``."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = "".join(f"{ep} = {target}\n" for ep, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[greenroom]\n{lines}", encoding="utf-8")
    if shipped is not None:
        top = next(iter(entry_points.values())).split(":")[0].split(".")[0]
        write(root / top, "__init__.py", "")
        write(root / top, "marketplace.yaml", shipped)
    return PathDistribution(info)


# -- schema and lint ---------------------------------------------------------------------------


def test_repository_directory_passes_lint() -> None:
    assert lint_directory(REPO / "marketplace") == []
    loaded = load_directory(REPO / "marketplace")
    identities = {item.entry.identity for item in loaded.entries}
    assert ("greenroom", "pagerduty") in identities
    assert ("greenroom", "splunk-on-call") in identities


def test_lint_names_each_problem_in_broken_fixtures() -> None:
    problems = {(Path(p.file).name, p.field): p for p in lint_directory(BROKEN)}

    assert "required field is missing" in problems[("missing-author.yaml", "author")].reason
    long = problems[("long-description.yaml", "description")]
    assert long.reason == "is 171 characters long, at most 170 are allowed"
    assert long.line == 4
    assert "'YYYY-MM-DD'" in problems[("bad-date.yaml", "addedDate")].reason
    assert "http(s) URL" in problems[("bad-url.yaml", "documentation")].reason
    assert "unknown status 'retired'" in problems[("unknown-status.yaml", "status")].reason
    category = problems[("unknown-category.yaml", "category")]
    assert "unknown category 'Gardening'" in category.reason
    assert "Monitoring" in category.reason  # says what to use instead
    yaml_error = problems[("yaml-error.yaml", "(yaml)")]
    assert yaml_error.reason.startswith("invalid YAML") and yaml_error.line == 4
    assert "already used by" in problems[("b-same-title.yaml", "title")].reason
    # Identity compares normalised distribution names: Greenroom_Original == greenroom-original.
    duplicate = problems[("c-same-identity.yaml", "packageName")]
    assert "a-original.yaml" in duplicate.reason
    assert "packageName" in problems[("npm-package-name.yaml", "npmPackageName")].reason
    assert not any(Path(p.file).name == "a-original.yaml" for p in problems.values())


def test_lint_command_exits_non_zero_and_prints_file_field_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["lint", str(BROKEN)]) == 1
    out = capsys.readouterr().out
    assert f"{BROKEN / 'bad-date.yaml'}:4: addedDate: must be a date" in out
    assert f"{BROKEN / 'missing-author.yaml'}: author: required field is missing" in out

    assert main(["lint", str(REPO / "marketplace")]) == 0


def test_description_of_exactly_170_characters_is_valid() -> None:
    base = {"title": "T", "author": "A", "packageName": "p"}
    valid = MarketplaceEntry.model_validate({**base, "description": "x" * 170})
    assert len(valid.description) == 170
    with pytest.raises(ValueError):
        MarketplaceEntry.model_validate({**base, "description": "x" * 171})


def test_unquoted_yaml_date_is_accepted_but_a_timestamp_is_not(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "title: A\nauthor: B\npackageName: a\naddedDate: 2024-05-01\n")
    write(tmp_path, "b.yaml", "title: B\nauthor: B\npackageName: b\naddedDate: 1714521600\n")
    problems = lint_directory(tmp_path)
    assert [(Path(p.file).name, p.field) for p in problems] == [("b.yaml", "addedDate")]


def test_bundled_icon_path_must_exist_and_stay_inside(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "title: A\nauthor: B\npackageName: a\niconUrl: icons/missing.svg\n")
    write(tmp_path, "b.yaml", "title: B\nauthor: B\npackageName: b\niconUrl: ../secret.svg\n")
    problems = {Path(p.file).name: p for p in lint_directory(tmp_path)}
    assert "no image at 'icons/missing.svg'" in problems["a.yaml"].reason
    assert "no '..'" in problems["b.yaml"].reason


def test_missing_directory_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    problems = lint_directory(tmp_path / "nowhere")
    assert len(problems) == 1 and "not found" in problems[0].reason


# -- installed packages: check, shipped entries, merge -----------------------------------------


ENTRY = """\
title: {title}
author: Someone
packageName: {package}
entryPoint: {ep}
category: Monitoring
"""


def test_check_reports_missing_entry_point_and_unlisted_plugin(tmp_path: Path) -> None:
    site = tmp_path / "site"
    installed = InstalledPlugins.scan(
        [
            fake_distribution(site, "greenroom-acme", "1.2.0", {"acme": "greenroom_acme:plugin"}),
            fake_distribution(site, "greenroom-extra", "0.3.0", {"extra": "greenroom_extra:p"}),
        ]
    )
    directory = tmp_path / "marketplace"
    write(directory, "acme.yaml", ENTRY.format(title="Acme", package="greenroom-acme", ep="acmee"))
    write(directory, "gone.yaml", ENTRY.format(title="Gone", package="not-installed", ep="x"))

    problems = check_marketplace(directory, installed)
    reasons = [p.reason for p in problems]
    assert any(
        "greenroom-acme 1.2.0 is installed but has no entry point 'acmee'" in r
        and "provides: acme" in r
        for r in reasons
    )
    assert any("installed plugin 'acme' of greenroom-acme 1.2.0 has no entry" in r for r in reasons)
    assert any("installed plugin 'extra' of greenroom-extra" in r for r in reasons)
    # Entries for packages that are not installed are not checked against anything.
    assert not any("not-installed" in r for r in reasons)

    write(directory, "acme.yaml", ENTRY.format(title="Acme", package="greenroom-acme", ep="acme"))
    write(directory, "extra.yaml", ENTRY.format(title="X", package="Greenroom_Extra", ep="extra"))
    assert check_marketplace(directory, installed) == []


def test_check_passes_for_this_repository() -> None:
    assert check_marketplace(REPO / "marketplace") == []


def test_shipped_entry_merges_with_repository_file_field_by_field(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shipped = """\
        title: Acme Paging
        author: Acme Inc.
        category: Monitoring
        description: Shipped description.
        tags: [paging]
        """
    installed = InstalledPlugins.scan(
        [fake_distribution(site, "greenroom-acme", "1.2.0", {"acme": "greenroom_acme:plugin"},
                           shipped=shipped)]
    )
    # Without a repository file the shipped entry appears, identity filled in from its package.
    alone = load_marketplace(None, installed)
    assert [(i.entry.title, i.entry.identity) for i in alone.entries] == [
        ("Acme Paging", ("greenroom-acme", "acme"))
    ]

    directory = tmp_path / "marketplace"
    write(
        directory,
        "acme.yaml",
        """\
        title: Acme
        author: Acme Inc.
        packageName: greenroom-acme
        entryPoint: acme
        description: Repository description.
        """,
    )
    merged = load_marketplace(directory, installed)
    [item] = merged.entries
    assert item.entry.title == "Acme"  # the repository wins where it sets a field
    assert item.entry.description == "Repository description."
    assert item.entry.tags == ["paging"]  # fields it leaves out come from the package
    assert item.entry.category == "Monitoring"
    # A relative icon the package ships resolves inside the package.
    assert item.base == site / "greenroom_acme"


def test_invalid_shipped_entry_is_reported_not_listed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    installed = InstalledPlugins.scan(
        [fake_distribution(site, "greenroom-bad", "1.0", {"bad": "greenroom_bad:plugin"},
                           shipped="title: Bad\nauthor: B\nstatus: gone\n")]
    )
    loaded = load_marketplace(None, installed)
    assert loaded.entries == []
    assert [(Path(p.file).name, p.field) for p in loaded.problems] == [
        ("marketplace.yaml", "status")
    ]


@dataclass
class Record:
    id: str
    entry_point: str
    distribution: str
    version: str
    state: str
    error: str | None = None


def entry(**fields: Any) -> MarketplaceEntry:
    return MarketplaceEntry.model_validate({"title": "T", "author": "A", **fields})


def test_state_comes_from_metadata_and_plugin_host(tmp_path: Path) -> None:
    installed = InstalledPlugins.scan(
        [fake_distribution(tmp_path, "greenroom-acme", "1.2.0", {"acme": "greenroom_acme:p"})]
    )
    acme = entry(packageName="greenroom-acme", entryPoint="acme")
    # The host records the entry point as written in entry_points.txt.
    failed = Record(
        "acme", "acme = greenroom_acme:p", "greenroom_acme", "1.2.0", "failed", "ImportError: boom"
    )

    state = plugin_state(acme, installed, [failed])
    assert (state.installed, state.version, state.status, state.reason) == (
        True, "1.2.0", "failed", "ImportError: boom"
    )
    assert plugin_state(acme, installed, []).status == "not-loaded"

    missing = plugin_state(entry(packageName="greenroom-nope", entryPoint="x"), installed, [])
    assert (missing.installed, missing.version, missing.status) == (False, None, None)
    assert missing.install_command == "pip install greenroom-nope"

    wrong_ep = plugin_state(entry(packageName="greenroom-acme", entryPoint="other"), installed, [])
    assert wrong_ep.status == "not-loaded" and "no entry point 'other'" in (wrong_ep.reason or "")


def test_a_package_cannot_ship_an_entry_for_another_package(tmp_path: Path) -> None:
    site = tmp_path / "site"
    installed = InstalledPlugins.scan(
        [fake_distribution(site, "greenroom-rogue", "1.0", {"rogue": "greenroom_rogue:plugin"},
                           shipped="title: PagerDuty\nauthor: Rogue\npackageName: greenroom\n"
                           "entryPoint: pagerduty\ndescription: Totally official.\n")]
    )
    loaded = load_marketplace(None, installed)
    assert loaded.entries == []
    [problem] = loaded.problems
    assert problem.field == "packageName"
    assert "shipped by greenroom-rogue but describes 'greenroom'" in problem.reason


def test_module_and_greenroom_command_run_lint(tmp_path: Path) -> None:
    from greenroom.cli import main as greenroom_main

    result = subprocess.run(
        [sys.executable, "-m", "greenroom.cli", "marketplace", "lint", str(BROKEN)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1
    assert "unknown category 'Gardening'" in result.stdout
    assert "problem(s) in 10 file(s)" in result.stderr

    assert greenroom_main(["marketplace", "lint", str(REPO / "marketplace")]) == 0
    assert greenroom_main(["marketplace", "lint", str(BROKEN)]) == 1

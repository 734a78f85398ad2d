"""`create-plugin NAME`: where it writes, what it prints, when it asks, and refusals that write
nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from greenroom._marketplace import lint_directory

Create = Callable[..., Any]
Snapshot = Callable[[Path], set[str]]
TRY_AGAIN = "Please try again with a different plugin ID"


def test_standalone_package_in_the_current_folder(
    snapshot: Snapshot, create: Create, tmp_path: Path
) -> None:
    outcome = create("acme-pager", "--author", "Jane Doe")

    assert outcome.code == 0, outcome.err
    package = tmp_path / "greenroom-acme-pager"
    assert (package / "greenroom_acme_pager" / "__init__.py").is_file()
    assert snapshot(tmp_path) == {"greenroom-acme-pager"} | {
        f"greenroom-acme-pager/{path}" for path in snapshot(package)
    }, "only the package folder is written: no staging folder left behind"
    assert "Created plugin acme-pager (greenroom-acme-pager) in greenroom-acme-pager/" in (
        outcome.out
    )
    assert "  greenroom-acme-pager/greenroom_acme_pager/_client.py" in outcome.out
    steps = outcome.out.split("Next steps:\n", 1)[1].splitlines()[:3]
    assert steps == [
        "  pip install -e greenroom-acme-pager",
        "  python -m pytest greenroom-acme-pager",
        "  greenroom serve",
    ]


def test_in_a_checkout_it_writes_plugins_and_the_directory_entry(
    create: Create, checkout: Path
) -> None:
    outcome = create(
        "acme-pager", "--author", "Jane Doe", "--description", "Acme Pager on call.",
        "--category", "Monitoring", cwd=checkout,
    )

    assert outcome.code == 0, outcome.err
    assert (checkout / "plugins" / "acme-pager" / "pyproject.toml").is_file()
    entry = checkout / "marketplace" / "acme-pager.yaml"
    shipped = checkout / "plugins" / "acme-pager" / "greenroom_acme_pager" / "marketplace.yaml"
    assert entry.read_text() == shipped.read_text()
    assert yaml.safe_load(entry.read_text())["description"] == "Acme Pager on call."
    assert lint_directory(checkout / "marketplace") == []
    assert "  marketplace/acme-pager.yaml" in outcome.out
    assert "  pip install -e plugins/acme-pager" in outcome.out
    assert sorted(p.name for p in (checkout / "plugins").iterdir()) == ["acme-pager"]


def test_dir_chooses_the_package_folder(snapshot: Snapshot, create: Create, tmp_path: Path) -> None:
    outcome = create("acme-pager", "--dir", "somewhere/else", cwd=tmp_path)
    assert outcome.code == 1
    assert f"The folder {tmp_path / 'somewhere'} does not exist" in outcome.err
    assert snapshot(tmp_path) == set()

    (tmp_path / "somewhere").mkdir()
    assert create("acme-pager", "--dir", "somewhere/else").code == 0
    assert (tmp_path / "somewhere" / "else" / "greenroom_acme_pager" / "_card.py").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "Please enter an ID for the plugin"),
        (("",), "Please enter an ID for the plugin"),
        (("Acme_Pager",), "Plugin IDs must be lowercase and contain only letters, digits, and"),
        (("3am",), "would make the invalid API id 'plugin.3am.api'"),
        (("pagerduty",), "Plugin ID 'pagerduty' is already used by an installed plugin"),
        (("scaffold",), "would make the Python package 'greenroom_scaffold'"),
        (("acme-pager", "--category", "Pagers"), "Unknown category 'Pagers'"),
        (("acme-pager", "--description", "x" * 171), "allows at most 170"),
        (("acme-pager", "--author", " "), "The author must not be empty."),
    ],
)
def test_refusals_say_why_and_write_nothing(
    snapshot: Snapshot, create: Create, tmp_path: Path, argv: tuple[str, ...], message: str
) -> None:
    (tmp_path / "other").mkdir()
    before = snapshot(tmp_path)

    outcome = create(*argv)

    assert outcome.code == 1
    assert message in outcome.err
    assert outcome.out == ""
    assert snapshot(tmp_path) == before


def test_an_existing_folder_is_refused_and_left_alone(
    snapshot: Snapshot, create: Create, tmp_path: Path
) -> None:
    existing = tmp_path / "greenroom-acme-pager"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)

    outcome = create("acme-pager")

    assert outcome.code == 1
    assert outcome.err.splitlines() == [
        f"A plugin with the same name already exists: {existing}",
        TRY_AGAIN,
    ]
    assert snapshot(tmp_path) == before
    assert (existing / "notes.txt").read_text() == "mine"


def test_an_existing_dir_is_named_not_the_plugin_id(
    snapshot: Snapshot, create: Create, tmp_path: Path
) -> None:
    existing = tmp_path / "mine"
    existing.mkdir()
    before = snapshot(tmp_path)

    outcome = create("acme-pager", "--dir", "mine")

    assert outcome.code == 1
    assert outcome.err.splitlines() == [
        f"The folder given with --dir already exists: {existing}",
        "Please choose another --dir, or move that folder away first",
    ]
    assert "plugin ID" not in outcome.err
    assert snapshot(tmp_path) == before


def test_an_existing_directory_entry_is_refused(
    snapshot: Snapshot, create: Create, checkout: Path
) -> None:
    entry = checkout / "marketplace" / "acme-pager.yaml"
    entry.write_text("title: Someone else's\n")
    before = snapshot(checkout)

    outcome = create("acme-pager", cwd=checkout)

    assert outcome.code == 1
    assert f"A plugin with the same name already exists: {entry}" in outcome.err
    assert snapshot(checkout) == before


def test_in_a_terminal_it_asks_only_for_what_is_missing(create: Create, tmp_path: Path) -> None:
    outcome = create(
        "--author", "Jane Doe",
        answers=["Bad_Id", "acme-pager", "Pages the Acme way.", ""],
    )

    assert outcome.code == 0, outcome.err
    # A bad answer is explained, then the question asked again.
    assert "Plugin IDs must be lowercase" in outcome.err
    entry = tmp_path / "greenroom-acme-pager" / "greenroom_acme_pager" / "marketplace.yaml"
    fields = yaml.safe_load(entry.read_text())
    assert fields["author"] == "Jane Doe"
    assert fields["description"] == "Pages the Acme way."
    assert fields["category"] == "Monitoring", "an empty answer takes the default"


def test_in_a_terminal_an_existing_folder_is_refused_before_more_questions(
    create: Create, tmp_path: Path
) -> None:
    (tmp_path / "greenroom-acme-pager").mkdir()
    outcome = create(answers=["acme-pager"])
    assert outcome.code == 1
    assert "A plugin with the same name already exists" in outcome.err


def test_without_a_terminal_it_never_asks(create: Create, tmp_path: Path) -> None:
    # The fixture's `ask` fails the test if called.
    outcome = create("acme-pager")
    assert outcome.code == 0, outcome.err
    entry = tmp_path / "greenroom-acme-pager" / "greenroom_acme_pager" / "marketplace.yaml"
    fields = yaml.safe_load(entry.read_text())
    assert fields["author"], "a default author is filled in"
    assert fields["category"] == "Monitoring"


def test_no_input_never_asks_even_in_a_terminal(create: Create) -> None:
    outcome = create("--no-input", answers=[])
    assert outcome.code == 1
    assert "Please enter an ID for the plugin" in outcome.err

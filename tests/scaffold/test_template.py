"""The template renders to the expected set of files, with every token replaced safely."""

from __future__ import annotations

import ast
import tomllib
from datetime import date
from pathlib import Path, PurePosixPath

import pytest
import yaml

from greenroom_scaffold import PluginSpec, ScaffoldError, render

SPEC = PluginSpec(
    id="acme-pager",
    author="Jane Doe",
    description="Acme Pager incidents and on-call.",
    added=date(2025, 1, 2),
)

EXPECTED = {
    ".gitignore",
    "README.md",
    "pyproject.toml",
    "greenroom_acme_pager/__init__.py",
    "greenroom_acme_pager/_annotations.py",
    "greenroom_acme_pager/_card.py",
    "greenroom_acme_pager/_client.py",
    "greenroom_acme_pager/_mock_data.py",
    "greenroom_acme_pager/_models.py",
    "greenroom_acme_pager/_plugin.py",
    "greenroom_acme_pager/_provider.py",
    "greenroom_acme_pager/_settings.py",
    "greenroom_acme_pager/_simulator.py",
    "greenroom_acme_pager/marketplace.yaml",
    "greenroom_acme_pager/py.typed",
    "greenroom_acme_pager/templates/acme-pager/card.html",
    "tests/conftest.py",
    "tests/test_card.py",
    "tests/test_client.py",
    "tests/test_plugin.py",
    "tests/test_provider.py",
}


def test_the_generated_paths() -> None:
    assert {str(path) for path in render(SPEC)} == EXPECTED


def test_no_token_is_left_and_python_files_parse() -> None:
    for path, text in render(SPEC).items():
        assert "__GR_" not in text, f"unreplaced token in {path}"
        if path.suffix == ".py":
            ast.parse(text, filename=str(path))


def test_pyproject_declares_the_entry_point_and_async_tests() -> None:
    pyproject = tomllib.loads(render(SPEC)[PurePosixPath("pyproject.toml")])
    project = pyproject["project"]
    assert project["name"] == "greenroom-acme-pager"
    assert "greenroom" in project["dependencies"]
    assert project["entry-points"]["greenroom"] == {"acme-pager": "greenroom_acme_pager:plugin"}
    assert pyproject["tool"]["pytest"]["ini_options"]["asyncio_mode"] == "auto"


def test_the_directory_entry() -> None:
    entry = yaml.safe_load(render(SPEC)[PurePosixPath("greenroom_acme_pager/marketplace.yaml")])
    assert entry == {
        "title": "Acme Pager",
        "author": "Jane Doe",
        "category": "Monitoring",
        "description": "Acme Pager incidents and on-call.",
        "packageName": "greenroom-acme-pager",
        "entryPoint": "acme-pager",
        "tags": ["incidents", "on-call"],
        "addedDate": "2025-01-02",
        "status": "active",
    }


def test_quotes_and_backslashes_in_answers_cannot_break_a_file() -> None:
    awkward = 'O"Brien \\ #1: \'quoted\' ü'
    spec = PluginSpec(id="acme-pager", author=awkward, description=f"Says {awkward}")
    files = render(spec)
    pyproject = tomllib.loads(files[PurePosixPath("pyproject.toml")])
    assert pyproject["project"]["authors"] == [{"name": awkward}]
    assert pyproject["project"]["description"] == f"Says {awkward}"
    entry = yaml.safe_load(files[PurePosixPath("greenroom_acme_pager/marketplace.yaml")])
    assert entry["author"] == awkward
    plugin_module = ast.parse(files[PurePosixPath("greenroom_acme_pager/_plugin.py")])
    descriptions = [
        node.value
        for node in plugin_module.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DESCRIPTION"
    ]
    assert [ast.literal_eval(value) for value in descriptions] == [f"Says {awkward}"]


def test_an_unknown_token_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("Hello __GR_NOPE__\n")
    with pytest.raises(ScaffoldError) as refused:
        render(SPEC, tmp_path)
    assert str(refused.value) == "Unknown template token __GR_NOPE__ in README.md."

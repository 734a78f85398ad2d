"""Generation is all or nothing: a failure while writing leaves no trace."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from greenroom_scaffold import (
    PluginSpec,
    ScaffoldError,
    create_plugin_package,
    is_greenroom_checkout,
)

SPEC = PluginSpec(id="acme-pager", author="Jane Doe", description="Acme Pager on call.")


def test_a_failure_while_writing_leaves_nothing(
    tmp_path: Path, checkout: Path, snapshot: Callable[[Path], set[str]]
) -> None:
    # `__GR_ID__` renders to the file `acme-pager`, written first; then `acme-pager/inner.txt`
    # needs a folder of that name, so writing fails half-way through.
    template = tmp_path / "clashing-template"
    (template / "acme-pager").mkdir(parents=True)
    (template / "acme-pager" / "inner.txt").write_text("inner\n")
    (template / "__GR_ID__").write_text("a file named like the id\n")
    (template / "__GR_MODULE__.txt").write_text("marketplace-free template\n")
    before = snapshot(checkout)

    with pytest.raises(ScaffoldError) as failed:
        create_plugin_package(SPEC, cwd=checkout, template=template)

    assert "Could not write the plugin to" in str(failed.value)
    assert "Nothing was created." in str(failed.value)
    assert snapshot(checkout) == before, "no package, no directory entry, no staging folder"


def test_checkout_detection(tmp_path: Path, checkout: Path) -> None:
    assert is_greenroom_checkout(checkout)
    assert not is_greenroom_checkout(tmp_path)
    (checkout / "pyproject.toml").write_text('[project]\nname = "other"\n')
    assert not is_greenroom_checkout(checkout)
    (checkout / "pyproject.toml").write_text("not toml [[[")
    assert not is_greenroom_checkout(checkout)

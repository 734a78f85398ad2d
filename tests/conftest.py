"""Fixtures shared by every test package."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest


def _make_venv(folder: Path) -> Path:
    """A fresh virtual environment at `folder` that sees the packages of the environment running the
    tests (never the system site-packages): Greenroom, its dependencies and its editable install.

    `site.addsitedir` (not a bare path line) so that the running environment's own `.pth` files,
    among them the editable install's, are processed too."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, capture_output=True)
    python = folder / "bin" / "python"
    child_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    parents = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    lines = "".join(f"import site; site.addsitedir({path!r})\n" for path in parents)
    (Path(child_site) / "_greenroom_test_parent.pth").write_text(lines)
    return folder


@pytest.fixture(scope="session")
def venv_factory() -> Callable[[Path], Path]:
    """Build a venv over the running test environment: call it with an empty folder."""
    return _make_venv


@pytest.fixture(autouse=True)
def _own_data_folder(tmp_path_factory: pytest.TempPathFactory,
                     monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's portals keep their database, secret and files in a folder of their own,
    never in the checkout's `.greenroom/` (which other tests, and engineers, share)."""
    folder = tmp_path_factory.mktemp("greenroom-data")
    monkeypatch.setenv("GREENROOM_DATA", str(folder))
    return folder

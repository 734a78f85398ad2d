"""Fixtures for the generator's tests: run `create-plugin` in a folder and see what it wrote."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from greenroom_scaffold.cli import run


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def _snapshot(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


@pytest.fixture
def snapshot() -> Callable[[Path], set[str]]:
    """``snapshot(folder)``: every path below it, files and folders, hidden ones included."""
    return _snapshot


def _never_asked(question: str) -> str:
    raise AssertionError(f"create-plugin prompted without a terminal: {question!r}")


Create = Callable[..., Outcome]


@pytest.fixture
def create(tmp_path: Path) -> Create:
    """``create(*argv, cwd=tmp_path, answers=None)``: answers given means a terminal."""

    def invoke(
        *argv: str, cwd: Path | None = None, answers: Sequence[str] | None = None
    ) -> Outcome:
        out, err = io.StringIO(), io.StringIO()
        pending = list(answers or [])
        asked: list[str] = []

        def ask(question: str) -> str:
            asked.append(question)
            if not pending:
                raise AssertionError(f"unexpected question {question!r} after {asked}")
            return pending.pop(0)

        code = run(
            list(argv),
            cwd=cwd or tmp_path,
            interactive=answers is not None,
            ask=ask if answers is not None else _never_asked,
            out=out,
            err=err,
        )
        return Outcome(code, out.getvalue(), err.getvalue())

    return invoke


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A folder shaped like the root of a Greenroom checkout."""
    root = tmp_path / "checkout"
    (root / "marketplace").mkdir(parents=True)
    (root / "plugins").mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "greenroom"\nversion = "0"\n')
    return root

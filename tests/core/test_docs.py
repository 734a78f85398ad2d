"""docs/plugin-api.md runs and covers everything: its ```python blocks are executed in order in
one namespace (```python no-run blocks are skipped), and every hook and public name has an entry."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import greenroom
import greenroom.testing
from greenroom import hookspecs

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugin-api.md"
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of each runnable python block."""
    blocks = []
    for match in FENCE.finditer(text):
        info = match.group("info").split()
        if info[:1] == ["python"] and "no-run" not in info[1:]:
            blocks.append((text.count("\n", 0, match.start("body")) + 1, match.group("body")))
    return blocks


def _hook_names() -> list[str]:
    return sorted(
        name for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, "greenroom_spec")
    )


def _entry_pattern(name: str) -> re.Pattern[str]:
    """A heading or a table row that starts with the name in backticks."""
    return re.compile(rf"^(?:#{{2,4}} |\| )`{re.escape(name)}[`(\[ ]", re.MULTILINE)


def test_python_blocks_run_in_order() -> None:
    blocks = _python_blocks(_doc())
    assert len(blocks) >= 10, "the docs lost their examples"
    namespace: dict[str, object] = {"__name__": "plugin_api_doc"}
    for line, code in blocks:
        try:
            exec(compile(code, f"{DOC}:{line}", "exec"), namespace)  # noqa: S102
        except Exception as exc:  # noqa: BLE001 - say which block broke
            pytest.fail(f"docs/plugin-api.md block at line {line} raised {exc!r}")


@pytest.mark.parametrize("hook", _hook_names())
def test_every_hook_is_documented_with_its_signature(hook: str) -> None:
    params = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    heading = re.compile(rf"^### `{re.escape(hook)}\({re.escape(params)}\)`", re.MULTILINE)
    assert heading.search(_doc()), f"docs/plugin-api.md needs a '### `{hook}({params})`' entry"


def test_every_hook_has_a_runnable_example() -> None:
    runnable = "\n".join(code for _, code in _python_blocks(_doc()))
    for hook in _hook_names():
        assert f"def {hook}(" in runnable, f"no runnable example implements {hook}"


@pytest.mark.parametrize(
    "name",
    [*greenroom.__all__, *(n for n in greenroom.testing.__all__ if n not in greenroom.__all__)],
)
def test_every_public_name_is_documented(name: str) -> None:
    assert _entry_pattern(name).search(_doc()), (
        f"docs/plugin-api.md needs a heading or table row starting with `{name}`"
    )


def test_the_coverage_check_would_notice_a_missing_entry() -> None:
    assert not _entry_pattern("greenroom_not_a_hook").search(_doc())
    assert _entry_pattern("create_plugin").search("### `create_plugin(*, id)`")
    assert not _entry_pattern("Card").search("### `CardContext`")

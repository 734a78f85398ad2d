"""The hook specifications: named, documented in one line, and all implemented by create_plugin."""

from __future__ import annotations

import inspect

import pluggy
import pytest

from greenroom import Plugin, hookspecs


def _hooks() -> dict[str, object]:
    return {
        name: value for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, "greenroom_spec")
    }


def test_the_core_hooks_exist() -> None:
    assert {
        "greenroom_api_factories", "greenroom_cards", "greenroom_routes", "greenroom_startup",
    } <= set(_hooks())


@pytest.mark.parametrize("name", sorted(_hooks()))
def test_hookspec_has_a_one_line_docstring(name: str) -> None:
    doc = inspect.getdoc(_hooks()[name])
    assert doc, f"{name} has no docstring"
    assert "\n" not in doc.strip(), f"{name}'s docstring must be one line"
    assert doc.endswith("."), f"{name}'s docstring must be a sentence"


@pytest.mark.parametrize("name", sorted(_hooks()))
def test_hook_names_carry_the_project_prefix(name: str) -> None:
    assert name.startswith("greenroom_")


def test_create_plugin_implements_every_hook() -> None:
    manager = pluggy.PluginManager("greenroom")
    manager.add_hookspecs(hookspecs)
    plugin = Plugin(id="complete")
    manager.register(plugin)
    manager.check_pending()
    implemented = {impl.function.__name__ for hook in manager.get_hookcallers(plugin) or []
                   for impl in hook.get_hookimpls()}
    assert implemented == set(_hooks())


def test_hook_arguments_are_what_the_host_passes() -> None:
    for name, spec in _hooks().items():
        params = list(inspect.signature(spec).parameters)  # type: ignore[arg-type]
        assert params in ([], ["apis"]), f"{name} takes {params}"

"""The public surface, as httpx's tests/test_exported_members.py pins it: ``__all__`` is exactly
the package's public names, sorted, so nothing becomes public (or stops being) by accident."""

from __future__ import annotations

import types

import greenroom
import greenroom.testing

#: What the plugin-author story in docs/plugin-api.md cannot do without.
ESSENTIAL = {
    "create_plugin", "create_api_ref", "create_api_factory", "hookimpl", "Card", "CardContext",
    "ActionResult", "Entity", "Identity", "IncidentProvider", "FetchApi", "config_api_ref",
    "fetch_api_ref", "discovery_api_ref", "identity_api_ref", "incident_providers_api_ref",
    "IncidentProvidersApi", "Simulator",
}


def _sort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions (ruff's RUF022 order for ``__all__``)."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def _public_members(module: types.ModuleType) -> list[str]:
    return [
        name for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)  # subpackages, once imported
        and name != "annotations"  # from __future__ import annotations
    ]


def test_all_imports_are_exported() -> None:
    assert greenroom.__all__ == sorted(_public_members(greenroom), key=_sort_key)


def test_plugin_author_essentials_are_public() -> None:
    assert ESSENTIAL <= set(greenroom.__all__)


def test_every_exported_name_resolves() -> None:
    for name in greenroom.__all__:
        assert getattr(greenroom, name) is not None, name


def test_testing_exports_what_it_defines() -> None:
    testing = greenroom.testing
    assert testing.__all__ == sorted(testing.__all__, key=_sort_key)
    defined_here = [
        name for name in _public_members(testing)
        if getattr(getattr(testing, name), "__module__", "").startswith("greenroom.testing")
    ]
    assert sorted([*defined_here, "TEST_USER"]) == sorted(testing.__all__)
    assert {"api_holder", "render_card", "run_action", "IncidentProviderConformance"} <= set(
        testing.__all__
    )

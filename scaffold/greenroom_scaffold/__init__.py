"""create-plugin: generate a working Greenroom provider plugin package.

    from greenroom_scaffold import PluginSpec, create_plugin_package

    create_plugin_package(PluginSpec("acme-pager", "Jane Doe", "Acme Pager incidents"), cwd=Path())
"""

from __future__ import annotations

from ._errors import ScaffoldError
from ._generator import Created, create_plugin_package, is_greenroom_checkout, plan_layout
from ._spec import CATEGORIES, PluginSpec, check_plugin_id
from ._template import render
from .cli import main

__all__ = [
    "CATEGORIES",
    "Created",
    "PluginSpec",
    "ScaffoldError",
    "check_plugin_id",
    "create_plugin_package",
    "is_greenroom_checkout",
    "main",
    "plan_layout",
    "render",
]

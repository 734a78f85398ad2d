"""What a new plugin is called: its id, and every name derived from it.

Backstage's create-plugin rules (`@backstage/cli`'s `new` command) decide which ids are
accepted. Greenroom adds the checks Python needs: the derived module name must be free, the
derived API id valid, and no installed plugin may already answer to the id.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import keyword
import re
from dataclasses import dataclass
from datetime import date

from greenroom._marketplace import CATEGORIES, DESCRIPTION_MAX

from ._errors import ScaffoldError

PLUGIN_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
DEFAULT_CATEGORY = "Monitoring"
#: Longer ids make class and function names that no longer fit the generated code's lines.
MAX_ID_LENGTH = 20
ENTRY_POINT_GROUP = "greenroom"
TRY_AGAIN = "Please try again with a different plugin ID"


@dataclass(frozen=True)
class PluginSpec:
    """The answers that make a plugin: everything else is derived from them."""

    id: str
    author: str
    description: str
    category: str = DEFAULT_CATEGORY
    added: date | None = None

    @property
    def module(self) -> str:
        """The Python package, ``greenroom_<id with underscores>``."""
        return "greenroom_" + self.id.replace("-", "_")

    @property
    def distribution(self) -> str:
        return f"greenroom-{self.id}"

    @property
    def title(self) -> str:
        return " ".join(part.capitalize() for part in self.id.split("-"))

    @property
    def class_prefix(self) -> str:
        return "".join(part.capitalize() for part in self.id.split("-"))

    @property
    def api_id(self) -> str:
        return f"plugin.{self.id}.api"


def check_plugin_id(plugin_id: str) -> None:
    """Raise :class:`ScaffoldError` with the reason when ``plugin_id`` cannot be used."""
    if not plugin_id:
        raise ScaffoldError("Please enter an ID for the plugin")
    if not PLUGIN_ID.match(plugin_id):
        raise ScaffoldError(
            "Plugin IDs must be lowercase and contain only letters, digits, and dashes."
        )
    if len(plugin_id) > MAX_ID_LENGTH:
        raise ScaffoldError(
            f"Plugin ID '{plugin_id}' is {len(plugin_id)} characters long; at most "
            f"{MAX_ID_LENGTH} keep the generated names readable. Please choose a shorter ID."
        )
    first_digit = [part for part in plugin_id.split("-") if part[0].isdigit()]
    if first_digit:
        # API ids are dash-separated tokens that start with a letter (Backstage's `ApiRef` id
        # rule, `core-plugin-api/src/apis/system/ApiRef.ts`), and the
        # plugin's API is `plugin.<id>.api`.
        raise ScaffoldError(
            f"Plugin ID '{plugin_id}' would make the invalid API id 'plugin.{plugin_id}.api': "
            f"each dash-separated part must start with a letter (not '{first_digit[0]}').",
            TRY_AGAIN,
        )
    spec = PluginSpec(id=plugin_id, author="", description="")
    module = spec.module
    if not module.isidentifier() or keyword.iskeyword(module):
        raise ScaffoldError(
            f"Plugin ID '{plugin_id}' would make the invalid Python module name '{module}'.",
            TRY_AGAIN,
        )
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name == plugin_id:
            owner = entry_point.dist.name if entry_point.dist is not None else "unknown"
            raise ScaffoldError(
                f"Plugin ID '{plugin_id}' is already used by an installed plugin: entry point "
                f"'{entry_point.name} = {entry_point.value}' of the distribution '{owner}'.",
                TRY_AGAIN,
            )
    found = importlib.util.find_spec(module)
    if found is not None:
        where = found.origin or ", ".join(found.submodule_search_locations or [])
        raise ScaffoldError(
            f"Plugin ID '{plugin_id}' would make the Python package '{module}', but a module of "
            f"that name is already installed ({where}); one would hide the other.",
            TRY_AGAIN,
        )


def check_text(field: str, value: str) -> None:
    """Author, description and category end up in TOML, YAML, Python and Markdown: one line."""
    if not value.strip():
        raise ScaffoldError(f"The {field} must not be empty.")
    if any(ch in value for ch in "\r\n\t\x00") or not value.isprintable():
        raise ScaffoldError(
            f"The {field} must be a single line of printable text, got {value!r}."
        )


def check_spec(spec: PluginSpec) -> None:
    """Every refusal, in the order a person would fix them."""
    check_plugin_id(spec.id)
    check_text("author", spec.author)
    check_text("description", spec.description)
    if len(spec.description) > DESCRIPTION_MAX:
        raise ScaffoldError(
            f"The description is {len(spec.description)} characters long; the plugin directory "
            f"allows at most {DESCRIPTION_MAX}. Please shorten it."
        )
    if spec.category not in CATEGORIES:
        raise ScaffoldError(
            f"Unknown category {spec.category!r}. Choose one of: {', '.join(CATEGORIES)}."
        )

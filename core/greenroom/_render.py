"""Jinja2 environments: one for the portal's pages, one per plugin for its cards.

Core templates are addressed as ``greenroom/<name>`` from everywhere; a plugin's own templates
(its package's ``templates/`` folder) by their bare names. Autoescaping is always on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jinja2
from markupsafe import Markup

from ._urls import http_url_or_empty


def age(value: datetime | str | None, now: datetime | None = None) -> str:
    """'3 minutes ago'-style age of a timestamp."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = int(((now or datetime.now(UTC)) - value).total_seconds())
    if seconds < 0:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def timestamp(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def initials(name: str | None) -> str:
    """'Ada Lovelace' -> 'AL': what an avatar shows when its picture cannot load."""
    words = [w for w in (name or "").replace(".", " ").split() if w[:1].isalnum()]
    return "".join(w[0] for w in (words[:1] + words[1:][-1:])).upper() or "?"


def _core_loader() -> jinja2.BaseLoader:
    return jinja2.PrefixLoader({"greenroom": jinja2.PackageLoader("greenroom", "templates")})


def configure(env: jinja2.Environment) -> jinja2.Environment:
    env.filters["age"] = age
    env.filters["timestamp"] = timestamp
    env.filters["initials"] = initials
    env.filters["http_url"] = http_url_or_empty
    return env


@functools.lru_cache(maxsize=64)
def plugin_environment(package: str | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if package:
        try:
            loaders.append(jinja2.PackageLoader(package, "templates"))
        except (ValueError, ModuleNotFoundError):  # no templates folder, or no package
            pass
    loaders.append(_core_loader())
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        enable_async=False,
    )
    return configure(env)


def card_template_renderer(package: str | None) -> Callable[..., Markup]:
    env = plugin_environment(package)

    def render(name: str, /, **variables: Any) -> Markup:
        return Markup(env.get_template(name).render(**variables))

    return render


def render_partial(name: str, /, **variables: Any) -> Markup:
    """A core fragment, ``greenroom/partials/<name>``, outside any request (cards, streams)."""
    template = plugin_environment(None).get_template(f"greenroom/partials/{name}")
    return Markup(template.render(**variables))

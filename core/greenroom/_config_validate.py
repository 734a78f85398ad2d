"""Checking one config section against a pydantic model, with errors that name the file, the
key path and the line of the wrong value, and never the value itself.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from ._config_resolve import describe_type
from ._config_yaml import format_key_path, parse_key_path
from ._exceptions import ConfigError

if TYPE_CHECKING:
    from ._config import Config, ConfigLocation

ModelT = TypeVar("ModelT", bound=BaseModel)


def validate_section(
    config: Config, key_path: str, model: type[ModelT], *, exclude: Collection[str] = ()
) -> ModelT:
    """Validate ``config`` at ``key_path`` (absent means ``{}``) against a pydantic model.

    ``exclude`` names keys of the section that belong to someone else and are left out (the
    host's ``enabled`` in ``plugins.<id>``). A wrong value raises ``ConfigError`` with the
    file, the key path of the wrong value, its line and what was expected; the value itself
    is never shown.
    """
    section = config.get(key_path)
    if section is None:
        section = {}
    elif isinstance(section, dict) and exclude:
        section = {key: value for key, value in section.items() if key not in exclude}
    try:
        return model.model_validate(section)
    except ValidationError as exc:
        problems = [_describe_problem(config, key_path, error) for error in exc.errors()]
    first_path, first_message, first_location = problems[0]
    message = first_message
    for path, text, location in problems[1:]:
        where = f" ({location.file}:{location.line})" if location and location.line else ""
        message += f"\n  also at '{path}'{where}: {text}"
    raise ConfigError(
        message,
        file=first_location.file if first_location else None,
        key_path=first_path,
        line=first_location.line if first_location else None,
    )


def _describe_problem(
    config: Config, base: str, error: Any
) -> tuple[str, str, ConfigLocation | None]:
    path = base + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
    expected = config.scrub(str(error["msg"]))
    if error["type"] == "missing":
        text = f"required setting is missing ({expected}); add it to the config"
    elif error["type"] == "extra_forbidden":
        text = f"unknown setting ({expected}); remove it or check its spelling"
    else:
        text = f"wrong value, got {describe_type(error['input'])}: {expected}"
    parts = parse_key_path(path)
    location = None
    # A missing key has no line of its own; point at the closest enclosing one.
    while location is None and parts:
        location = config.location(format_key_path(parts))
        parts = parts[:-1]
    return path, text, location

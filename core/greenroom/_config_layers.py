"""Layering config: defaults, then each file, then ``APP_CONFIG_*`` environment overrides.

The rules of Backstage's config loader (``@backstage/config-loader``): layers merge deeply,
later wins, lists and scalars are replaced, ``null`` removes a key; ``APP_CONFIG_<a>_<b>``
overrides everything (its value JSON, else a string), as its ``readEnvConfig`` does. Each
value keeps its ``Origin`` (file and line) through the merge.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ._config_resolve import Origin
from ._config_secrets import leaves
from ._config_yaml import KeyPath
from ._exceptions import ConfigError

ENV_PREFIX = "APP_CONFIG_"
_ENV_KEY_PART = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*$", re.IGNORECASE)


def environment_overrides(
    env: Mapping[str, str],
) -> tuple[dict[str, Any], dict[KeyPath, Origin]]:
    """``APP_CONFIG_a_b='{"c": 1}'`` -> ``{"a": {"b": {"c": 1}}}``, as Backstage's readEnvConfig."""
    data: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    for name in sorted(env):
        value = env[name]
        if not name.startswith(ENV_PREFIX) or not value:
            continue
        key = name[len(ENV_PREFIX) :]
        parts = key.split("_")
        node = data
        for index, part in enumerate(parts):
            if not _ENV_KEY_PART.match(part):
                raise ConfigError(
                    f"Invalid env config key '{key}' in environment variable {name}; "
                    "use letters, digits and dashes, with _ between key parts"
                )
            if index < len(parts) - 1:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    sub_key = "_".join(parts[: index + 1])
                    raise ConfigError(
                        f"Could not nest config for key '{key}' under existing value "
                        f"'{sub_key}'; remove one of the two environment variables"
                    )
                continue
            if part in node:
                raise ConfigError(
                    f"Refusing to override existing config at key '{key}'; remove one of the "
                    "environment variables that set it"
                )
            try:
                parsed: Any = json.loads(value)
            except ValueError:
                parsed = value
            if parsed is None:
                raise ConfigError(
                    f"Failed to parse JSON-serialized config value for key '{key}', "
                    f"value may not be null; unset {name} instead"
                )
            node[part] = parsed
            origin = Origin(f"environment variable {name}", None, True, (value,))
            for path, _, _ in leaves(parsed, tuple(parts), False, include_containers=True):
                origins[path] = origin
    return data, origins


def merge(
    target: dict[str, Any],
    origins: dict[KeyPath, Origin],
    layer: Mapping[str, Any],
    layer_origins: Mapping[KeyPath, Origin],
    path: KeyPath,
) -> None:
    for key, value in layer.items():
        key_path = (*path, key)
        if value is None:
            target.pop(key, None)
            _forget(origins, key_path)
            continue
        if isinstance(value, dict):
            if not isinstance(target.get(key), dict):
                target[key] = {}
                _forget(origins, key_path)
            merge(target[key], origins, value, layer_origins, key_path)
            if key_path in layer_origins:
                origins[key_path] = layer_origins[key_path]
            continue
        target[key] = value
        _forget(origins, key_path)
        origins.update((p, o) for p, o in layer_origins.items() if p[: len(key_path)] == key_path)


def _forget(origins: dict[KeyPath, Origin], prefix: KeyPath) -> None:
    for path in [p for p in origins if p[: len(prefix)] == prefix]:
        del origins[path]


def without_nulls(data: dict[str, Any]) -> dict[str, Any]:
    return {
        key: without_nulls(value) if isinstance(value, dict) else value
        for key, value in data.items()
        if value is not None
    }

"""The merged `app-config.yaml`: loading, reading, locating, validating and redacting it.

Public entry points: ``load_config(paths, env=..., defaults=...)`` returns a ``Config``;
``validate_section(config, "plugins.pagerduty", Model)`` checks one section against a pydantic
model. Rules (those of Backstage's `@backstage/config-loader`), in the order they apply:

1. ``defaults`` (in-memory mappings, taken as they are), then each file in turn, merge deeply:
   later wins, lists and scalars are replaced, ``null`` removes a key.
2. In files, ``${VAR}``/``$${X}``/``${VAR:-default}`` are substituted in strings, and
   ``{$env: NAME}``, ``{$file: path}``, ``{$include: other.yaml#a.b}`` objects are replaced.
3. ``APP_CONFIG_<a>_<b>`` environment variables override everything (JSON, else a string).

Secrets never leave through this module: ``redacted()``/``dump_redacted()`` hide them,
``scrub(text)`` removes them from any text, and errors name types, never values.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ._config_resolve import FileResolver, MissingVariable, Origin, describe_type
from ._config_yaml import KeyPath, format_key_path
from ._exceptions import ConfigError

REDACTED = "<redacted>"

_ENV_PREFIX = "APP_CONFIG_"
_ENV_KEY_PART = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*$", re.IGNORECASE)
_SECRET_KEY_NAME = re.compile(r"token|key|secret|password|authorization", re.IGNORECASE)
# The password in a URL's user info (database.url: postgresql+psycopg://user:PASSWORD@host/db;
# redis.url: redis://:PASSWORD@host:6379/0, whose user is often empty).
_URL_PASSWORD = re.compile(r"(://[^/\s:@]*:)([^@\s/]+)(@)")
# Headers whose values are never credentials, so config check shows them.
_PLAIN_HEADERS = frozenset(
    {"accept", "accept-language", "content-type", "user-agent", "cache-control", "x-request-id"}
)
_KEY_PATH_PART = re.compile(r"^([^\[\]]*)((?:\[\d+\])*)$")
# Scrubbing a very short "secret" (a port, "true", "dev") would mangle ordinary text, and no
# real credential is that short; such values are still redacted where config is shown.
_MIN_SCRUBBED_LENGTH = 6

ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigLocation(NamedTuple):
    """Where a config value was written: a file (or ``environment variable X``) and line."""

    file: str
    line: int | None


class Config:
    """The effective config. Implements the ``core.config`` API (``get``).

    ``Config(data)`` wraps plain data (handy in tests); ``load_config`` also records where
    every value came from, so ``location``, ``missing_variables`` and redaction of substituted
    header values work.
    """

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        origins: Mapping[KeyPath, Origin] | None = None,
        missing_variables: Sequence[MissingVariable] = (),
        secret_paths: Collection[str] = (),
    ) -> None:
        self._data: dict[str, Any] = _without_nulls(copy.deepcopy(dict(data or {})))
        self._origins: dict[KeyPath, Origin] = dict(origins or {})
        self._missing = list(missing_variables)
        # Keys whose names do not say "secret" but whose values carry one, as plugins declare
        # them (greenroom_secret_config_keys): Splunk On-Call's REST endpoint URL, say.
        self._secret_paths = frozenset(secret_paths)
        self._secret_values = self._collect_secret_values()
        #: Told of each secret learned at run time (the web app's response scrubber).
        self._secret_listeners: list[Callable[[str], None]] = []

    @property
    def data(self) -> dict[str, Any]:
        """The effective config as plain data (do not mutate it)."""
        return self._data

    @property
    def missing_variables(self) -> list[MissingVariable]:
        """One record per value left out because an environment variable is unset."""
        return list(self._missing)

    @property
    def secret_values(self) -> frozenset[str]:
        """Concrete secret strings in the config, for code that must scrub its own output."""
        return self._secret_values

    def get(self, key_path: str, default: Any = None) -> Any:
        """The value at ``a.b.c`` (``a.b[0]`` for list items), or ``default`` when absent."""
        node: Any = self._data
        for part in _parse_key_path(key_path):
            if isinstance(part, int):
                if not isinstance(node, list) or part >= len(node):
                    return default
            elif not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def require(self, key_path: str) -> Any:
        """The value at ``key_path``; ``ConfigError`` naming the key path when it is absent."""
        value = self.get(key_path)
        if value is not None:
            return value
        dropped = next((m for m in self._missing if m.key_path == key_path), None)
        if dropped is not None:
            raise ConfigError(
                f"missing required config value: {dropped.reason}; set it before starting",
                file=dropped.file,
                key_path=key_path,
                line=dropped.line,
            )
        env_name = _ENV_PREFIX + "_".join(str(p) for p in _parse_key_path(key_path))
        raise ConfigError(
            f"missing required config value; add it to a config file or set {env_name}",
            key_path=key_path,
        )

    def location(self, key_path: str) -> ConfigLocation | None:
        """The file and line where the value at ``key_path`` was written, if known."""
        origin = self._origins.get(_parse_key_path(key_path))
        if origin is None or origin.file is None:
            return None
        return ConfigLocation(origin.file, origin.line)

    def redacted(self) -> dict[str, Any]:
        """A deep copy with every secret replaced by ``<redacted>``.

        Secret: any value under a key whose name contains token, key, secret, password or
        authorization; any header value substituted from the environment or a file; and any
        secret string found inside another value.
        """
        redacted = self._redact(self._data, (), False)
        assert isinstance(redacted, dict)
        return redacted

    def dump_redacted(self) -> str:
        """YAML of the redacted effective config (for ``greenroom config check``)."""
        return yaml.safe_dump(
            self.redacted(), sort_keys=False, default_flow_style=False, allow_unicode=True
        )

    def learn_secret(self, value: str) -> None:
        """Scrub ``value`` from now on: a secret issued at run time, such as an OAuth access
        token, is as secret as one written in the config."""
        if len(value.strip()) >= _MIN_SCRUBBED_LENGTH:
            self._secret_values = self._secret_values | {value}
            # Log records and CLI output of this process, and every listening response
            # scrubber, stop showing it before anyone uses the token.
            from ._scrub import process_scrubber

            process_scrubber.learn(value)
            for listener in list(self._secret_listeners):
                listener(value)

    def on_secret_learned(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` with each secret :meth:`learn_secret` is given from now on."""
        self._secret_listeners.append(listener)

    def scrub(self, text: str) -> str:
        """``text`` with every known secret value replaced by ``<redacted>``."""
        for secret in sorted(self._secret_values, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", text)

    def _redact(self, value: Any, path: KeyPath, secret: bool) -> Any:
        if isinstance(value, dict):
            return {
                key: self._redact(child, (*path, key), secret or _is_secret_key(key))
                for key, child in value.items()
            }
        if isinstance(value, list):
            return [self._redact(child, (*path, i), secret) for i, child in enumerate(value)]
        if secret or self._is_substituted_header(path) or self._is_secret_path(path):
            return REDACTED
        return self.scrub(value) if isinstance(value, str) else value

    def _is_secret_path(self, path: KeyPath) -> bool:
        return ".".join(str(p) for p in path) in self._secret_paths

    def _is_substituted_header(self, path: KeyPath) -> bool:
        origin = self._origins.get(path)
        if not any(isinstance(p, str) and p.lower() == "headers" for p in path[:-1]):
            return False
        # A literal value (`X-Auth: abc123` written in the file) is as much a credential as a
        # substituted one, unless the header is one that never carries a secret.
        plain = isinstance(path[-1], str) and path[-1].lower() in _PLAIN_HEADERS
        return (origin is not None and origin.substituted) or not plain

    def _collect_secret_values(self) -> frozenset[str]:
        secrets: set[str] = set()
        for path, value, secret in _leaves(self._data, (), False):
            if isinstance(value, str):
                secrets.update(m.group(2) for m in _URL_PASSWORD.finditer(value))
            if not (secret or self._is_substituted_header(path) or self._is_secret_path(path)):
                continue
            if isinstance(value, str):
                secrets.add(value)
            origin = self._origins.get(path)
            if origin is not None:
                secrets.update(origin.secret_parts)
        return frozenset(s for s in secrets if len(s.strip()) >= _MIN_SCRUBBED_LENGTH)


def load_config(
    paths: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    defaults: Sequence[Mapping[str, Any]] = (),
    secret_paths: Collection[str] = (),
) -> Config:
    """Load and merge config files (later wins) over ``defaults``, then apply overrides.
    ``secret_paths`` are key paths whose values are secrets whatever their names say.

    ``env`` is the environment for ``${VAR}``, ``$env`` and ``APP_CONFIG_*``; it defaults to
    ``os.environ``. Raises ``ConfigError`` naming the file, key path and line of any problem.
    """
    environment: Mapping[str, str] = os.environ if env is None else env
    merged: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    missing: list[MissingVariable] = []
    for layer in defaults:
        _merge(merged, origins, copy.deepcopy(dict(layer)), {}, ())
    for path in paths:
        resolver = FileResolver(environment)
        data = resolver.resolve_file(str(path))
        _merge(merged, origins, data, resolver.origins, ())
        missing.extend(resolver.missing)
    overrides, override_origins = _environment_overrides(environment)
    _merge(merged, origins, overrides, override_origins, ())
    return Config(
        merged, origins=origins, missing_variables=missing, secret_paths=secret_paths
    )


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
    parts = _parse_key_path(path)
    location = None
    # A missing key has no line of its own; point at the closest enclosing one.
    while location is None and parts:
        location = config.location(format_key_path(parts))
        parts = parts[:-1]
    return path, text, location


def _environment_overrides(
    env: Mapping[str, str],
) -> tuple[dict[str, Any], dict[KeyPath, Origin]]:
    """``APP_CONFIG_a_b='{"c": 1}'`` -> ``{"a": {"b": {"c": 1}}}``, as Backstage's readEnvConfig."""
    data: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    for name in sorted(env):
        value = env[name]
        if not name.startswith(_ENV_PREFIX) or not value:
            continue
        key = name[len(_ENV_PREFIX) :]
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
            for path, _, _ in _leaves(parsed, tuple(parts), False, include_containers=True):
                origins[path] = origin
    return data, origins


def _merge(
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
            _merge(target[key], origins, value, layer_origins, key_path)
            if key_path in layer_origins:
                origins[key_path] = layer_origins[key_path]
            continue
        target[key] = value
        _forget(origins, key_path)
        origins.update((p, o) for p, o in layer_origins.items() if p[: len(key_path)] == key_path)


def _forget(origins: dict[KeyPath, Origin], prefix: KeyPath) -> None:
    for path in [p for p in origins if p[: len(prefix)] == prefix]:
        del origins[path]


def _without_nulls(data: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _without_nulls(value) if isinstance(value, dict) else value
        for key, value in data.items()
        if value is not None
    }


def _leaves(
    value: Any, path: KeyPath, secret: bool, *, include_containers: bool = False
) -> Iterator[tuple[KeyPath, Any, bool]]:
    """Every leaf (and, if asked, container) with its path and whether a secret key holds it."""
    if isinstance(value, dict | list):
        if include_containers:
            yield path, value, secret
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            child_secret = secret or (isinstance(key, str) and _is_secret_key(key))
            yield from _leaves(
                child, (*path, key), child_secret, include_containers=include_containers
            )
    else:
        yield path, value, secret


def _is_secret_key(name: str) -> bool:
    return bool(_SECRET_KEY_NAME.search(name))


def _parse_key_path(key_path: str) -> KeyPath:
    """``a.b[0].c`` -> ``("a", "b", 0, "c")``; the inverse of ``format_key_path``."""
    if not key_path:
        return ()
    parts: list[str | int] = []
    for segment in key_path.split("."):
        match = _KEY_PATH_PART.match(segment)
        if match is None:
            parts.append(segment)
            continue
        name, indexes = match.groups()
        if name:
            parts.append(name)
        parts.extend(int(i) for i in re.findall(r"\d+", indexes))
    return tuple(parts)


__all__ = [
    "REDACTED",
    "Config",
    "ConfigLocation",
    "MissingVariable",
    "load_config",
    "validate_section",
]

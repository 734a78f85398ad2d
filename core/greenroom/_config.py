"""The merged `app-config.yaml`: loading, reading, locating and redacting it.

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

The parts, each a concept of its own: ``_config_yaml`` (one YAML document with the line of every
key), ``_config_resolve`` (substitution and includes in one file), ``_config_layers`` (merging
and ``APP_CONFIG_*``), ``_config_secrets`` (what is secret) and ``_config_validate``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from ._config_layers import ENV_PREFIX, environment_overrides, merge, without_nulls
from ._config_resolve import FileResolver, MissingVariable, Origin
from ._config_secrets import (
    MIN_SCRUBBED_LENGTH,
    PLAIN_HEADERS,
    REDACTED,
    URL_PASSWORD,
    is_secret_key,
    leaves,
)
from ._config_validate import validate_section
from ._config_yaml import KeyPath, parse_key_path
from ._exceptions import ConfigError


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
        self._data: dict[str, Any] = without_nulls(copy.deepcopy(dict(data or {})))
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
        for part in parse_key_path(key_path):
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
        env_name = ENV_PREFIX + "_".join(str(p) for p in parse_key_path(key_path))
        raise ConfigError(
            f"missing required config value; add it to a config file or set {env_name}",
            key_path=key_path,
        )

    def location(self, key_path: str) -> ConfigLocation | None:
        """The file and line where the value at ``key_path`` was written, if known."""
        origin = self._origins.get(parse_key_path(key_path))
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
        if len(value.strip()) >= MIN_SCRUBBED_LENGTH:
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
        return URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", text)

    def _redact(self, value: Any, path: KeyPath, secret: bool) -> Any:
        if isinstance(value, dict):
            return {
                key: self._redact(child, (*path, key), secret or is_secret_key(key))
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
        plain = isinstance(path[-1], str) and path[-1].lower() in PLAIN_HEADERS
        return (origin is not None and origin.substituted) or not plain

    def _collect_secret_values(self) -> frozenset[str]:
        secrets: set[str] = set()
        for path, value, secret in leaves(self._data, (), False):
            if isinstance(value, str):
                secrets.update(m.group(2) for m in URL_PASSWORD.finditer(value))
            if not (secret or self._is_substituted_header(path) or self._is_secret_path(path)):
                continue
            if isinstance(value, str):
                secrets.add(value)
            origin = self._origins.get(path)
            if origin is not None:
                secrets.update(origin.secret_parts)
        return frozenset(s for s in secrets if len(s.strip()) >= MIN_SCRUBBED_LENGTH)


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
        merge(merged, origins, copy.deepcopy(dict(layer)), {}, ())
    for path in paths:
        resolver = FileResolver(environment)
        data = resolver.resolve_file(str(path))
        merge(merged, origins, data, resolver.origins, ())
        missing.extend(resolver.missing)
    overrides, override_origins = environment_overrides(environment)
    merge(merged, origins, overrides, override_origins, ())
    return Config(
        merged, origins=origins, missing_variables=missing, secret_paths=secret_paths
    )


__all__ = [
    "REDACTED",
    "Config",
    "ConfigLocation",
    "MissingVariable",
    "load_config",
    "validate_section",
]

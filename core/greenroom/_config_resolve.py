"""Turning one config file into plain data: `${VAR}` substitution and `$env`/`$file`/`$include`.

Mirrors Backstage's config loader (`@backstage/config-loader`, its `substitution` and `include`
transforms): a string whose variables are not all set
is absent as a whole; an include object has exactly one `$`-key. Every value produced records
where it came from (an ``Origin``) so the merged config can tell lines and secrets apart.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._config_yaml import KeyPath, format_key_path, parse_yaml
from ._exceptions import ConfigError

# `$${X}` is an escaped literal; `${X}` a reference. The optional leading `$` makes the leftmost
# match swallow an escape, which is how `$$${X}` ends up as `$` + literal `${X}` (as Backstage).
_REFERENCE = re.compile(r"\$?\$\{([^{}]*)\}")
_INCLUDE_PARSERS = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Origin:
    """Where one value of the effective config came from."""

    file: str | None
    line: int | None
    substituted: bool = False
    """The value came (at least partly) from the environment or a file, not the config text."""
    secret_parts: tuple[str, ...] = ()
    """The concrete substituted strings, so they can be scrubbed even when shown alone."""


@dataclass(frozen=True)
class MissingVariable:
    """A config value that was left out because an environment variable is not set."""

    key_path: str
    variable: str
    file: str | None
    line: int | None

    @property
    def reason(self) -> str:
        if not self.variable:
            return "it names no variable (an empty ${})"
        return f"environment variable {self.variable} is not set"

    def __str__(self) -> str:
        where = f" ({self.file}:{self.line})" if self.file and self.line else ""
        return f"'{self.key_path}'{where} is left out: {self.reason}"


@dataclass(frozen=True)
class _Substitution:
    text: str | None
    secret_parts: tuple[str, ...]
    missing: tuple[str, ...]
    substituted: bool


def substitute(text: str, env: Mapping[str, str]) -> _Substitution:
    """Apply the `${VAR}` rules to one string (``text`` is None when a variable is unset)."""
    parts: list[str] = []
    secret_parts: list[str] = []
    missing: list[str] = []
    substituted = False
    position = 0
    for match in _REFERENCE.finditer(text):
        parts.append(text[position : match.start()])
        position = match.end()
        if match.group(0).startswith("$$"):
            parts.append(match.group(0)[1:])
            continue
        substituted = True
        name, has_default, default = match.group(1).partition(":-")
        name = name.strip()
        value = env.get(name) if name else None
        if value:
            secret_parts.append(value)
        elif has_default:
            value = default
        if value is None:
            missing.append(name)
        else:
            parts.append(value)
    parts.append(text[position:])
    return _Substitution(
        text=None if missing else "".join(parts),
        secret_parts=tuple(secret_parts),
        missing=tuple(missing),
        substituted=substituted,
    )


@dataclass(frozen=True)
class _Where:
    """The place an include object is written, for its errors."""

    file: str
    key_path: str | None
    line: int | None

    def error(self, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, key_path=self.key_path, line=self.line)


class _Absent:
    """A value left out (unset variable, missing include target)."""


ABSENT = _Absent()


@dataclass(frozen=True)
class _Source:
    file: str
    lines: Mapping[KeyPath, int]
    chain: tuple[str, ...]
    """The files being resolved, outermost first, to refuse include loops."""

    @property
    def base_dir(self) -> str:
        return os.path.dirname(self.file)


class FileResolver:
    """Resolves the parsed contents of config files into plain data plus origins."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.origins: dict[KeyPath, Origin] = {}
        self.missing: list[MissingVariable] = []

    def resolve_file(self, file: str) -> dict[str, Any]:
        text = _read_text(file, "config file", where=_Where(file, None, None))
        data, lines = parse_yaml(text, file)
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ConfigError(
                "the top level of a config file must be a mapping of keys to values, "
                f"got {describe_type(data)}",
                file=file,
                line=1,
            )
        source = _Source(file=file, lines=lines, chain=(os.path.abspath(file),))
        resolved = self._value(data, (), (), source)
        assert isinstance(resolved, dict)
        return resolved

    def _value(self, value: Any, src: KeyPath, out: KeyPath, source: _Source) -> Any:
        line = source.lines.get(src)
        if isinstance(value, dict):
            include_keys = [key for key in value if key.startswith("$")]
            if include_keys:
                return self._include(value, include_keys[0], src, out, source)
            mapping: dict[str, Any] = {}
            for key, child in value.items():
                resolved = self._value(child, (*src, key), (*out, key), source)
                if resolved is not ABSENT:
                    mapping[key] = resolved
            self.origins[out] = Origin(source.file, line)
            return mapping
        if isinstance(value, list):
            items: list[Any] = []
            for index, child in enumerate(value):
                resolved = self._value(child, (*src, index), (*out, len(items)), source)
                if resolved is not ABSENT:
                    items.append(resolved)
            self.origins[out] = Origin(source.file, line)
            return items
        if isinstance(value, str):
            result = substitute(value, self._env)
            if result.text is None:
                self._record_missing(out, result.missing[0], source.file, line)
                return ABSENT
            self.origins[out] = Origin(source.file, line, result.substituted, result.secret_parts)
            return result.text
        self.origins[out] = Origin(source.file, line)
        return value

    def _include(
        self, value: dict[str, Any], key: str, src: KeyPath, out: KeyPath, source: _Source
    ) -> Any:
        line = source.lines.get(src)
        where = _Where(source.file, format_key_path(out) or None, line)
        if len(value) != 1:
            raise where.error(f"include key {key} should not have adjacent keys")
        if key not in ("$env", "$file", "$include"):
            raise where.error(f"unknown include {key}")
        raw = value[key]
        if not isinstance(raw, str):
            raise where.error(f"{key} include value is not a string")
        target = substitute(raw, self._env)
        if target.text is None:
            unset = ", ".join(name or "${}" for name in target.missing)
            raise where.error(f"{key} substitution value was undefined (not set: {unset})")
        if key == "$env":
            env_value = self._env.get(target.text)
            if env_value is None:
                self._record_missing(out, target.text, source.file, line)
                return ABSENT
            self.origins[out] = Origin(source.file, line, True, (env_value,))
            return env_value
        if key == "$file":
            path = os.path.normpath(os.path.join(source.base_dir, target.text))
            contents = _read_text(path, "file", where=where, shown=target.text)
            self.origins[out] = Origin(source.file, line, True, (contents,))
            return contents
        return self._include_document(target.text, source, out, where)

    def _include_document(self, target: str, source: _Source, out: KeyPath, where: _Where) -> Any:
        shown, _, data_path = target.partition("#")
        path = os.path.normpath(os.path.join(source.base_dir, shown))
        if os.path.splitext(shown)[1] not in _INCLUDE_PARSERS:
            raise where.error(f"no configuration parser available for included file {shown}")
        if os.path.abspath(path) in source.chain:
            loop = " -> ".join([*source.chain, os.path.abspath(path)])
            raise where.error(f"included file {shown} includes itself ({loop})")
        data, lines = parse_yaml(_read_text(path, "included file", where=where, shown=shown), path)
        selected: KeyPath = ()
        parts = data_path.split(".") if data_path else []
        for index, part in enumerate(parts):
            if not isinstance(data, dict):
                at = ".".join(parts[:index])
                raise where.error(f"value at '{at}' in included file {shown} is not an object")
            selected = (*selected, part)
            data = data.get(part, ABSENT)
        if data is ABSENT:
            return ABSENT
        included = _Source(file=path, lines=lines, chain=(*source.chain, os.path.abspath(path)))
        return self._value(data, selected, out, included)

    def _record_missing(self, out: KeyPath, variable: str, file: str, line: int | None) -> None:
        self.missing.append(MissingVariable(format_key_path(out), variable, file, line))


def _read_text(path: str, what: str, *, where: _Where, shown: str | None = None) -> str:
    name = shown if shown is not None else path
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        problem = "does not exist"
    except IsADirectoryError:
        problem = "is a directory"
    except UnicodeDecodeError:
        problem = "is not UTF-8 text"
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror})"
    hint = (
        "check the path given with --config"
        if what == "config file"
        else "paths are relative to the config file that names them"
    )
    raise where.error(f"{what} {name} {problem}; {hint}")


def describe_type(value: Any) -> str:
    """How an error names the type of a value it must not show."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__

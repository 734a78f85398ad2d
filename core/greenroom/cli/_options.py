"""What every command shares: which config files to read, and how an error is printed."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._config import Config
    from .._portal import Portal

CONFIG_HELP = (
    "app-config.yaml to load; repeat to merge several (later wins). "
    "Default: $GREENROOM_CONFIG, else the built-in demo."
)
DATABASE_CONFIG_HELP = (
    "app-config.yaml to read database.url from; repeat to merge several "
    "(default: $GREENROOM_CONFIG, else the SQLite file in $GREENROOM_DATA)"
)


def config_paths(given: Sequence[str] | None) -> list[str]:
    """The ``--config`` files given, else those in ``$GREENROOM_CONFIG`` (path-separated)."""
    if given:
        return list(given)
    from_env = os.environ.get("GREENROOM_CONFIG", "")
    return [p for p in from_env.split(os.pathsep) if p]


def add_config_option(parser: argparse.ArgumentParser, help: str = CONFIG_HELP) -> None:
    parser.add_argument("--config", "-c", action="append", metavar="FILE", help=help)


def config_from_args(paths: Sequence[str] | None) -> Config:
    """The merged config of ``--config`` files (else ``$GREENROOM_CONFIG``; else empty)."""
    from .._config import load_config

    return load_config(config_paths(paths))


def build(args: argparse.Namespace, **kwargs: Any) -> Portal:
    from .._portal import build_portal

    return build_portal(config_paths(args.config), **kwargs)


def print_error(exc: BaseException) -> None:
    print(f"greenroom: {exc}", file=sys.stderr)

"""The `greenroom` command: serve, plugins, config check, simulate, marketplace, coverage,
create-plugin, db, audit."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from . import _config, _plugins, _serve
from ._coverage import format_coverage_report
from ._coverage import main as coverage_main
from ._marketplace import main as marketplace_main
from ._serve import DEFAULT_PORT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="greenroom", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _serve.add_parser(sub)
    _plugins.add_parsers(sub)
    _config.add_parser(sub)
    # Listed for --help; _DELEGATED hands their arguments to their own parsers.
    for name, help in _DELEGATED_HELP.items():
        sub.add_parser(name, help=help).add_argument("rest", nargs=argparse.REMAINDER)
    return parser


_DELEGATED = {
    # Commands with their own option parsers get every argument after their name untouched
    # (argparse's REMAINDER refuses a leading option such as `coverage --fail-under 100`).
    "coverage": ("greenroom.cli._coverage", "main"),
    "marketplace": ("greenroom.cli._marketplace", "main"),
    "create-plugin": ("greenroom_scaffold.cli", "main"),
    "db": ("greenroom.cli._db", "main"),
    "audit": ("greenroom._audit._cli", "main"),
}
_DELEGATED_HELP = {
    "marketplace": "the plugin directory",
    "coverage": "on-call coverage report",
    "create-plugin": "generate a new provider plugin package",
    "db": "the portal's database schema: upgrade, downgrade, current",
    "audit": "the audit trail: export [--since ISO] [--format F]",
}


def main(argv: Sequence[str] | None = None) -> int:
    from .._scrub import ScrubbingStream

    # Whatever a command prints, no secret of a portal it built reaches the terminal.
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ScrubbingStream(stdout), ScrubbingStream(stderr)  # type: ignore[assignment]
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw and raw[0] in _DELEGATED:
        import importlib

        module_name, function = _DELEGATED[raw[0]]
        delegate = getattr(importlib.import_module(module_name), function)
        return int(delegate(raw[1:]) or 0)
    args = _parser().parse_args(raw)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Request lines from the HTTP client add noise, not information, at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        if args.command == "serve":
            return _serve.serve(args)
        if args.command == "plugins":
            return _plugins.list_plugins(args)
        if args.command == "config":
            return _config.check(args)
        if args.command == "simulate":
            return _plugins.simulate(args)
    except KeyboardInterrupt:
        return 130
    return 2


__all__ = ["DEFAULT_PORT", "coverage_main", "format_coverage_report", "main", "marketplace_main"]

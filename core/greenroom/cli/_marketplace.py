"""``greenroom marketplace``: lint and check the plugin directory."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """``greenroom marketplace lint [DIR]`` / ``greenroom marketplace check [DIR]``."""
    from .._marketplace import DEFAULT_DIRECTORY, check_marketplace, lint_directory

    parser = argparse.ArgumentParser(
        prog="greenroom marketplace", description="Validate the plugin directory."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    lint = commands.add_parser("lint", help="report every invalid entry file")
    lint.add_argument("directory", nargs="?", default=DEFAULT_DIRECTORY)
    check = commands.add_parser(
        "check",
        help="lint, then check entries against the installed plugin packages",
    )
    check.add_argument("directory", nargs="?", default=DEFAULT_DIRECTORY)
    args = parser.parse_args(argv)
    if args.command == "lint":
        problems = lint_directory(args.directory)
    else:
        problems = check_marketplace(args.directory)
    for problem in problems:
        print(problem)
    if problems:
        files = len({problem.file for problem in problems})
        print(
            f"{len(problems)} problem(s) in {files} file(s) under {args.directory}",
            file=sys.stderr,
        )
        return 1
    print(f"{args.directory}: OK ({args.command})")
    return 0

"""``greenroom config check``: validate everything a start would, and show the effective config."""

from __future__ import annotations

import argparse
import sys

from ._options import add_config_option, build, config_paths, print_error


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check_parser = config_sub.add_parser("check", help="validate everything a start would")
    add_config_option(check_parser)


def check(args: argparse.Namespace) -> int:
    from .._exceptions import GreenroomError

    if not config_paths(args.config):
        print("greenroom: config check needs --config FILE (or $GREENROOM_CONFIG)", file=sys.stderr)
        return 2
    try:
        portal = build(args, demo=False)
        from .._auth import require_sign_in_choice

        require_sign_in_choice(portal.config, demo=False)
    except GreenroomError as exc:
        print_error(exc)
        return 1
    problems = []
    for missing in portal.config.missing_variables:
        where = f"{missing.file}:{missing.line}" if missing.line else (missing.file or "")
        problems.append(
            f"{where}: '{missing.key_path}' uses environment variable {missing.variable}, "
            "which is not set; set it or remove the key"
        )
    for record in portal.plugin_records:
        if record.state == "failed":
            problems.append(f"plugin {record.id}: {record.error}")
    problems.extend(str(p) for p in portal.catalog.problems)
    print("# Effective configuration (secrets redacted)")
    print(portal.config.dump_redacted())
    if problems:
        print(f"{len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  - {portal.config.scrub(problem)}", file=sys.stderr)
        return 1
    print("Configuration OK.")
    return 0

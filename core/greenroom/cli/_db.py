"""``greenroom db``: the portal's database schema (upgrade, downgrade, current)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ._options import DATABASE_CONFIG_HELP, add_config_option, config_from_args, print_error


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="greenroom db", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("upgrade", help="migrate the schema to the newest revision (or REVISION)")
    up.add_argument("revision", nargs="?", default="head")
    add_config_option(up, DATABASE_CONFIG_HELP)
    down = sub.add_parser("downgrade", help="migrate the schema back to REVISION ('base': empty)")
    down.add_argument("revision")
    add_config_option(down, DATABASE_CONFIG_HELP)
    current = sub.add_parser("current", help="print the schema revision the database is at")
    add_config_option(current, DATABASE_CONFIG_HELP)
    args = parser.parse_args(list(argv))

    from .._audit import open_database
    from .._exceptions import GreenroomError

    try:
        config = config_from_args(args.config)
        database = open_database(config)
        try:
            if args.action == "upgrade":
                changed = database.upgrade(args.revision)
                state = "upgraded to" if changed else "already at"
                print(f"{database.display_url}: {state} {database.current_revision()}")
            elif args.action == "downgrade":
                database.downgrade(args.revision)
                print(f"{database.display_url}: now at {database.current_revision() or 'base'}")
            else:
                print(database.current_revision() or "base (empty database)")
        finally:
            database.close()
    except GreenroomError as exc:
        print_error(exc)
        return 1
    return 0

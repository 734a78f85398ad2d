"""``greenroom db``: the portal's database schema (upgrade, downgrade, current)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def config_from_args(paths: Sequence[str] | None) -> object:
    """The merged config of ``--config`` files (else ``$GREENROOM_CONFIG``; else empty)."""
    from ._config import load_config

    given = list(paths or [])
    if not given:
        given = [p for p in os.environ.get("GREENROOM_CONFIG", "").split(os.pathsep) if p]
    return load_config(given)


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", "-c", action="append", metavar="FILE",
        help="app-config.yaml to read database.url from; repeat to merge several "
        "(default: $GREENROOM_CONFIG, else the SQLite file in $GREENROOM_DATA)",
    )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="greenroom db", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("upgrade", help="migrate the schema to the newest revision (or REVISION)")
    up.add_argument("revision", nargs="?", default="head")
    add_config_option(up)
    down = sub.add_parser("downgrade", help="migrate the schema back to REVISION ('base': empty)")
    down.add_argument("revision")
    add_config_option(down)
    current = sub.add_parser("current", help="print the schema revision the database is at")
    add_config_option(current)
    args = parser.parse_args(list(argv))

    from ._audit import open_database
    from ._exceptions import GreenroomError

    try:
        config = config_from_args(args.config)
        database = open_database(config)  # type: ignore[arg-type]
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
        print(f"greenroom: {exc}", file=sys.stderr)
        return 1
    return 0

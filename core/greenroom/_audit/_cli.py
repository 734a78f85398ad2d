"""``greenroom audit export``: the audit trail as JSON lines or CSV on standard output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    from ..cli._options import DATABASE_CONFIG_HELP, add_config_option, config_from_args

    parser = argparse.ArgumentParser(prog="greenroom audit", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    export = sub.add_parser("export", help="write entries, oldest first, to standard output")
    export.add_argument("--since", metavar="ISO", help="only entries at or after this time")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    add_config_option(export, DATABASE_CONFIG_HELP)
    args = parser.parse_args(list(argv))

    from .._exceptions import GreenroomError
    from ._entry import parse_time
    from ._export import entries_since, write_entries
    from ._setup import open_database
    from ._sql import SqlAuditStore

    try:
        since = parse_time(args.since) if args.since else None
    except ValueError as exc:
        parser.error(f"--since: {exc}")
    try:
        config = config_from_args(args.config)
        database = open_database(config)
        try:
            if database.current_revision() is None:
                print(f"greenroom: {database.display_url} has no audit trail yet "
                      "(run `greenroom db upgrade`, or start the portal)", file=sys.stderr)
                return 1
            entries = entries_since(SqlAuditStore(database), since)
            count = write_entries(entries, sys.stdout, args.format)
        finally:
            database.close()
    except GreenroomError as exc:
        print(f"greenroom: {exc}", file=sys.stderr)
        return 1
    print(f"{count} entries", file=sys.stderr)
    return 0

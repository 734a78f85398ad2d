"""Placeholder until the command line lands."""
import sys


def main(argv: list[str] | None = None) -> int:
    print("greenroom: not built yet", file=sys.stderr)
    return 2

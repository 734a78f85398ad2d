"""Placeholder until the generator lands."""
import sys


def main(argv: list[str] | None = None) -> int:
    print("create-plugin is not built yet", file=sys.stderr)
    return 2

"""The one error the generator raises: a refusal a person can act on."""

from __future__ import annotations


class ScaffoldError(Exception):
    """Generation was refused or failed; nothing was written.

    ``lines`` are shown one per line: what is wrong (and where), then what to do.
    """

    def __init__(self, *lines: str) -> None:
        self.lines = tuple(lines)
        super().__init__("\n".join(lines))

"""``python -m greenroom.cli``: the ``greenroom`` command without its console script."""

from __future__ import annotations

import sys

from . import main

# Guarded: worker processes started with multiprocessing's spawn import this module as
# __mp_main__, and must not run the command again.
if __name__ == "__main__":
    sys.exit(main())

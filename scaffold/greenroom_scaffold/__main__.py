"""`python -m greenroom_scaffold NAME` is `create-plugin NAME`."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())

"""One replica's view of whether Redis is reachable, shared by every part that uses it.

Shared reads, live events, request budgets and webhook ids each notice a Redis outage on their
own (and each keeps its own fallback and retry pace), but an operator needs one line per outage
per replica, and one when Redis is back, not one per part.
"""

from __future__ import annotations

import logging

log = logging.getLogger("greenroom.redis")


class RedisOutage:
    """Logs the first failure after Redis was reachable, and the first success after that."""

    def __init__(self) -> None:
        self.down = False

    def failed(self, exc: BaseException) -> None:
        if not self.down:
            self.down = True
            log.warning(
                "Redis is unreachable (%s); until it returns this replica reads the upstream "
                "through its own cache, its live updates reach its own viewers only and it keeps "
                "its own request budgets and webhook ids", type(exc).__name__,
            )

    def reached(self) -> None:
        if self.down:
            self.down = False
            log.warning("Redis is back; reads, live updates, request budgets and webhook ids "
                        "are shared by every replica again")

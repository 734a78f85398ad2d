"""Change events and the bus that carries them to every replica.

A :class:`ChangeEvent` says *what* changed (an entity, one of its cards, a version), never the
new content: pages differ per viewer (permissions, CSRF tokens), so each open page fetches its
own fresh fragment when told. The bus is a small protocol with two implementations, chosen by
config: :class:`MemoryEventBus` (one process: the demo, unit tests) and
:class:`~greenroom._events_redis.RedisEventBus` (``redis.url``: Redis pub/sub, every replica).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

#: ``card`` of an event that concerns everything an entity shows.
EVERY_CARD = "*"


@dataclass(frozen=True)
class ChangeEvent:
    """Something an entity shows changed.

    ``invalidate`` lists cached URL prefixes that every replica forgets before its viewers
    re-read (a webhook knows which vendor resources it concerns); ``source`` says what made
    the change (``action``, ``webhook:pagerduty``, ``watch``) for logs and tests.
    """

    entity: str
    card: str = EVERY_CARD
    version: str = ""
    invalidate: tuple[str, ...] = ()
    source: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {
                "entity": self.entity,
                "card": self.card,
                "version": self.version,
                "invalidate": list(self.invalidate),
                "source": self.source,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> ChangeEvent:
        """Parse a bus message; raises ValueError when it is not one."""
        data: Any = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("entity"), str):
            raise ValueError("a change event is a JSON object with a string 'entity'")
        invalidate = data.get("invalidate") or []
        if not isinstance(invalidate, list):
            raise ValueError("'invalidate' must be a list of URL prefixes")
        return cls(
            entity=data["entity"],
            card=str(data.get("card") or EVERY_CARD),
            version=str(data.get("version") or ""),
            invalidate=tuple(str(p) for p in invalidate),
            source=str(data.get("source") or ""),
        )


Deliver = Callable[[ChangeEvent], Awaitable[None]]


class EventBus(Protocol):
    """Carries change events to every process serving the portal."""

    async def publish(self, event: ChangeEvent) -> None:
        """Send ``event`` to every process (this one included)."""
        ...

    async def start(self, deliver: Deliver) -> None:
        """From now on, call ``deliver`` with every event any process publishes."""
        ...

    async def ping(self) -> bool:
        """Whether the bus reaches every process right now."""
        ...

    async def aclose(self) -> None: ...


class MemoryEventBus:
    """The bus of a single process: publishing delivers at once."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    async def publish(self, event: ChangeEvent) -> None:
        if self._deliver is not None:
            await self._deliver(event)

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        self._deliver = None

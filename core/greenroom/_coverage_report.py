"""The coverage report: each entity a rule selects, in one of four states, and the score.

*covered* when an enabled provider's annotation is on it and the provider confirms it, *broken*
when the annotation is there but the vendor does not know it, *unknown* when no provider could
confirm it (the reason says why), *not-covered* otherwise. Only confirmed coverage counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._entity import Entity, owner_key, owner_label

if TYPE_CHECKING:
    from ._coverage_policy import CoverageRule
    from ._provider import CoverageCheck

COVERED = "covered"
NOT_COVERED = "not-covered"
BROKEN = "broken"
UNKNOWN = "unknown"
STATES = (COVERED, NOT_COVERED, UNKNOWN, BROKEN)


@dataclass(frozen=True)
class EntityCoverage:
    """One selected entity: its state, the rules that select it and what each provider said."""

    entity: Entity
    state: str
    rules: tuple[CoverageRule, ...]
    checks: tuple[CoverageCheck, ...] = ()

    @property
    def reason(self) -> str:
        if self.state == NOT_COVERED:
            return "no incident provider annotation"
        relevant = [c for c in self.checks if c.state == self.state] or list(self.checks)
        return "; ".join(c.reason for c in relevant if c.reason)

    @property
    def owner(self) -> str:
        """The owner as people say it: ``group:default/team-a`` is shown as ``team-a``."""
        return owner_label(self.entity.owner or "") or "unowned"


@dataclass(frozen=True)
class CoverageReport:
    entries: tuple[EntityCoverage, ...] = ()
    has_policy: bool = False

    def count(self, state: str) -> int:
        return sum(1 for e in self.entries if e.state == state)

    @property
    def total(self) -> int:
        return len(self.entries)

    @property
    def percentage(self) -> float:
        """Covered share of the selected entities; 100 when nothing is selected."""
        return 100.0 * self.count(COVERED) / self.total if self.total else 100.0

    @property
    def summary(self) -> str:
        """``83% (5 of 6)``. Rounded down, so a gap never shows as 100%."""
        return f"{math.floor(self.percentage)}% ({self.count(COVERED)} of {self.total})"

    def by_owner(self) -> dict[str, list[EntityCoverage]]:
        groups: dict[str, list[EntityCoverage]] = {}
        labels: dict[str, str] = {}
        for entry in sorted(self.entries, key=_owner_then_name):
            label = labels.setdefault(entry.owner.lower(), entry.owner)
            groups.setdefault(label, []).append(entry)
        return groups

    def filtered(self, *, owner: str = "", state: str = "") -> CoverageReport:
        entries = [
            e for e in self.entries
            if (not owner or owner_key(e.owner) == owner_key(owner))
            and (not state or e.state == state)
        ]
        return CoverageReport(tuple(entries), self.has_policy)

    def gaps(self) -> list[EntityCoverage]:
        return [e for e in self.entries if e.state != COVERED]

    def unknown(self) -> list[EntityCoverage]:
        return [e for e in self.entries if e.state == UNKNOWN]

    def as_json(self) -> dict[str, Any]:
        return {
            "hasPolicy": self.has_policy,
            "total": self.total,
            "covered": self.count(COVERED),
            "notCovered": self.count(NOT_COVERED),
            "broken": self.count(BROKEN),
            "unknown": self.count(UNKNOWN),
            "percentage": round(self.percentage, 2),
            "summary": self.summary if self.has_policy else None,
            "owners": [
                {"owner": owner, "entities": [_entry_json(e) for e in entries]}
                for owner, entries in self.by_owner().items()
            ],
        }


def _owner_then_name(entry: EntityCoverage) -> tuple[str, str]:
    return (entry.owner.lower(), entry.entity.display_name.lower())


def _entry_json(entry: EntityCoverage) -> dict[str, Any]:
    return {
        "ref": entry.entity.ref,
        "name": entry.entity.display_name,
        "url": entry.entity.path,
        "owner": entry.entity.owner,
        "state": entry.state,
        "reason": entry.reason,
        "rules": [rule.name for rule in entry.rules],
        "providers": [
            {"provider": c.provider, "state": c.state, "reason": c.reason} for c in entry.checks
        ],
    }

"""The coverage report: the score people read."""

from __future__ import annotations

from greenroom._coverage_report import CoverageReport, EntityCoverage

from .test_coverage_policy import entity


def test_summary_never_rounds_a_gap_up_to_100() -> None:
    entries = tuple(
        EntityCoverage(entity(), "covered" if i else "not-covered", ()) for i in range(200)
    )
    assert CoverageReport(entries, True).summary == "99% (199 of 200)"

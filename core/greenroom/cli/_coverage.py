"""``greenroom coverage``: the on-call coverage report for a terminal or a CI job."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._coverage_report import CoverageReport
    from .._portal import Portal


def _coverage_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="greenroom coverage",
        description="On-call coverage of the catalog against the coverage.rules policy.",
    )
    parser.add_argument(
        "--config", action="append", default=[], metavar="FILE",
        help="app-config.yaml (repeatable, later wins); none means the demo",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--fail-under", type=float, default=None, metavar="PCT",
        help="exit 1 when the confirmed covered percentage is under PCT (0-100), or when "
        "any entity's coverage is unknown",
    )
    parser.add_argument(
        "--allow-unknown", action="store_true",
        help="with --fail-under: do not fail for unknown coverage (it still does not count)",
    )
    return parser


def format_coverage_report(report: CoverageReport) -> str:
    from .._coverage_report import BROKEN, COVERED, NOT_COVERED, UNKNOWN

    if not report.has_policy:
        return "No coverage policy: add coverage.rules to the config to check on-call coverage.\n"
    lines = [f"On-call coverage: {report.summary}"]
    lines.append(
        f"  covered {report.count(COVERED)}, not covered {report.count(NOT_COVERED)}, "
        f"unknown {report.count(UNKNOWN)}, broken {report.count(BROKEN)}"
    )
    for owner, entries in report.by_owner().items():
        lines.append(f"\n{owner}")
        for entry in entries:
            reason = f"  ({entry.reason})" if entry.reason else ""
            lines.append(f"  {entry.state:<12} {entry.entity.ref}{reason}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``greenroom coverage [--config FILE ...] [--json] [--fail-under PCT [--allow-unknown]]``.

    Exit codes: 0 fine, 1 under the threshold or (without ``--allow-unknown``) some coverage
    unknown, 2 bad arguments or config.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    # `greenroom coverage -- --fail-under 100`: the outer CLI may pass the separator along.
    if arguments[:1] == ["--"]:
        arguments = arguments[1:]
    from .._exceptions import GreenroomError

    args = _coverage_parser().parse_args(arguments)
    if args.fail_under is not None and not 0 <= args.fail_under <= 100:
        print(f"--fail-under must be between 0 and 100, got {args.fail_under:g}", file=sys.stderr)
        return 2
    try:
        report = _coverage_report_for(args.config)
    except GreenroomError as exc:
        print(f"greenroom coverage: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print(format_coverage_report(report), end="")
    if args.fail_under is not None and report.percentage < args.fail_under:
        gaps = ", ".join(f"{e.entity.ref} ({e.state})" for e in report.gaps())
        print(
            f"Coverage {report.percentage:.1f}% is under the required {args.fail_under:g}%. "
            f"Add a provider annotation to: {gaps}",
            file=sys.stderr,
        )
        return 1
    if args.fail_under is not None and report.unknown() and not args.allow_unknown:
        unknown = "; ".join(f"{e.entity.ref} ({e.reason})" for e in report.unknown())
        count = len(report.unknown())
        print(
            f"Coverage of {count} entit{'y is' if count == 1 else 'ies is'} unknown: {unknown}. "
            "Fix the cause, or pass --allow-unknown to accept it.",
            file=sys.stderr,
        )
        return 1
    return 0


def _coverage_report_for(config_paths: Sequence[str]) -> CoverageReport:
    from .._portal import build_portal

    if config_paths:
        portal = build_portal(config_paths)
        return asyncio.run(_evaluate_and_close(portal))
    return _demo_coverage_report()


async def _evaluate_and_close(portal: Portal) -> CoverageReport:
    from .._coverage import evaluate
    from .._portal import run_startup

    try:
        await run_startup(portal)
        return await evaluate(portal)
    finally:
        await portal.aclose()


def _demo_coverage_report() -> CoverageReport:
    """The demo's simulators only answer while the portal serves, so serve it on loopback."""
    import socket
    import threading

    import uvicorn

    from .._portal import build_portal
    from ..web import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    # Listening now queues early requests until the server thread accepts them.
    sock.listen(128)
    port = sock.getsockname()[1]
    portal = build_portal((), base_url=f"http://127.0.0.1:{port}", demo=True)
    # lifespan off: the portal's shared client belongs to the loop that evaluates, not to
    # the server's thread; _evaluate_and_close runs startup and closes it.
    server = uvicorn.Server(
        uvicorn.Config(create_app(portal), lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        return asyncio.run(_evaluate_and_close(portal))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

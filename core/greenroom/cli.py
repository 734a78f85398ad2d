"""The `greenroom` command: serve, plugins, config check, simulate, marketplace, coverage,
create-plugin."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._coverage import CoverageReport
    from ._portal import Portal

DEFAULT_PORT = 7007


def _config_paths(given: Sequence[str] | None) -> list[str]:
    if given:
        return list(given)
    from_env = os.environ.get("GREENROOM_CONFIG", "")
    return [p for p in from_env.split(os.pathsep) if p]


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", "-c", action="append", metavar="FILE",
        help="app-config.yaml to load; repeat to merge several (later wins). "
        "Default: $GREENROOM_CONFIG, else the built-in demo.",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="greenroom", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the portal (the demo when no config is given)")
    _add_config(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--demo", action="store_true", help="add the demo to the given config")
    serve.add_argument(
        "--workers", type=int, default=1, metavar="N",
        help="processes to serve with (each caches upstream reads on its own; not the demo)",
    )

    plugins = sub.add_parser("plugins", help="list installed plugins and their state")
    _add_config(plugins)
    plugins.add_argument("--json", action="store_true")

    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser("check", help="validate everything a start would")
    _add_config(check)

    simulate = sub.add_parser("simulate", help="serve a plugin's vendor simulator on its own")
    simulate.add_argument("plugin_id")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=9001)

    market = sub.add_parser("marketplace", help="the plugin directory")
    market.add_argument("marketplace_args", nargs=argparse.REMAINDER)

    coverage = sub.add_parser("coverage", help="on-call coverage report")
    coverage.add_argument("coverage_args", nargs=argparse.REMAINDER)

    create = sub.add_parser("create-plugin", help="generate a new provider plugin package")
    create.add_argument("create_args", nargs=argparse.REMAINDER)

    db = sub.add_parser("db", help="the portal's database schema: upgrade, downgrade, current")
    db.add_argument("db_args", nargs=argparse.REMAINDER)
    audit = sub.add_parser("audit", help="the audit trail: export [--since ISO] [--format F]")
    audit.add_argument("audit_args", nargs=argparse.REMAINDER)
    return parser


_DELEGATED = {
    # Commands with their own option parsers get every argument after their name untouched
    # (argparse's REMAINDER refuses a leading option such as `coverage --fail-under 100`).
    "coverage": ("greenroom.cli", "coverage_main"),
    "marketplace": ("greenroom.cli", "marketplace_main"),
    "create-plugin": ("greenroom_scaffold.cli", "main"),
    "db": ("greenroom._db_cli", "main"),
    "audit": ("greenroom._audit._cli", "main"),
}


def main(argv: Sequence[str] | None = None) -> int:
    from ._scrub import ScrubbingStream

    # Whatever a command prints, no secret of a portal it built reaches the terminal.
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ScrubbingStream(stdout), ScrubbingStream(stderr)  # type: ignore[assignment]
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw and raw[0] in _DELEGATED:
        import importlib

        module_name, function = _DELEGATED[raw[0]]
        delegate = getattr(importlib.import_module(module_name), function)
        return int(delegate(raw[1:]) or 0)
    args = _parser().parse_args(raw)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Request lines from the HTTP client add noise, not information, at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "plugins":
            return _plugins(args)
        if args.command == "config":
            return _config_check(args)
        if args.command == "simulate":
            return _simulate(args)
    except KeyboardInterrupt:
        return 130
    return 2


def _build(args: argparse.Namespace, **kwargs: Any) -> Any:
    from ._portal import build_portal

    paths = _config_paths(args.config)
    return build_portal(paths, **kwargs)


def _print_error(exc: BaseException) -> None:
    print(f"greenroom: {exc}", file=sys.stderr)


def _serve(args: argparse.Namespace) -> int:

    from ._exceptions import GreenroomError
    from .web import create_app
    from .web._access_log import use_buffered_access_log

    use_buffered_access_log()
    internal_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    paths = _config_paths(args.config)
    try:
        from ._portal import build_portal

        portal = build_portal(
            paths,
            base_url=f"http://{internal_host}:{args.port}",
            demo=True if args.demo else None,
        )
        from ._auth import require_sign_in_choice, uvicorn_forwarding, warn_about_legacy

        auth = require_sign_in_choice(portal.config, demo=portal.demo)
        warn_about_legacy(auth)
    except GreenroomError as exc:
        _print_error(exc)
        return 1
    for record in portal.plugin_records:
        if record.state == "failed":
            logging.getLogger("greenroom").error(
                "plugin %s failed and is not running: %s", record.id, record.error
            )
    mode = "demo" if portal.demo else ", ".join(paths)
    if args.workers > 1:
        from .web._workers import DEMO_REFUSAL, serve_workers

        if portal.demo:
            print(f"greenroom: --workers {args.workers}: {DEMO_REFUSAL}", file=sys.stderr)
            return 2
        print(f"Greenroom ({mode}, {args.workers} workers) on http://{internal_host}:{args.port}",
              flush=True)
        return serve_workers(paths, host=args.host, port=args.port, workers=args.workers,
                             base_url=f"http://{internal_host}:{args.port}",
                             forwarding=uvicorn_forwarding(auth))
    print(f"Greenroom ({mode}) on http://{internal_host}:{args.port}", flush=True)
    from ._shutdown import serve

    # Greenroom's own access log (greenroom.access) replaces uvicorn's.
    serve(create_app(portal), host=args.host, port=args.port, access_log=False,
          **uvicorn_forwarding(auth))
    return 0


def _plugins(args: argparse.Namespace) -> int:
    from ._exceptions import GreenroomError

    try:
        portal = _build(args, demo=False)
    except GreenroomError as exc:
        _print_error(exc)
        return 1
    records = [r.as_json() for r in portal.plugin_records]
    if args.json:
        print(json.dumps(records, indent=2))
        return 0
    if not records:
        print("No plugins installed.")
        return 0
    width = max(len(r["id"]) for r in records)
    for r in records:
        where = f"{r['distribution']} {r['version']}" if r["distribution"] else "(not packaged)"
        line = f"{r['id']:<{width}}  {r['state']:<8}  {where}"
        if r["error"]:
            line += f"  -- {r['error']}"
        print(line)
    return 0


def _config_check(args: argparse.Namespace) -> int:
    from ._exceptions import GreenroomError

    paths = _config_paths(args.config)
    if not paths:
        print("greenroom: config check needs --config FILE (or $GREENROOM_CONFIG)", file=sys.stderr)
        return 2
    try:
        portal = _build(args, demo=False)
        from ._auth import require_sign_in_choice

        require_sign_in_choice(portal.config, demo=False)
    except GreenroomError as exc:
        _print_error(exc)
        return 1
    problems = []
    for missing in portal.config.missing_variables:
        where = f"{missing.file}:{missing.line}" if missing.line else (missing.file or "")
        problems.append(
            f"{where}: '{missing.key_path}' uses environment variable {missing.variable}, "
            "which is not set; set it or remove the key"
        )
    for record in portal.plugin_records:
        if record.state == "failed":
            problems.append(f"plugin {record.id}: {record.error}")
    problems.extend(str(p) for p in portal.catalog.problems)
    print("# Effective configuration (secrets redacted)")
    print(portal.config.dump_redacted())
    if problems:
        print(f"{len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  - {portal.config.scrub(problem)}", file=sys.stderr)
        return 1
    print("Configuration OK.")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import uvicorn

    from ._host import PluginHost

    host = PluginHost()
    host.load_entry_points()
    sims = {s.plugin_id: s for _, found in host._each("greenroom_simulators") for s in found}
    sim = sims.get(args.plugin_id)
    if sim is None:
        known = ", ".join(sorted(sims)) or "none"
        print(f"greenroom: no simulator for plugin {args.plugin_id!r} (have: {known})",
              file=sys.stderr)
        return 2
    print(f"{args.plugin_id} simulator on http://{args.host}:{args.port}", flush=True)
    headers = ", ".join(f"{k}: {v}" for k, v in sim.proxy_headers.items())
    if headers:
        print(f"Send these headers (demo credentials): {headers}", flush=True)
    uvicorn.run(sim.app(), host=args.host, port=args.port, log_level="warning")
    return 0


# --- greenroom marketplace -----------------------------------------------------------------------


def marketplace_main(argv: Sequence[str] | None = None) -> int:
    """``greenroom marketplace lint [DIR]`` / ``greenroom marketplace check [DIR]``."""
    from ._marketplace import DEFAULT_DIRECTORY, check_marketplace, lint_directory

    parser = argparse.ArgumentParser(
        prog="greenroom marketplace", description="Validate the plugin directory."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    lint = commands.add_parser("lint", help="report every invalid entry file")
    lint.add_argument("directory", nargs="?", default=DEFAULT_DIRECTORY)
    check = commands.add_parser(
        "check",
        help="lint, then check entries against the installed plugin packages",
    )
    check.add_argument("directory", nargs="?", default=DEFAULT_DIRECTORY)
    args = parser.parse_args(argv)
    if args.command == "lint":
        problems = lint_directory(args.directory)
    else:
        problems = check_marketplace(args.directory)
    for problem in problems:
        print(problem)
    if problems:
        files = len({problem.file for problem in problems})
        print(
            f"{len(problems)} problem(s) in {files} file(s) under {args.directory}",
            file=sys.stderr,
        )
        return 1
    print(f"{args.directory}: OK ({args.command})")
    return 0


# --- greenroom coverage --------------------------------------------------------------------------


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
    from ._coverage import BROKEN, COVERED, NOT_COVERED, UNKNOWN

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


def coverage_main(argv: Sequence[str] | None = None) -> int:
    """``greenroom coverage [--config FILE ...] [--json] [--fail-under PCT [--allow-unknown]]``.

    Exit codes: 0 fine, 1 under the threshold or (without ``--allow-unknown``) some coverage
    unknown, 2 bad arguments or config.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    # `greenroom coverage -- --fail-under 100`: the outer CLI may pass the separator along.
    if arguments[:1] == ["--"]:
        arguments = arguments[1:]
    from ._exceptions import GreenroomError

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
    from ._portal import build_portal

    if config_paths:
        portal = build_portal(config_paths)
        return asyncio.run(_evaluate_and_close(portal))
    return _demo_coverage_report()


async def _evaluate_and_close(portal: Portal) -> CoverageReport:
    from ._coverage import evaluate
    from ._portal import run_startup

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

    from ._portal import build_portal
    from .web import create_app

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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["main"]



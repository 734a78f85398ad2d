"""``greenroom plugins`` (what is installed, and its state) and ``greenroom simulate`` (a plugin's
vendor simulator on its own)."""

from __future__ import annotations

import argparse
import json
import sys

from ._options import add_config_option, build, print_error


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plugins = sub.add_parser("plugins", help="list installed plugins and their state")
    add_config_option(plugins)
    plugins.add_argument("--json", action="store_true")

    simulate = sub.add_parser("simulate", help="serve a plugin's vendor simulator on its own")
    simulate.add_argument("plugin_id")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=9001)


def list_plugins(args: argparse.Namespace) -> int:
    from .._exceptions import GreenroomError

    try:
        portal = build(args, demo=False)
    except GreenroomError as exc:
        print_error(exc)
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


def simulate(args: argparse.Namespace) -> int:
    import uvicorn

    from .._host import PluginHost

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

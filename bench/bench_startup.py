"""Start-up: ``greenroom serve`` ready to serve with 50 installed plugins, beside none.

    python bench/bench_startup.py [--plugins 50] [--runs 3]

"Installed" as pip installs them: importable modules plus a distribution whose entry points put
them in the ``greenroom`` group, on ``PYTHONPATH`` (a folder made by this script). Each plugin has a
card and an API. The figure is the time from starting the process to the first ``200`` from
``/healthz``, the median of ``--runs`` starts, beside the same start without the extra plugins,
and beside the demo (``greenroom serve`` with no config: no database, no sign-in). Goal: under
1.5 s with 50 plugins.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PLUGIN = '''\
from greenroom import Card, create_api_factory, create_api_ref, create_plugin

api_ref = create_api_ref("plugin.bench-{n}.api")


class Api:
    def answer(self) -> str:
        return "{n}"


async def render(ctx):
    return "<p>bench {n}</p>"


plugin = create_plugin(
    id="bench-{n}",
    title="Bench {n}",
    apis=[create_api_factory(api=api_ref, deps={{}}, factory=lambda: Api())],
    cards=[Card(id="bench-{n}.card", title="Bench {n}", render=render)],
)
'''


def install_plugins(folder: Path, count: int) -> None:
    for n in range(count):
        (folder / f"greenroom_bench_{n}.py").write_text(PLUGIN.format(n=n))
    dist = folder / "greenroom_bench_plugins-0.0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: greenroom-bench-plugins\nVersion: 0.0.0\n"
    )
    (dist / "entry_points.txt").write_text(
        "[greenroom]\n" + "".join(f"bench-{n} = greenroom_bench_{n}:plugin\n"
                                  for n in range(count))
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def time_to_ready(config: Path | None, pythonpath: str | None) -> float:
    """Seconds from starting ``greenroom serve`` (the demo when ``config`` is None) to its
    first 200 from ``/healthz``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "GREENROOM_CONFIG"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    started = time.perf_counter()
    options = ["--config", str(config)] if config is not None else []
    process = subprocess.Popen(
        [sys.executable, "-m", "greenroom.cli", "serve", *options, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    try:
        deadline = started + 60
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"greenroom serve exited with {process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("not ready after 60 s")
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plugins", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="greenroom-bench-startup-"))
    plugins = folder / "site"
    plugins.mkdir()
    install_plugins(plugins, args.plugins)
    config = folder / "app-config.yaml"
    # Production sign-in (a trusted proxy) and a permission rule: the audit database (SQLite in
    # the data folder) is opened and its migrations checked at every start.
    config.write_text(
        "app:\n  title: start-up bench\n"
        "auth:\n  provider: proxy\n  proxy:\n    header: X-Forwarded-Email\n"
        "    trustedProxies: [127.0.0.1/32]\n"
        "permissions:\n  rules:\n    - actions: [incident.resolve]\n      allow: [owner]\n"
    )
    os.environ["GREENROOM_DATA"] = str(folder / "data")
    time_to_ready(config, None)  # the first start creates the database: not counted
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    bare, loaded, demo = [], [], []
    for _ in range(args.runs):  # interleaved, so background load hits them alike
        bare.append(time_to_ready(config, None))
        loaded.append(time_to_ready(config, str(plugins)))
        demo.append(time_to_ready(None, None))
    bare_s, loaded_s = statistics.median(bare), statistics.median(loaded)
    print(f"{'start-up':<34} {'median s':>9} {'runs':>24}")
    print(f"{'demo (no config)':<34} {statistics.median(demo):>9.2f} "
          f"{' '.join(f'{t:.2f}' for t in demo):>24}")
    print(f"{'no extra plugins':<34} {bare_s:>9.2f} {' '.join(f'{t:.2f}' for t in bare):>24}")
    print(f"{f'{args.plugins} installed plugins':<34} {loaded_s:>9.2f} "
          f"{' '.join(f'{t:.2f}' for t in loaded):>24}")
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"goal: {args.plugins} plugins ready in under 1.5 s: "
          f"{'met' if loaded_s < 1.5 else 'NOT met'} ({loaded_s - bare_s:+.2f} s over none)")


if __name__ == "__main__":
    main()

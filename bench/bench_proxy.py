"""The external proxy route ``/api/proxy/<route>/...`` beside other proxies, in one run.

    python bench/bench_proxy.py [--quick] [--duration S] [--runs N] [--connections C]

Contenders, each forwarding the same small JSON answer from the same upstream:

- **greenroom**: ``greenroom serve`` (the production command: uvicorn, the access log, security
  headers, sign-in and the permission check all on) with one proxy route that needs a signed-in
  user; the load generator sends the trusted identity header.
- **bare-python**: the Python ceiling, a bare Starlette route over one shared ``aiohttp`` session
  under uvicorn with uvloop and httptools (started by this script).
- **nginx**: ``proxy_pass`` with an upstream keep-alive pool, when ``nginx`` is installed
  (``apt-get install nginx wrk``).
- **express**: Express + ``http-proxy-middleware``, the library Backstage's proxy is built on, when
  node finds it. Install it outside the repository::

      mkdir -p ~/.cache/greenroom-bench/express && cd ~/.cache/greenroom-bench/express
      npm init -y && npm install express http-proxy-middleware

  (or point ``--express-dir`` / ``$BENCH_EXPRESS_DIR`` at a folder holding that ``node_modules``).

The load generator is ``wrk -t1 -cC`` (``apt-get install wrk``). On a machine with two cores or
more, the proxy under test runs pinned to one core and wrk and the upstream to another
(``taskset``), so a contender is measured on one core of its own. Each figure is the median of
``--runs`` rounds; rounds interleave the contenders so that background load hits them alike.
The output gives req/s, p50 and p99 for each and the ratios to Express and to the bare proxy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BODY = (
    b'{"incidents":[{"id":"PT4KHLK","status":"triggered","title":"db down",'
    b'"service":{"id":"PIJ90N7","summary":"checkout"},"urgency":"high"}],'
    b'"limit":25,"offset":0,"more":false}'
)
IDENTITY_HEADER = "X-Forwarded-Email"
USER = "bench@example.com"
PROXY_PATH = "/api/proxy/bench/v1/incidents?limit=25"
DEFAULT_EXPRESS_DIR = Path.home() / ".cache" / "greenroom-bench" / "express"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


# --- the upstream: a fixed JSON answer, as cheap as it can be ------------------------------------


def serve_upstream(port: int) -> None:
    """An HTTP/1.1 keep-alive server answering every request with ``BODY`` (httptools + uvloop)."""
    import httptools
    import uvloop

    response = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: no-store\r\n"
        b"content-length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
    )

    class Upstream(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.parser = httptools.HttpRequestParser(self)

        def data_received(self, data: bytes) -> None:
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError:
                self.transport.close()

        def on_message_complete(self) -> None:
            self.transport.write(response)  # type: ignore[attr-defined]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Upstream, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    uvloop.run(main())


# --- the Python ceiling: bare Starlette + aiohttp -------------------------------------------------


def bare_app(upstream: str | None = None) -> Any:
    """The bare proxy: one Starlette route over one shared aiohttp session."""
    import aiohttp
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    upstream = upstream or os.environ["BENCH_UPSTREAM"]
    session: dict[str, aiohttp.ClientSession] = {}

    async def proxy(request: Request) -> Response:
        if "s" not in session:
            session["s"] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200), cookie_jar=aiohttp.DummyCookieJar()
            )
        url = upstream + "/" + request.path_params["path"]
        if request.url.query:
            url += "?" + request.url.query
        async with session["s"].request(request.method, url, data=await request.body()) as up:
            body = await up.read()
            return Response(body, up.status, media_type=up.headers.get("content-type"))

    return Starlette(routes=[Route("/api/proxy/bench/{path:path}", proxy,
                                   methods=["GET", "POST"])])


def serve_bare(port: int, upstream: str) -> None:
    import uvicorn

    uvicorn.run(bare_app(upstream), host="127.0.0.1", port=port, log_level="warning",
                access_log=False, loop="uvloop", http="httptools")


def granian_command(target: str, port: int) -> list[str]:
    """granian serving the ASGI app factory ``target`` on one worker, with uvloop."""
    return [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--loop",
            "uvloop", "--no-ws", "--workers", "1", "--log-level", "warning",
            "--host", "127.0.0.1", "--port", str(port), target]


# --- contenders ---------------------------------------------------------------------------------


@dataclass
class Contender:
    name: str
    port: int
    command: list[str]
    cwd: str | None = None
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    results: list[tuple[float, float, float]] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # CPU microseconds per request
    errors: int = 0

    def cpu_seconds(self) -> float:
        """User + system CPU time of the contender's processes (nginx's workers included)."""
        import psutil

        assert self.process is not None
        root = psutil.Process(self.process.pid)
        total = 0.0
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PROXY_PATH}"

    def start(self, core: str | None, folder: Path) -> None:
        command = (["taskset", "-c", core] if core else []) + self.command
        self.log = folder / f"{self.name}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(self.port, self.process)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def greenroom(folder: Path, upstream: str) -> Contender:
    port = free_port()
    config = folder / "app-config.yaml"
    config.write_text(
        "app:\n  title: proxy bench\n"
        # The production sign-in: the trusted proxy (wrk, on loopback) names the user.
        "auth:\n  provider: proxy\n  proxy:\n"
        f"    header: {IDENTITY_HEADER}\n    trustedProxies: [127.0.0.1/32]\n"
        # A rule naming the route, so the proxy.<route> permission check really runs.
        "permissions:\n  rules:\n    - actions: [proxy.bench]\n"
        f"      allow: [user:{USER}, group:sre]\n"
        "proxy:\n  endpoints:\n    /bench:\n"
        f"      target: {upstream}\n"
        "      credentials: require\n"
        "      headers:\n        Authorization: Token token=bench-secret\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "GREENROOM_CONFIG"}
    return Contender(
        "greenroom", port,
        [sys.executable, "-m", "greenroom.cli", "serve", "--config", str(config),
         "--port", str(port)],
        env=env,
    )


def bare_python(upstream: str) -> Contender:
    port = free_port()
    return Contender("bare-python", port,
                     [sys.executable, __file__, "--serve-bare", str(port), upstream])


def _has_granian() -> bool:
    import importlib.util

    return importlib.util.find_spec("granian") is not None


def bare_granian(upstream: str) -> Contender:
    """The same bare proxy under granian (Rust HTTP server), beside the uvicorn baseline."""
    port = free_port()
    env = {**os.environ, "BENCH_UPSTREAM": upstream,
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent),
                                          os.environ.get("PYTHONPATH", "")])}
    return Contender("bare-granian", port, granian_command("bench_proxy:bare_app", port),
                     env=env)


def greenroom_granian(folder: Path, upstream: str) -> Contender:
    """The same portal and config as ``greenroom``, served by granian instead of uvicorn
    (the worker factory ``greenroom serve --workers`` uses, so the access log stays on)."""
    reference = greenroom(folder, upstream)
    port = free_port()
    env = {**(reference.env or {}), "GREENROOM_CONFIG": str(folder / "app-config.yaml"),
           "GREENROOM_WORKER_BASE_URL": f"http://127.0.0.1:{port}"}
    return Contender("greenroom-granian", port,
                     granian_command("greenroom.web._workers:worker_app", port), env=env)


def nginx(folder: Path, upstream_port: int) -> Contender | None:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                       else None)
    if binary is None:
        print("skip nginx: not installed (apt-get install nginx)")
        return None
    port = free_port()
    prefix = folder / "nginx"
    (prefix / "logs").mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi; uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  upstream bench {{ server 127.0.0.1:{upstream_port}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location /api/proxy/bench/ {{
      proxy_pass http://bench/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
""")
    return Contender("nginx", port,
                     [binary, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"])


EXPRESS_APP = """
const express = require('express');
const { createProxyMiddleware } = require('http-proxy-middleware');
const app = express();
app.use('/api/proxy/bench', createProxyMiddleware({
  target: process.env.UPSTREAM, changeOrigin: true,
}));
app.listen(Number(process.env.PORT), '127.0.0.1');
"""


def express(folder: Path, upstream: str, express_dir: Path) -> Contender | None:
    node = shutil.which("node")
    modules = express_dir / "node_modules"
    if node is None:
        print("skip express: node is not installed")
        return None
    if not (modules / "express").is_dir() or not (modules / "http-proxy-middleware").is_dir():
        print(f"skip express: express and http-proxy-middleware not found in {modules}; "
              f"install them: mkdir -p {express_dir} && cd {express_dir} && npm init -y && "
              "npm install express http-proxy-middleware")
        return None
    script = folder / "express-proxy.js"
    script.write_text(EXPRESS_APP)
    port = free_port()
    env = {**os.environ, "NODE_PATH": str(modules), "UPSTREAM": upstream, "PORT": str(port),
           "NODE_ENV": "production"}
    return Contender("express", port, [node, str(script)], env=env)


# --- load ----------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(found.group(1)) * _UNITS[found.group(2)] if found else float("nan")


def wrk(url: str, *, connections: int, seconds: float,
        core: str | None) -> tuple[float, float, float, int, int]:
    """(requests per second, p50 ms, p99 ms, requests, socket errors) of one wrk run;
    a non-2xx answer fails the run."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency",
               "--timeout", "10s", "-H", f"{IDENTITY_HEADER}: {USER}", url]
    if core:
        command = ["taskset", "-c", core] + command
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw error answers from {url}:\n{out}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # The distribution's own lines: "68.50%" in the thread stats above must not match.
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rps, p50, p99, count, sum(int(n) for n in errors.groups()) if errors else 0


def check_answer(contender: Contender) -> None:
    import urllib.request

    request = urllib.request.Request(contender.url, headers={IDENTITY_HEADER: USER})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    if body != BODY:
        raise RuntimeError(f"{contender.name} answered {body[:200]!r}, not the upstream's body")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs (smoke check)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="rounds (the median is reported)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--express-dir", type=Path,
                        default=Path(os.environ.get("BENCH_EXPRESS_DIR", DEFAULT_EXPRESS_DIR)))
    parser.add_argument("--only", action="append", help="run only these contenders")
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-bare", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return
    if args.serve_bare:
        serve_bare(int(args.serve_bare[0]), args.serve_bare[1])
        return
    if shutil.which("wrk") is None:
        print("bench_proxy needs wrk: apt-get install wrk")
        sys.exit(2)
    duration = 3.0 if args.quick else args.duration
    runs = 1 if args.quick else args.runs
    cores = os.cpu_count() or 1
    # The proxy under test alone on the last core; wrk and the upstream share the others.
    proxy_core = str(cores - 1) if cores >= 2 and shutil.which("taskset") else None
    load_core = f"0-{cores - 2}" if proxy_core else None

    folder = Path(tempfile.mkdtemp(prefix="greenroom-bench-proxy-"))
    upstream_port = free_port()
    upstream_url = f"http://127.0.0.1:{upstream_port}"
    upstream = Contender("upstream", upstream_port,
                         [sys.executable, __file__, "--serve-upstream", str(upstream_port)])
    granian = _has_granian()
    if not granian:
        print("skip greenroom-granian and bare-granian: granian is not installed "
              "(pip install granian)")
    contenders = [
        greenroom(folder, upstream_url),
        greenroom_granian(folder, upstream_url) if granian else None,
        bare_python(upstream_url),
        bare_granian(upstream_url) if granian else None,
        nginx(folder, upstream_port),
        express(folder, upstream_url, args.express_dir),
    ]
    chosen = [c for c in contenders if c is not None and (not args.only or c.name in args.only)]
    started: list[Contender] = []
    try:
        upstream.start(load_core, folder)
        started.append(upstream)
        for contender in chosen:
            contender.start(proxy_core, folder)
            started.append(contender)
            check_answer(contender)
            wrk(contender.url, connections=args.connections, seconds=1, core=load_core)  # warm
        load = os.getloadavg()
        print(f"wrk -t1 -c{args.connections}, {duration:g} s x {runs} rounds; proxy on core "
              f"{proxy_core or 'any'}, wrk and upstream on {load_core or 'any'}; "
              f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        for _ in range(runs):
            for contender in chosen:
                cpu_before = contender.cpu_seconds()
                rps, p50, p99, count, errors = wrk(
                    contender.url, connections=args.connections, seconds=duration, core=load_core
                )
                contender.results.append((rps, p50, p99))
                contender.cpu.append((contender.cpu_seconds() - cpu_before) * 1e6 / max(count, 1))
                contender.errors += errors
    finally:
        for contender in reversed(started):
            contender.stop()
    load = os.getloadavg()

    medians = {
        c.name: tuple(statistics.median(r[i] for r in c.results) for i in range(3))
        for c in chosen
    }
    cpu = {c.name: statistics.median(c.cpu) for c in chosen}
    print(f"\n{'proxy':<17} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x express':>10} "
          f"{'x bare':>8} {'CPU us/req':>11} {'errors':>7}")
    for contender in chosen:
        name = contender.name
        rps, p50, p99 = medians[name]
        vs_express = f"{rps / medians['express'][0]:.2f}" if "express" in medians else "-"
        vs_bare = f"{rps / medians['bare-python'][0]:.2f}" if "bare-python" in medians else "-"
        print(f"{name:<17} {rps:>9.0f} {p50:>8.2f} {p99:>8.2f} {vs_express:>10} {vs_bare:>8} "
              f"{cpu[name]:>11.0f} {contender.errors:>7}")
    if "express" in cpu and "greenroom" in cpu:
        # CPU per request does not depend on how busy the rest of the machine is.
        print(f"CPU per request, express / greenroom: {cpu['express'] / cpu['greenroom']:.2f}x "
              "(the throughput ratio on an otherwise idle core)")
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if "greenroom" in medians and "express" in medians:
        ours, theirs = medians["greenroom"], medians["express"]
        ok = ours[0] >= 2.5 * theirs[0] and ours[1] < theirs[1]
        print(f"goal: greenroom >= 2.5x express req/s with a lower p50: "
              f"{ours[0] / theirs[0]:.2f}x, p50 {ours[1]:.2f} vs {theirs[1]:.2f} ms -> "
              f"{'met' if ok else 'NOT met'}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

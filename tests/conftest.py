"""Fixtures shared by every test package."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _make_venv(folder: Path) -> Path:
    """A fresh virtual environment at `folder` that sees the packages of the environment running the
    tests (never the system site-packages): Greenroom, its dependencies and its editable install.

    `site.addsitedir` (not a bare path line) so that the running environment's own `.pth` files,
    among them the editable install's, are processed too."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, capture_output=True)
    python = folder / "bin" / "python"
    child_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    parents = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    lines = "".join(f"import site; site.addsitedir({path!r})\n" for path in parents)
    (Path(child_site) / "_greenroom_test_parent.pth").write_text(lines)
    return folder


@pytest.fixture(scope="session")
def venv_factory() -> Callable[[Path], Path]:
    """Build a venv over the running test environment: call it with an empty folder."""
    return _make_venv


@pytest.fixture(autouse=True)
def _own_data_folder(tmp_path_factory: pytest.TempPathFactory,
                     monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's portals keep their database, secret and files in a folder of their own,
    never in the checkout's `.greenroom/` (which other tests, and engineers, share)."""
    folder = tmp_path_factory.mktemp("greenroom-data")
    monkeypatch.setenv("GREENROOM_DATA", str(folder))
    return folder


class RedisServer:
    """A real `redis-server` on a free loopback port, with its files in a temp dir."""

    def __init__(self, folder: Path) -> None:
        import shutil
        import socket

        binary = shutil.which("redis-server")
        assert binary is not None
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None
        self._binary = binary

    def start(self) -> None:
        import time

        import redis

        self.process = subprocess.Popen(
            [self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.folder), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A running `redis-server` (skips with one reason line when the binary is missing, and
    fails instead under CI=true)."""
    import os
    import shutil

    if shutil.which("redis-server") is None:
        reason = "redis-server not found: apt-get install redis-server (.ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()

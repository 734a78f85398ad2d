"""The generated package works before its author changes a line: it passes ruff and, in a fresh
virtual environment, installs, passes its own tests, is listed as enabled, and its card shows
the mock data in a running demo portal."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from greenroom_scaffold import PluginSpec, create_plugin_package

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GREENROOM_CONFIG", "PYTHONPATH")}
    env["PIP_NO_INPUT"] = "1"
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, check=False, **kwargs  # type: ignore[arg-type]
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (
        f"{' '.join(map(str, result.args))} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )
    return result.stdout


# The longest id allowed, one whose names sort after the fixed ones, and the shortest.
@pytest.mark.parametrize("plugin_id", ["acme-pager", "northwind-pager-euw1", "zulu", "a"])
def test_generated_code_passes_ruff(tmp_path: Path, plugin_id: str) -> None:
    spec = PluginSpec(id=plugin_id, author='Jane "JD" Doe', description="Pages, on call.")
    created = create_plugin_package(spec, cwd=tmp_path)
    output = _ok(
        _run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=created.package_dir)
    )
    assert "All checks passed" in output


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, venv_factory: Any) -> Path:
    """A fresh virtual environment over the one running the tests (greenroom's dependencies),
    with this checkout installed editable into it."""
    folder = venv_factory(tmp_path_factory.mktemp("venv") / "env")
    python = folder / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--no-deps", "-q"]
    _ok(_run([*pip, "-e", str(REPO_ROOT)], cwd=folder))
    return folder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    started: list[subprocess.Popen[str]] = []

    def start(venv: Path, cwd: Path) -> str:
        port = _free_port()
        log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed with the process
        env = {k: v for k, v in os.environ.items() if k != "GREENROOM_CONFIG"}
        process = subprocess.Popen(
            [str(venv / "bin" / "greenroom"), "serve", "--port", str(port)],
            cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        while True:  # the portal either answers or exits; no time limit of our own
            if process.poll() is not None:
                raise AssertionError((tmp_path / "serve.log").read_text())
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                time.sleep(0.2)

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_create_install_test_list_and_serve(venv: Path, tmp_path: Path, serve: object) -> None:
    bin_dir = venv / "bin"
    work = tmp_path / "work"
    work.mkdir()

    out = _ok(_run([str(bin_dir / "create-plugin"), "acme-pager", "--author", "Jane Doe"], work))
    package = work / "greenroom-acme-pager"
    assert "pip install -e greenroom-acme-pager" in out
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "--no-deps", "-q"]
    _ok(_run([*pip, "-e", str(package)], work))

    # Its own tests pass, unchanged.
    pytest_cmd = [str(bin_dir / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    tests = _ok(_run(pytest_cmd, package))
    assert " passed" in tests and "failed" not in tests

    # The portal lists it as enabled.
    listed = _ok(_run([str(bin_dir / "greenroom"), "plugins", "--json"], work))
    records = {record["id"]: record for record in json.loads(listed)}
    assert records["acme-pager"]["state"] == "enabled", records["acme-pager"]
    assert records["acme-pager"]["distribution"] == "greenroom-acme-pager"

    # In the running demo portal, the demo entity shows the card with the simulator's mock data.
    url = serve(venv, work)  # type: ignore[operator]
    page = httpx.get(f"{url}/catalog/default/component/acme-pager-demo", timeout=30)
    assert page.status_code == 200
    html = page.text
    assert 'class="card acme-pager-card"' in html
    assert "Checkout latency above 2 seconds" in html
    assert "Payment provider answering 502" in html
    assert "Jane Doe" in html
    assert "Error in acme-pager" not in html
    assert "simulator-token" not in html

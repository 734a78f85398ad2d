"""The `greenroom` command, run as a person runs it: a subprocess with its own environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

API_ID = "vo-api-id-2f6d1c"
API_KEY = "vo-api-key-8b3e9a77f0"
PD_TOKEN = "pd-token-u+Qz81Lk2"
SECRETS = (API_ID, API_KEY, PD_TOKEN)

CONFIG = textwrap.dedent(
    """
    app:
      title: Ops portal
    proxy:
      endpoints:
        '/pagerduty':
          target: https://api.pagerduty.com
          headers:
            Authorization: Token token=${PAGERDUTY_TOKEN}
        '/splunk-on-call':
          target: https://api.victorops.com/api-public
          headers:
            X-VO-Api-Id: ${SPLUNK_ON_CALL_API_ID}
            X-VO-Api-Key: ${SPLUNK_ON_CALL_API_KEY}
          allowedMethods: ['GET']
    """
)


def greenroom(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("APP_CONFIG_", "GREENROOM_", "PAGERDUTY_", "SPLUNK_ON_CALL_"))
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "greenroom.cli", *args],
        capture_output=True, text=True, env=environment, cwd=cwd, timeout=120,
    )


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "app-config.yaml"
    path.write_text(CONFIG)
    return path


def test_config_check_names_the_key_and_the_unset_variable(config_file: Path) -> None:
    result = greenroom(
        "config", "check", "--config", config_file.name,
        env={"SPLUNK_ON_CALL_API_ID": API_ID, "SPLUNK_ON_CALL_API_KEY": API_KEY},
        cwd=config_file.parent,
    )
    assert result.returncode != 0
    assert (
        "app-config.yaml:9: 'proxy.endpoints./pagerduty.headers.Authorization' uses environment "
        "variable PAGERDUTY_TOKEN, which is not set; set it or remove the key"
    ) in result.stderr
    assert "1 problem(s)" in result.stderr
    assert "Configuration OK." not in result.stdout
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr


def test_config_check_passes_a_valid_config_and_redacts_secrets(config_file: Path) -> None:
    result = greenroom(
        "config", "check", "--config", str(config_file),
        env={
            "PAGERDUTY_TOKEN": PD_TOKEN,
            "SPLUNK_ON_CALL_API_ID": API_ID,
            "SPLUNK_ON_CALL_API_KEY": API_KEY,
        },
        cwd=config_file.parent,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("Configuration OK.")
    # The effective config is shown, with every header value from the environment redacted.
    assert "title: Ops portal" in result.stdout
    assert "Authorization: <redacted>" in result.stdout
    assert "X-VO-Api-Key: <redacted>" in result.stdout
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr


def test_config_check_reports_an_invalid_value_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "app-config.yaml"
    path.write_text("proxy:\n  endpoints:\n    '/vendor':\n      target: [not, a, url]\n")
    result = greenroom("config", "check", "--config", str(path), env={}, cwd=tmp_path)
    assert result.returncode != 0
    assert 'Proxy target for route "/vendor" must be a string' in result.stderr


def test_config_check_needs_a_config(tmp_path: Path) -> None:
    result = greenroom("config", "check", env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert "config check needs --config FILE" in result.stderr


def test_plugins_json_lists_plugins_without_secrets(config_file: Path) -> None:
    result = greenroom(
        "plugins", "--json", "--config", str(config_file),
        env={
            "PAGERDUTY_TOKEN": PD_TOKEN,
            "SPLUNK_ON_CALL_API_ID": API_ID,
            "SPLUNK_ON_CALL_API_KEY": API_KEY,
        },
        cwd=config_file.parent,
    )
    assert result.returncode == 0, result.stderr
    records = {record["id"]: record for record in json.loads(result.stdout)}
    assert {"pagerduty", "splunk-on-call"} <= set(records)
    for record in records.values():
        assert set(record) == {"id", "entryPoint", "distribution", "version", "state", "error"}
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr


def test_plugins_reflects_disabling_in_config(tmp_path: Path) -> None:
    path = tmp_path / "app-config.yaml"
    path.write_text("plugins:\n  pagerduty:\n    enabled: false\n")
    result = greenroom("plugins", "--json", "--config", str(path), env={}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    states = {record["id"]: record["state"] for record in json.loads(result.stdout)}
    assert states["pagerduty"] == "disabled"
    assert states["splunk-on-call"] != "disabled"


def test_config_check_redacts_url_passwords_and_literal_header_values(tmp_path: Path) -> None:
    path = tmp_path / "app-config.yaml"
    path.write_text(
        textwrap.dedent(
            """
            proxy:
              endpoints:
                '/vendor':
                  target: https://svc-user:proxy-pass-71c2@vendor.example/api
                  headers:
                    X-Auth: literal-header-secret-93
                    Accept: application/json
            """
        )
    )
    result = greenroom("config", "check", "--config", str(path), env={}, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert "proxy-pass-71c2" not in output
    assert "literal-header-secret-93" not in output
    assert "X-Auth: <redacted>" in result.stdout
    assert "Accept: application/json" in result.stdout
    assert "vendor.example/api" in result.stdout


def test_config_check_reports_what_the_pagerduty_plugin_refuses_at_start_up(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app-config.yaml"
    path.write_text(
        textwrap.dedent(
            """
            pagerDuty:
              accounts:
                - id: main
                  apiToken: pd-inline-token-5521
            """
        )
    )
    result = greenroom("config", "check", "--config", str(path), env={}, cwd=tmp_path)
    assert result.returncode != 0
    assert "Configuration OK." not in result.stdout
    # The same refusal `greenroom serve` stops on: the key path and what to do instead.
    assert "pagerDuty.accounts[0].apiToken" in result.stderr
    assert "proxy route headers" in result.stderr
    assert "pd-inline-token-5521" not in result.stdout + result.stderr


# --- serve --workers ----------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_demo_refuses_more_than_one_worker(tmp_path: Path) -> None:
    result = greenroom("serve", "--workers", "2", "--port", str(_free_port()), env={},
                       cwd=tmp_path)
    assert result.returncode == 2
    assert "--workers 2" in result.stderr and "simulators" in result.stderr
    assert "--config app-config.yaml --workers N" in result.stderr


def test_serve_with_workers_runs_that_many_processes(config_file: Path) -> None:
    import time

    import httpx
    import psutil

    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GREENROOM_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "greenroom.cli", "serve", "--config", str(config_file),
         "--workers", "2", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.2)
        workers = [
            child for child in psutil.Process(process.pid).children()
            if "spawn_main" in " ".join(child.cmdline())
        ]
        assert len(workers) == 2
        answer = httpx.get(f"http://127.0.0.1:{port}/api/proxy/pagerduty/x", timeout=10)
        assert answer.status_code == 401  # each worker has the configured proxy routes
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "2 workers" in output

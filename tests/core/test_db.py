"""The portal's SQL database is loaded only when a portal has one: the demo (no config) starts,
serves its pages and records actions in memory without importing SQLAlchemy (about 120 ms of
start-up). Migrations, the audit store and the engine: tests/core/test_audit.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_a_portal_without_a_database_never_imports_sqlalchemy(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from greenroom._portal import build_portal\n"
        "from greenroom.web import create_app\n"
        "from fastapi.testclient import TestClient\n"
        "portal = build_portal(demo=True)\n"
        "with TestClient(create_app(portal)) as client:\n"
        "    for path in ('/healthz', '/readyz', '/', '/audit'):\n"
        "        assert client.get(path).status_code == 200, path\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env=_env(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
    # Nothing was written where a database would live.
    assert not list((tmp_path / "data").glob("*.db"))


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENROOM_")}
    env["GREENROOM_DATA"] = str(tmp_path / "data")
    return env

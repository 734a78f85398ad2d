"""What the database costs a portal at start-up, in fresh processes (as a restart is).

    python bench/bench_db_startup.py [--runs 5] [--postgres URL]

For an SQLite file (and a PostgreSQL database when ``--postgres`` is given) it prints, as the
median of ``--runs`` fresh Python processes:

- ``at head``: ``Database(url).upgrade()`` when the schema is already current (every start of a
  portal after its first): one query, Alembic is not imported;
- ``first start``: the same call on an empty database (Alembic runs the migrations);
- baseline, same run: a process that only opens the engine and runs ``SELECT 1``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

SNIPPET = """
import sys, time
from greenroom._db import Database
url, mode = sys.argv[1], sys.argv[2]
db = Database(url)
start = time.perf_counter()
if mode == "baseline":
    db.ping()
else:
    db.upgrade()
print(time.perf_counter() - start)
"""


def timed(url: str, mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", SNIPPET, url, mode], check=True,
                          capture_output=True, text=True)
    return float(done.stdout.strip())


def measure(label: str, make_url: Callable[[], str], runs: int) -> None:
    rows: dict[str, list[float]] = {"baseline (SELECT 1)": [], "at head": [], "first start": []}
    for _ in range(runs):
        fresh = make_url()
        rows["first start"].append(timed(fresh, "upgrade"))
        rows["at head"].append(timed(fresh, "upgrade"))
        rows["baseline (SELECT 1)"].append(timed(fresh, "baseline"))
    for name, values in rows.items():
        print(f"{label:<10} {name:<22} median {statistics.median(values) * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", help="URL of an empty PostgreSQL server's database "
                        "(each run creates a schema-less database by name suffix)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="greenroom-bench-db-"))
    counter = iter(range(10_000))
    measure("sqlite", lambda: f"sqlite:///{folder / f'db-{next(counter)}.db'}", args.runs)
    if args.postgres:
        import uuid

        import sqlalchemy as sa

        admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")

        def fresh_pg() -> str:
            name = f"bench_{uuid.uuid4().hex[:10]}"
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            return str(sa.engine.make_url(args.postgres).set(database=name))

        measure("postgres", fresh_pg, args.runs)


if __name__ == "__main__":
    main()

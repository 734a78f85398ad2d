"""create-plugin benchmark: how long generating a plugin package takes (no install).

    python bench/bench_scaffold.py [--runs N]

Times `create_plugin_package` (id checks, rendering the template, writing into a staging folder
and moving it into place) over several runs, each into a fresh folder, and prints the median and
the maximum beside a baseline measured in the same run: copying the template tree as it is with
`shutil.copytree` into a fresh folder (the file-system work alone, without any checks or
rendering). The first generation of the process also reads the template, so it is shown apart.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from greenroom_scaffold import PluginSpec, create_plugin_package
from greenroom_scaffold._template import TEMPLATE_ROOT

SPEC = PluginSpec(id="acme-pager", author="Bench Mark", description="Benchmark plugin.")


def _timed(action: Callable[[Path], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-scaffold-") as folder:
            start = time.perf_counter()
            action(Path(folder))
            times.append(time.perf_counter() - start)
    return times


def _generate(folder: Path) -> None:
    create_plugin_package(SPEC, cwd=folder)


def _copy_template(folder: Path) -> None:
    shutil.copytree(TEMPLATE_ROOT, folder / "copy")


def _row(name: str, times: list[float]) -> str:
    median = statistics.median(times) * 1000
    worst = max(times) * 1000
    return f"{name:<42} {median:>9.2f} ms {worst:>9.2f} ms  ({len(times)} runs)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    first = _timed(_generate, 1)
    generate = _timed(_generate, args.runs)
    baseline = _timed(_copy_template, args.runs)

    print(f"{'':<42} {'median':>12} {'max':>12}")
    print(_row("first generation (reads the template)", first))
    print(_row("create_plugin_package (acme-pager)", generate))
    print(_row("baseline: shutil.copytree of the template", baseline))
    ratio = statistics.median(generate) / statistics.median(baseline)
    print(f"generation / copy, medians: {ratio:.1f}x")


if __name__ == "__main__":
    main()

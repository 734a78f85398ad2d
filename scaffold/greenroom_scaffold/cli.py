"""`create-plugin NAME`: the command line of the generator (also `greenroom create-plugin`)."""

from __future__ import annotations

import argparse
import getpass
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from ._errors import ScaffoldError
from ._generator import Created, check_destination, create_plugin_package
from ._spec import CATEGORIES, DEFAULT_CATEGORY, PluginSpec, check_plugin_id

Ask = Callable[[str], str]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="create-plugin",
        description=(
            "Generate a working Greenroom provider plugin: a client, an incident provider, a "
            "card, a simulator with mock data, tests and a plugin directory entry."
        ),
    )
    parser.add_argument(
        "id", nargs="?", metavar="NAME",
        help="plugin id: lowercase letters, digits and dashes, e.g. acme-pager",
    )
    parser.add_argument(
        "--dir", type=Path, metavar="FOLDER",
        help="folder to create the package in (default: ./greenroom-NAME, or plugins/NAME at "
        "the root of a Greenroom checkout); it must not exist",
    )
    parser.add_argument("--author", help="author shown in the plugin directory")
    parser.add_argument("--description", help="one line, at most 170 characters")
    parser.add_argument(
        "--category", help=f"plugin directory category (default {DEFAULT_CATEGORY}): "
        + ", ".join(CATEGORIES),
    )
    parser.add_argument(
        "--no-input", action="store_true", help="never prompt, even in a terminal",
    )
    return parser


def _default_author() -> str:
    try:
        name = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    return name or getpass.getuser()


def _default_description(plugin_id: str) -> str:
    title = PluginSpec(id=plugin_id, author="", description="").title
    return f"Open incidents and who is on call, from {title}, on every service's page."


def _ask_id(ask: Ask, err: TextIO) -> str:
    while True:
        answer = ask("Enter an ID for the plugin [required]: ").strip()
        try:
            check_plugin_id(answer)
        except ScaffoldError as exc:
            print(exc, file=err)
            continue
        return answer


def _ask_with_default(ask: Ask, question: str, default: str) -> str:
    return ask(f"{question} [{default}]: ").strip() or default


def _shown(path: Path, cwd: Path) -> str:
    try:
        return str(path.relative_to(cwd)) or "."
    except ValueError:
        return str(path)


def _report(created: Created, spec: PluginSpec, cwd: Path, out: TextIO) -> None:
    package = _shown(created.package_dir, cwd)
    print(f"Created plugin {spec.id} ({spec.distribution}) in {package}/", file=out)
    for path in created.files:
        print(f"  {_shown(path, cwd)}", file=out)
    if created.marketplace_entry is not None:
        print(f"  {_shown(created.marketplace_entry, cwd)}", file=out)
    print("", file=out)
    print("Next steps:", file=out)
    print(f"  pip install -e {package}", file=out)
    print(f"  python -m pytest {package}", file=out)
    print("  greenroom serve", file=out)
    print("", file=out)
    print(
        f"`greenroom plugins` lists {spec.id}; the demo portal shows its card on the demo "
        f"entity {spec.id}-demo, fed by the plugin's simulator.",
        file=out,
    )


def run(
    argv: Sequence[str] | None,
    *,
    cwd: Path,
    interactive: bool,
    ask: Ask = input,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """The command with its surroundings passed in; :func:`main` supplies the real ones."""
    args = _parser().parse_args(argv)
    interactive = interactive and not args.no_input
    try:
        plugin_id = args.id if args.id is not None else ""
        if not plugin_id and interactive:
            plugin_id = _ask_id(ask, err)
        check_plugin_id(plugin_id)
        # Refuse an existing folder before asking anything more.
        probe = PluginSpec(id=plugin_id, author="", description="")
        check_destination(probe, cwd=cwd, target=args.dir)
        author, description, category = args.author, args.description, args.category
        if interactive:
            if author is None:
                author = _ask_with_default(ask, "Author", _default_author())
            if description is None:
                description = _ask_with_default(
                    ask, "Description", _default_description(plugin_id)
                )
            if category is None:
                category = _ask_with_default(
                    ask, f"Category ({', '.join(CATEGORIES)})", DEFAULT_CATEGORY
                )
        spec = PluginSpec(
            id=plugin_id,
            author=author if author is not None else _default_author(),
            description=(
                description if description is not None else _default_description(plugin_id)
            ),
            category=category if category is not None else DEFAULT_CATEGORY,
        )
        created = create_plugin_package(spec, cwd=cwd, target=args.dir)
    except ScaffoldError as exc:
        print(exc, file=err)
        return 1
    except (EOFError, KeyboardInterrupt):
        print("\nAborted; nothing was written.", file=err)
        return 130
    _report(created, spec, cwd.resolve(), out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(
        argv if argv is not None else sys.argv[1:],
        cwd=Path(os.getcwd()),
        interactive=sys.stdin is not None and sys.stdin.isatty(),
    )


if __name__ == "__main__":
    raise SystemExit(main())

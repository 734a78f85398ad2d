"""A portal with one card action, served by uvicorn, for tests that need several processes:
``python _action_portal.py CONFIG PORT``. The flash alert names the process that made it."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import uvicorn
from markupsafe import escape

from greenroom import ActionResult, Card, CardContext, create_plugin
from greenroom._portal import build_portal
from greenroom.web import create_app


async def _render(ctx: CardContext) -> str:
    return (
        f'<form method="post" action="{escape(ctx.action_url("save"))}">'
        f'<input type="hidden" name="csrf_token" value="{escape(ctx.csrf_token)}">'
        '<button>Save</button></form>'
    )


async def _save(ctx: CardContext, form: Mapping[str, str]) -> ActionResult:
    return ActionResult(f"Saved by process {os.getpid()}")


def main(config: str, port: int) -> None:
    plugin = create_plugin(
        id="notes", cards=[Card(id="notes-card", title="Notes", render=_render,
                                actions={"save": _save})]
    )
    portal = build_portal([config], plugins=[plugin], load_entry_points=False, demo=False,
                          base_url=f"http://127.0.0.1:{port}")
    uvicorn.run(create_app(portal), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))

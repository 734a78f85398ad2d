"""``/readiness``: what is wrong right now, for operators and dashboards.

``/healthz`` stays liveness (the process answers) and ``/readyz`` the probe (the portal's own
pools answer their pings). This view names the plugins that failed (and why) and the vendors
that cannot be reached, and answers 200 all the same: a vendor's outage is not a reason to take
a replica out of rotation (every replica would go), and the portal keeps serving its catalog,
its other vendors and its cached reads.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from .._deadline import call_plugin
from ._context import page_context, portal_of, render_page

router = APIRouter()

#: Seconds each probe may take (a hung vendor is reported, not waited for).
PROBE_TIMEOUT = 3.0


class FailedPluginOut(BaseModel):
    id: str
    error: str


class UpstreamOut(BaseModel):
    name: str
    reachable: bool | None
    detail: str


class ReadinessReportOut(BaseModel):
    status: str
    failed_plugins: list[FailedPluginOut]
    routes: list[UpstreamOut]
    providers: list[UpstreamOut]


async def _probe_route(client: httpx.AsyncClient, route: str, target: str) -> UpstreamOut:
    # No credentials: any HTTP answer (401 included) shows the vendor is there.
    try:
        answer = await asyncio.wait_for(client.get(target), timeout=PROBE_TIMEOUT)
    except TimeoutError:
        return UpstreamOut(name=route, reachable=False,
                           detail=f"no answer within {PROBE_TIMEOUT:g} seconds")
    except httpx.HTTPError as exc:
        return UpstreamOut(name=route, reachable=False,
                           detail=f"cannot connect ({type(exc).__name__})")
    if answer.status_code >= 500:
        return UpstreamOut(name=route, reachable=False,
                           detail=f"answers HTTP {answer.status_code}")
    return UpstreamOut(name=route, reachable=True, detail=f"answers HTTP {answer.status_code}")


async def _ping_provider(plugin_id: str, provider: Any) -> UpstreamOut:
    name = f"{getattr(provider, 'title', plugin_id)} ({plugin_id})"
    ping = getattr(provider, "ping", None)
    if not callable(ping):
        return UpstreamOut(name=name, reachable=None, detail="no ping; see its proxy route")
    try:
        await call_plugin(ping, timeout=PROBE_TIMEOUT, what=f"ping of {plugin_id}")
    except Exception as exc:  # noqa: BLE001 - reported, never raised
        return UpstreamOut(name=name, reachable=False, detail=f"{type(exc).__name__}: {exc}")
    return UpstreamOut(name=name, reachable=True, detail="answers")


async def readiness(request: Request) -> ReadinessReportOut:
    portal = portal_of(request)
    failed = [
        FailedPluginOut(id=r.id, error=portal.scrub(str(r.error or "failed")))
        for r in portal.plugin_records
        if r.state == "failed"
    ]
    client = portal.fetch.client
    routes = await asyncio.gather(
        *(
            _probe_route(client, route, str(endpoint.target_url))
            for route, endpoint in sorted(portal.proxy.endpoints.items())
        )
    )
    providers = await asyncio.gather(
        *(_ping_provider(h.plugin_id, h.provider) for h in portal.providers())
    )
    down = failed or any(u.reachable is False for u in [*routes, *providers])
    for upstream in [*routes, *providers]:
        upstream.detail = portal.scrub(upstream.detail)
    return ReadinessReportOut(
        status="degraded" if down else "ready",
        failed_plugins=failed,
        routes=list(routes),
        providers=list(providers),
    )


@router.get("/readiness", response_model=ReadinessReportOut)
async def readiness_view(request: Request) -> Any:
    """Failed plugins and unreachable vendors; always 200 while the portal itself serves."""
    report = await readiness(request)
    if "text/html" in request.headers.get("accept", ""):
        ctx = page_context(request, nav="plugins")
        ctx.update(report=report)
        response: Response = render_page(request, "readiness.html", ctx)
        return response
    return report

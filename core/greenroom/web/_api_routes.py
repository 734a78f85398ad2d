"""JSON endpoints of the host: plugins, catalog entities, health and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ._context import portal_of

router = APIRouter(tags=["host"])


class PluginOut(BaseModel):
    id: str
    entryPoint: str | None
    distribution: str | None
    version: str | None
    state: str
    error: str | None


class EntityOut(BaseModel):
    ref: str
    kind: str
    namespace: str
    name: str
    title: str | None
    description: str | None
    owner: str | None
    annotations: dict[str, str]
    tags: list[str]
    spec: dict[str, Any]
    url: str


class CatalogOut(BaseModel):
    items: list[EntityOut]
    problems: list[str]


class HealthOut(BaseModel):
    status: str
    plugins: dict[str, str]


class CheckOut(BaseModel):
    ok: bool
    error: str | None = None


class ReadinessOut(BaseModel):
    status: str
    checks: dict[str, CheckOut]


@router.get("/api/plugins", response_model=list[PluginOut])
async def list_plugins(request: Request) -> list[dict[str, Any]]:
    portal = portal_of(request)
    return [r.as_json() for r in portal.plugin_records]


@router.get("/api/catalog/entities", response_model=CatalogOut)
async def list_entities(
    request: Request, q: str = "", kind: str = "", owner: str = ""
) -> dict[str, Any]:
    portal = portal_of(request)
    entities = portal.catalog.search(q, kind=kind or None, owner=owner or None)
    return {
        "items": [
            {
                "ref": e.ref, "kind": e.kind, "namespace": e.namespace, "name": e.name,
                "title": e.title, "description": e.description, "owner": e.owner,
                "annotations": dict(e.annotations), "tags": list(e.tags), "spec": dict(e.spec),
                "url": e.path,
            }
            for e in entities
        ],
        "problems": [str(p) for p in portal.catalog.problems],
    }


@router.get("/healthz", response_model=HealthOut)
async def healthz(request: Request) -> dict[str, Any]:
    portal = portal_of(request)
    states = {r.id: r.state for r in portal.plugin_records}
    return {"status": "ok", "plugins": states}


@router.get(
    "/readyz",
    response_model=ReadinessOut,
    responses={503: {"model": ReadinessOut, "description": "a check failed"}},
)
async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: every API whose factory gives a ``ping=`` (database engines, Redis
    pools, ...) answered within 5 seconds. 503 names the failing ones, their errors scrubbed."""
    portal = portal_of(request)
    results = await portal.registry.ping(timeout=5.0)
    checks = {
        api_id: {"ok": error is None}
        | ({"error": portal.scrub(f"{type(error).__name__}: {error}")} if error else {})
        for api_id, error in sorted(results.items())
    }
    ready = all(check["ok"] for check in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )

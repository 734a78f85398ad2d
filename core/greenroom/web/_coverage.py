"""On-call coverage in the web app: the `/coverage` page and `/api/coverage`. (The reminder on
an entity's page and the home page's percentage are page sections: ``_coverage_sections``.)

The policy (``coverage.rules``) is validated when the app is created, so a wrong rule stops
start-up with the file, key path and line.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from .._coverage import evaluate
from .._coverage_policy import CoveragePolicy, load_policy
from .._coverage_report import STATES, CoverageReport
from ._context import page_context, portal_of, render_page

router = APIRouter()


def policy_of(app: Any) -> CoveragePolicy:
    policy = getattr(app.state, "coverage_policy", None)
    if policy is None:
        policy = app.state.coverage_policy = load_policy(app.state.portal.config)
    return policy  # type: ignore[no-any-return]


def setup(app: FastAPI) -> None:
    """Validate the policy now: a wrong rule stops start-up, not a page."""
    policy_of(app)


async def _report(request: Request) -> CoverageReport:
    return await evaluate(portal_of(request), policy=policy_of(request.app))


@router.get("/coverage", response_class=HTMLResponse, include_in_schema=False)
async def coverage_page(request: Request, owner: str = "", state: str = "") -> Response:
    report = await _report(request)
    ctx = page_context(request, nav="coverage")
    ctx.update(
        report=report,
        shown=report.filtered(owner=owner, state=state),
        owner=owner,
        state=state,
        states=STATES,
        owners=sorted({e.owner for e in report.entries}, key=str.lower),
        rules=policy_of(request.app).rules,
    )
    return render_page(request, "coverage.html", ctx)


class ProviderCheckOut(BaseModel):
    provider: str
    state: str
    reason: str


class EntityCoverageOut(BaseModel):
    ref: str
    name: str
    url: str
    owner: str | None
    state: str
    reason: str
    rules: list[str]
    providers: list[ProviderCheckOut]


class OwnerCoverageOut(BaseModel):
    owner: str
    entities: list[EntityCoverageOut]


class CoverageOut(BaseModel):
    hasPolicy: bool
    total: int
    covered: int
    notCovered: int
    broken: int
    unknown: int
    percentage: float
    summary: str | None
    owners: list[OwnerCoverageOut]
    filters: dict[str, str]


@router.get("/api/coverage", response_model=CoverageOut, tags=["coverage"])
async def coverage_json(request: Request, owner: str = "", state: str = "") -> dict[str, Any]:
    """Every entity a coverage rule selects, grouped by owner; totals count the listed ones."""
    report = (await _report(request)).filtered(owner=owner, state=state)
    filters = {k: v for k, v in (("owner", owner), ("state", state)) if v}
    return {**report.as_json(), "filters": filters}

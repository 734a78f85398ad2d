"""The card: open incidents and who is on call, with trigger, acknowledge and resolve."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Literal

from greenroom import (
    ActionResult,
    Card,
    CardContext,
    NotFoundError,
    ProviderError,
    TriggerRequest,
    UnauthorizedError,
    require_api,
)

from ._annotations import is___GR_SNAKE___available, service_id_of
from ._client import UNAUTHORIZED_MESSAGE, __GR_SNAKE___api_ref
from ._provider import __GR_CLASS__Provider
from ._settings import __GR_CLASS__Settings

NOT_FOUND_MESSAGE = "__GR_TITLE__ Service Not Found"
NO_INCIDENTS_MESSAGE = "Nice! No incidents found!"
NO_ON_CALL_MESSAGE = "Empty escalation policy"


def _provider(ctx: CardContext) -> __GR_CLASS__Provider:
    return __GR_CLASS__Provider(require_api(ctx.apis, __GR_SNAKE___api_ref))


def _settings(ctx: CardContext) -> __GR_CLASS__Settings:
    if isinstance(ctx.settings, __GR_CLASS__Settings):
        return ctx.settings
    return __GR_CLASS__Settings()


async def render___GR_SNAKE___card(ctx: CardContext) -> str:
    """The card's HTML; every vendor failure becomes a state the reader can act on."""
    provider = _provider(ctx)
    service_id = service_id_of(ctx.entity) or ""
    service = incidents = on_call = None
    error = None
    try:
        service, incidents, on_call = await asyncio.gather(
            provider.api.service(service_id),
            provider.list_incidents(ctx.entity),
            provider.on_call(ctx.entity),
        )
    except UnauthorizedError:
        error = UNAUTHORIZED_MESSAGE
    except NotFoundError:
        error = NOT_FOUND_MESSAGE
    except ProviderError as exc:
        error = f"Error encountered while fetching information. {exc}"
    return ctx.render_template(
        "__GR_ID__/card.html",
        ctx=ctx,
        title=provider.title,
        service_id=service_id,
        service=service,
        incidents=incidents or [],
        on_call=on_call or [],
        error=error,
        read_only=_settings(ctx).read_only,
        form=ctx.form if ctx.form_action == "trigger" else {},
        # A fresh key per rendered form: submitting the same form twice opens one incident.
        dedup_key=ctx.form.get("dedup_key") or uuid.uuid4().hex,
        no_incidents=NO_INCIDENTS_MESSAGE,
        no_on_call=NO_ON_CALL_MESSAGE,
    )


def _refuse_when_read_only(ctx: CardContext) -> ActionResult | None:
    if _settings(ctx).read_only:
        return ActionResult(
            f"{ctx.plugin_id} is read-only here (plugins.{ctx.plugin_id}.readOnly).", ok=False
        )
    return None


async def trigger_incident(ctx: CardContext, form: Mapping[str, str]) -> ActionResult:
    if (refused := _refuse_when_read_only(ctx)) is not None:
        return refused
    summary = form.get("summary", "").strip()
    if not summary:
        return ActionResult("Failed to trigger alarm. Please describe the problem.", ok=False)
    request = TriggerRequest(
        summary=summary,
        details=form.get("details", "").strip(),
        dedup_key=form.get("dedup_key") or None,
    )
    try:
        outcome = await _provider(ctx).trigger(ctx.entity, request, ctx.identity)
    except ProviderError as exc:
        return ActionResult(f"Failed to trigger alarm. {exc}", ok=False)
    return ActionResult(outcome.message)


async def acknowledge_incident(ctx: CardContext, form: Mapping[str, str]) -> ActionResult:
    return await _act_on_incident(ctx, form, "acknowledge")


async def resolve_incident(ctx: CardContext, form: Mapping[str, str]) -> ActionResult:
    return await _act_on_incident(ctx, form, "resolve")


async def _act_on_incident(
    ctx: CardContext, form: Mapping[str, str], action: Literal["acknowledge", "resolve"]
) -> ActionResult:
    if (refused := _refuse_when_read_only(ctx)) is not None:
        return refused
    provider = _provider(ctx)
    act = provider.acknowledge if action == "acknowledge" else provider.resolve
    try:
        outcome = await act(ctx.entity, form.get("incident_id", ""), ctx.identity)
    except ProviderError as exc:
        return ActionResult(f"Failed to {action} the incident. {exc}", ok=False)
    return ActionResult(outcome.message)


__GR_SNAKE___card = Card(
    id="__GR_ID__",
    title="__GR_TITLE__",
    render=render___GR_SNAKE___card,
    is_available=is___GR_SNAKE___available,
    actions={
        "trigger": trigger_incident,
        "acknowledge": acknowledge_incident,
        "resolve": resolve_incident,
    },
)

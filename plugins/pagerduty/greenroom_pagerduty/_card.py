"""The PagerDuty card: service links, incidents, change events, on-call, and the actions."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from greenroom import (
    ActionResult,
    Card,
    CardContext,
    Incident,
    NotFoundError,
    OnCallEntry,
    ProviderError,
    RateLimitedError,
    TriggerRequest,
    UnauthorizedError,
    create_api_ref,
    require_api,
)

from ._client import INCIDENT_CAP, INTEGRATION_KEY_ANNOTATION, dedup_key_for
from ._config import PagerDutySettings
from ._payloads import ServicePayload
from ._provider import NO_INTEGRATION_KEY, SEVERITIES, PagerDutyProvider, is_pagerduty_available
from ._urgency import URGENCIES, urgency_choosable, urgency_hint

pagerduty_api_ref = create_api_ref(
    "plugin.pagerduty.api", description="PagerDuty incidents, on-call and actions", type=object
)

CARD_ID = "pagerduty"
READ_ONLY = (
    "PagerDuty actions are turned off in this portal (plugins.pagerduty.readOnly); "
    "act in PagerDuty itself"
)


def error_text(exc: ProviderError, retry_after: int | None = None) -> str:
    """The card's words for a provider error, as Backstage's PagerDuty card words them; a rate
    limit says when the card is read again (``retry_after`` seconds, from PagerDuty's
    ``ratelimit-reset`` or ``Retry-After``), as the portal's own card errors do."""
    if isinstance(exc, UnauthorizedError):
        return "Missing or invalid PagerDuty Token"
    if isinstance(exc, NotFoundError):
        return "PagerDuty Service Not Found"
    if isinstance(exc, RateLimitedError):
        seconds = retry_after if retry_after is not None else exc.retry_after()
        if seconds is None or exc.retry_at is None:
            return "PagerDuty rate-limited; try again in a moment"
        return (f"PagerDuty rate-limited; retrying in {seconds} s "
                f"(at {exc.retry_at.strftime('%H:%M:%S UTC')})")
    return f"Error encountered while fetching information. {exc}"


@dataclass
class _Section:
    items: list[Any] = field(default_factory=list)
    error: str | None = None
    rate_limited: bool = False
    truncated: bool = False
    # Seconds until PagerDuty takes reads again, when it said.
    retry_after: int | None = None


def _failed(exc: ProviderError) -> _Section:
    seconds = exc.retry_after() if isinstance(exc, RateLimitedError) else None
    return _Section(error=error_text(exc, seconds), rate_limited=isinstance(exc, RateLimitedError),
                    retry_after=seconds)


async def _section(call: Any) -> _Section:
    try:
        result = await call
    except ProviderError as exc:
        return _failed(exc)
    if isinstance(result, tuple):
        items, truncated = result
        return _Section(list(items), truncated=truncated)
    return _Section(list(result))


async def _nothing() -> list[Any]:
    return []


def _settings(ctx: CardContext) -> PagerDutySettings:
    if isinstance(ctx.settings, PagerDutySettings):
        return ctx.settings
    return PagerDutySettings.model_validate(ctx.settings or {})


async def render(ctx: CardContext) -> str:
    provider: PagerDutyProvider = require_api(ctx.apis, pagerduty_api_ref)
    settings = _settings(ctx)
    entity = ctx.entity
    service: ServicePayload | None = None
    failure = _Section()
    try:
        service = await provider.client.service_for_entity(entity)
    except ProviderError as exc:
        failure = _failed(exc)
    incidents = changes = oncall = _Section()
    if service is not None:
        incidents, changes, oncall = await asyncio.gather(
            _section(provider.incident_listing(entity)),
            _section(
                _nothing() if settings.disable_change_events else provider.recent_changes(entity)
            ),
            _section(_nothing() if settings.disable_on_call else provider.on_call(entity)),
        )
    rule = service.incident_urgency_rule if service is not None else None
    has_key = bool((entity.annotations.get(INTEGRATION_KEY_ANNOTATION) or "").strip())
    prefill = ctx.form if ctx.form_action == "trigger" else {}
    return str(
        ctx.render_template(
            "pagerduty/card.html",
            ctx=ctx,
            entity=entity,
            settings=settings,
            service=service,
            failure=failure.error,
            rate_limited=failure.rate_limited,
            # The soonest a rate-limited part may be read again: a live page re-reads the card
            # then (``data-retry-after``) instead of waiting for the next cache TTL.
            retry_after=min(
                (part.retry_after for part in (failure, incidents, changes, oncall)
                 if part.retry_after is not None),
                default=None,
            ),
            incidents=incidents,
            incident_cap=INCIDENT_CAP,
            changes=changes,
            oncall=oncall,
            can_trigger=has_key,
            no_key_hint=NO_INTEGRATION_KEY,
            description=prefill.get("description", ""),
            details=prefill.get("details", ""),
            severity=prefill.get("severity") or "error",
            severities=SEVERITIES,
            urgency_hint=urgency_hint(rule),
            # Offered only where the service's rule leaves the urgency open.
            urgencies=URGENCIES if urgency_choosable(rule) else (),
            urgency=prefill.get("urgency", ""),
            # A fresh nonce per rendered form; a resubmit of the same form reuses it.
            nonce=prefill.get("nonce") or secrets.token_urlsafe(12),
            dialog_open=bool(prefill),
        )
    )


async def trigger(ctx: CardContext, form: Mapping[str, str]) -> ActionResult:
    if _settings(ctx).read_only:
        return ActionResult(f"Failed to trigger alarm. {READ_ONLY}", ok=False)
    provider: PagerDutyProvider = require_api(ctx.apis, pagerduty_api_ref)
    description = (form.get("description") or "").strip()
    if not description:
        return ActionResult(
            "Failed to trigger alarm. Describe the problem: the description is required.",
            ok=False,
        )
    severity = (form.get("severity") or "error").strip()
    if severity not in SEVERITIES:
        return ActionResult(
            f"Failed to trigger alarm. Choose a severity: {', '.join(SEVERITIES)}.", ok=False
        )
    urgency = (form.get("urgency") or "").strip()
    if urgency and urgency not in URGENCIES:
        return ActionResult(
            f"Failed to trigger alarm. Choose an urgency: {', '.join(URGENCIES)}, or leave it "
            "to the service.",
            ok=False,
        )
    request = TriggerRequest(
        summary=description,
        details=(form.get("details") or "").strip(),
        severity=severity,
        dedup_key=dedup_key_for(ctx.entity, description, form.get("nonce", "")),
        urgency=urgency or None,
    )
    try:
        outcome = await provider.trigger(ctx.entity, request, ctx.identity)
    except ProviderError as exc:
        return ActionResult(f"Failed to trigger alarm. {exc}", ok=False)
    return ActionResult(outcome.message)


async def _change_status(ctx: CardContext, form: Mapping[str, str], verb: str) -> ActionResult:
    if _settings(ctx).read_only:
        return ActionResult(f"Failed to {verb} incident. {READ_ONLY}", ok=False)
    provider: PagerDutyProvider = require_api(ctx.apis, pagerduty_api_ref)
    incident_id = (form.get("incident_id") or "").strip()
    if not incident_id:
        return ActionResult(f"Failed to {verb} incident. No incident was chosen.", ok=False)
    act = provider.acknowledge if verb == "acknowledge" else provider.resolve
    try:
        outcome = await act(ctx.entity, incident_id, ctx.identity)
    except ProviderError as exc:
        return ActionResult(f"Failed to {verb} incident. {exc}", ok=False)
    return ActionResult(outcome.message)


async def acknowledge(ctx: CardContext, form: Mapping[str, str]) -> ActionResult:
    return await _change_status(ctx, form, "acknowledge")


async def resolve(ctx: CardContext, form: Mapping[str, str]) -> ActionResult:
    return await _change_status(ctx, form, "resolve")


async def summary(ctx: CardContext) -> str | None:
    """One line for the home page: who is on call now and how many incidents are open."""
    provider: PagerDutyProvider = require_api(ctx.apis, pagerduty_api_ref)
    settings = _settings(ctx)
    try:
        listing = provider.incident_listing(ctx.entity)
        if settings.disable_on_call:
            (incidents, truncated), entries = await listing, []
        else:
            (incidents, truncated), entries = await asyncio.gather(
                listing, provider.on_call(ctx.entity)
            )
    except ProviderError as exc:
        return error_text(exc)
    return summary_text(incidents, truncated, entries, show_on_call=not settings.disable_on_call)


def summary_text(
    incidents: list[Incident],
    truncated: bool,
    entries: list[OnCallEntry],
    *,
    show_on_call: bool = True,
) -> str:
    count = f"{len(incidents)}+" if truncated else str(len(incidents))
    noun = "open incident" if count == "1" else "open incidents"
    parts = [f"{count} {noun}"]
    if show_on_call:
        entries = list(entries)
        # Whoever is paged first: everyone on the lowest escalation level.
        first = [e for e in entries if e.level == entries[0].level] if entries else []
        names = ", ".join(e.person.name for e in first) or "nobody"
        parts.insert(0, f"On call: {names}")
    return " · ".join(parts)


card = Card(
    id=CARD_ID,
    title="PagerDuty",
    render=render,
    is_available=is_pagerduty_available,
    actions={"trigger": trigger, "acknowledge": acknowledge, "resolve": resolve},
    summary=summary,
    timeout=10.0,
)

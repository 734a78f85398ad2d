"""The Splunk On-Call card: one per team of the entity, with incidents, on-call and actions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from greenroom import (
    ActionResult,
    Card,
    CardContext,
    MissingSettingError,
    NotFoundError,
    ProviderError,
    TriggerRequest,
    UnauthorizedError,
    create_api_ref,
    require_api,
)

from ._client import MISSING_KEYS
from ._provider import (
    INCIDENT_TYPES,
    MISSING_USERNAME,
    ROUTING_KEY_ANNOTATION,
    TEAM_ANNOTATION,
    SplunkOnCallProvider,
    is_splunk_on_call_available,
)

splunk_on_call_api_ref = create_api_ref(
    "plugin.splunk-on-call.api",
    description="Splunk On-Call incidents, on-call users and actions",
    type=SplunkOnCallProvider,
)

CARD_ID = "splunk-on-call"
TITLE = "Splunk On-Call"
MISSING_ANNOTATION = "Missing Annotation"
FETCH_FAILED = "Error encountered while fetching information."
TRIGGER_FAILED = "Failed to trigger alarm."
REST_ONLY_TYPES = (
    "WARNING and INFO need the REST endpoint: set splunkOnCall.eventsRestEndpoint and annotate "
    f"the entity with {ROUTING_KEY_ANNOTATION}."
)
READ_ONLY = (
    "Splunk On-Call actions are turned off for this portal (plugins.splunk-on-call.readOnly)."
)
_TARGET_PREFIX = "target:"


def _provider(ctx: CardContext) -> SplunkOnCallProvider:
    return require_api(ctx.apis, splunk_on_call_api_ref)


def _read_only(ctx: CardContext) -> bool:
    return bool(getattr(ctx.settings, "read_only", False))


def _username_hint(ctx: CardContext) -> str:
    email = ctx.identity.email
    who = f"no Splunk On-Call user has your email ({email})" if email else "you have no email"
    return f"{who} and splunkOnCall.username is not set in the portal's config."


def _missing_setting(ctx: CardContext, exc: MissingSettingError) -> ActionResult:
    """Refused before anything was sent; say which setting and how to provide it."""
    if str(exc) == MISSING_USERNAME:
        return ActionResult(f"{exc}: {_username_hint(ctx)}", ok=False)
    return ActionResult(str(exc), ok=False)


async def render(ctx: CardContext) -> str:
    entity = ctx.entity
    if not is_splunk_on_call_available(entity):
        return ctx.render_template(
            "splunk_on_call/state.html",
            title=TITLE,
            heading=MISSING_ANNOTATION,
            message=(
                f"Add the {TEAM_ANNOTATION} or {ROUTING_KEY_ANNOTATION} annotation to "
                f"{entity.name}'s catalog-info.yaml."
            ),
        )
    provider = _provider(ctx)
    try:
        overview = await provider.overview(entity)
    except UnauthorizedError:
        return ctx.render_template(
            "splunk_on_call/state.html",
            title=TITLE,
            heading=MISSING_KEYS,
            message=(
                "Check the X-VO-Api-Id and X-VO-Api-Key headers of the /splunk-on-call proxy "
                "route. Splunk On-Call also answers 403 when an endpoint's rate limit (60 calls "
                "a minute) is reached: if the keys are right, try again in a minute."
            ),
        )
    except NotFoundError as exc:
        return ctx.render_template(
            "splunk_on_call/state.html",
            title=TITLE,
            heading=str(exc),
            message="Check the annotation against the teams and routing keys in Splunk On-Call.",
        )
    except ProviderError as exc:
        return ctx.render_template(
            "splunk_on_call/state.html", title=TITLE, heading=f"{FETCH_FAILED} {exc}", message=""
        )

    read_only = _read_only(ctx)
    path = provider.action_path(entity)
    username_error = None
    if not read_only and path == "public":
        try:
            await provider.acting_username(ctx.identity)
        except MissingSettingError:
            username_error = _username_hint(ctx)
    return ctx.render_template(
        "splunk_on_call/card.html",
        ctx=ctx,
        title=TITLE,
        overview=overview,
        read_only=read_only,
        path=path,
        routing_key=entity.annotations.get(ROUTING_KEY_ANNOTATION),
        missing_username=MISSING_USERNAME if username_error else None,
        username_hint=username_error,
        portal_url=provider.portal_url,
        # The public API opens paging (CRITICAL) incidents only; WARNING and INFO go through
        # the REST endpoint integration, so they are offered only where it is set up.
        incident_types=INCIDENT_TYPES if path == "rest" else ("CRITICAL",),
        types_hint=None if path == "rest" else REST_ONLY_TYPES,
        target_prefix=_TARGET_PREFIX,
        form=ctx.form if ctx.form_action == "trigger" else {},
    )


async def trigger(ctx: CardContext, form: Mapping[str, str]) -> ActionResult:
    if _read_only(ctx):
        return ActionResult(READ_ONLY, ok=False)
    provider = _provider(ctx)
    display_name = form.get("display_name", "").strip()
    message = form.get("message", "").strip()
    incident_type = form.get("incident_type", "CRITICAL").strip().upper()
    problems = []
    if not display_name:
        problems.append("Enter the incident's display name.")
    if not message:
        problems.append("Enter the incident message.")
    if incident_type not in INCIDENT_TYPES:
        problems.append(f"Choose an incident type: {', '.join(INCIDENT_TYPES)}.")
    start_time = None
    if form.get("start_time", "").strip():
        try:
            start_time = datetime.fromisoformat(form["start_time"].strip())
        except ValueError:
            problems.append("Start time must look like 2024-05-01T13:45 (UTC).")
        else:
            if start_time.tzinfo is None:
                start_time = start_time.replace(tzinfo=UTC)
    if problems:
        return ActionResult(f"{TRIGGER_FAILED} {' '.join(problems)}", ok=False)
    targets = tuple(
        key.removeprefix(_TARGET_PREFIX)
        for key, value in form.items()
        if key.startswith(_TARGET_PREFIX) and value
    )
    request = TriggerRequest(
        summary=display_name,
        details=message,
        severity=incident_type.lower(),
        targets=targets,
        incident_id=form.get("incident_id", "").strip() or None,
        start_time=start_time,
    )
    try:
        await _check_team(ctx, provider, form.get("team", ""))
        outcome = await provider.trigger(ctx.entity, request, ctx.identity)
    except MissingSettingError as exc:
        return _missing_setting(ctx, exc)
    except UnauthorizedError:
        return ActionResult(f"{TRIGGER_FAILED} {MISSING_KEYS}", ok=False)
    except ProviderError as exc:
        return ActionResult(f"{TRIGGER_FAILED} {exc}", ok=False)
    return ActionResult(outcome.message)


async def acknowledge(ctx: CardContext, form: Mapping[str, str]) -> ActionResult:
    return await _move(ctx, form, "acknowledge")


async def resolve(ctx: CardContext, form: Mapping[str, str]) -> ActionResult:
    return await _move(ctx, form, "resolve")


async def _move(ctx: CardContext, form: Mapping[str, str], verb: str) -> ActionResult:
    if _read_only(ctx):
        return ActionResult(READ_ONLY, ok=False)
    incident_id = form.get("incident", "").strip()
    if not incident_id:
        return ActionResult(f"Failed to {verb} the incident: no incident was chosen.", ok=False)
    provider = _provider(ctx)
    move = provider.acknowledge if verb == "acknowledge" else provider.resolve
    try:
        outcome = await move(ctx.entity, incident_id, ctx.identity)
    except MissingSettingError as exc:
        return _missing_setting(ctx, exc)
    except UnauthorizedError:
        return ActionResult(f"Failed to {verb} incident #{incident_id}. {MISSING_KEYS}", ok=False)
    except ProviderError as exc:
        return ActionResult(f"Failed to {verb} incident #{incident_id}. {exc}", ok=False)
    return ActionResult(outcome.message)


async def summary(ctx: CardContext) -> str | None:
    """One line for the home page: open incidents and who is on call."""
    try:
        overview = await _provider(ctx).overview(ctx.entity)
    except UnauthorizedError:
        return MISSING_KEYS
    except ProviderError as exc:
        return str(exc)
    incidents = {i.id: i for view in overview.teams for i in view.incidents}
    unacked = sum(1 for i in incidents.values() if i.status.value == "triggered")
    people = list(dict.fromkeys(e.person.name for v in overview.teams for e in v.on_call))
    if incidents:
        text = f"{len(incidents)} open incident{'s' if len(incidents) != 1 else ''}"
        text += f" ({unacked} triggered)" if unacked else ""
    else:
        text = "No open incidents"
    text += f" · on call: {', '.join(people)}" if people else " · nobody on call"
    return text


async def _check_team(ctx: CardContext, provider: SplunkOnCallProvider, team_slug: str) -> None:
    teams = await provider.teams_for(ctx.entity)
    if team_slug and team_slug not in {team.slug for team in teams}:
        raise ProviderError(f"Team {team_slug!r} is not one of {ctx.entity.name}'s teams")


splunk_on_call_card = Card(
    id=CARD_ID,
    title=TITLE,
    render=render,
    is_available=is_splunk_on_call_available,
    actions={"trigger": trigger, "acknowledge": acknowledge, "resolve": resolve},
    summary=summary,
)

"""JSON shapes of the simulated account, as PagerDuty's REST API v2 returns them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ._state import (
    API_BASE,
    PagerDutyState,
    SimChangeEvent,
    SimIncident,
    SimPolicy,
    SimSchedule,
    SimService,
    SimUser,
    iso,
)


def _ref(state: PagerDutyState, kind: str, id: str, summary: str, path: str) -> dict[str, Any]:
    return {
        "id": id,
        "type": f"{kind}_reference",
        "summary": summary,
        "self": f"{API_BASE}/{path}/{id}",
        "html_url": f"{state.html_base}/{path}/{id}",
    }


def user_ref(state: PagerDutyState, user: SimUser) -> dict[str, Any]:
    return _ref(state, "user", user.id, user.name, "users")


def user_full(state: PagerDutyState, user: SimUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "type": "user",
        "summary": user.name,
        "self": f"{API_BASE}/users/{user.id}",
        "html_url": f"{state.html_base}/users/{user.id}",
        "name": user.name,
        "email": user.email,
        "time_zone": "Etc/UTC",
        "color": user.color,
        "role": user.role,
        "avatar_url": f"https://secure.gravatar.com/avatar/{user.id.lower()}.png?d=mm&r=PG",
        "description": user.job_title,
        "invitation_sent": False,
        "job_title": user.job_title,
        "teams": [],
        "contact_methods": [],
        "notification_rules": [],
    }


def schedule_ref(state: PagerDutyState, schedule: SimSchedule) -> dict[str, Any]:
    return _ref(state, "schedule", schedule.id, schedule.name, "schedules")


def policy_ref(state: PagerDutyState, policy: SimPolicy) -> dict[str, Any]:
    return _ref(state, "escalation_policy", policy.id, policy.name, "escalation_policies")


def policy_full(state: PagerDutyState, policy: SimPolicy) -> dict[str, Any]:
    rules = []
    for level, targets in enumerate(policy.levels, start=1):
        rule_targets = []
        for kind, target_id in targets:
            if kind == "user":
                rule_targets.append(user_ref(state, state.users[target_id]))
            else:
                rule_targets.append(schedule_ref(state, state.schedules[target_id]))
        rules.append(
            {
                "id": f"PR{policy.id[2:]}{level}",
                "escalation_delay_in_minutes": 30,
                "targets": rule_targets,
            }
        )
    return {
        "id": policy.id,
        "type": "escalation_policy",
        "summary": policy.name,
        "self": f"{API_BASE}/escalation_policies/{policy.id}",
        "html_url": f"{state.html_base}/escalation_policies/{policy.id}",
        "name": policy.name,
        "description": "",
        "num_loops": 0,
        "on_call_handoff_notifications": "if_has_services",
        "escalation_rules": rules,
        "services": [
            _ref(state, "service", s.id, s.name, "services")
            for s in state.services.values()
            if s.policy_id == policy.id
        ],
        "teams": [],
    }


def integration_ref(state: PagerDutyState, service: SimService) -> dict[str, Any]:
    path = f"services/{service.id}/integrations/{service.integration_id}"
    return {
        "id": service.integration_id,
        "type": "events_api_v2_inbound_integration_reference",
        "summary": "Events API v2",
        "self": f"{API_BASE}/{path}",
        "html_url": f"{state.html_base}/{path}",
    }


def integration_full(state: PagerDutyState, service: SimService) -> dict[str, Any]:
    return {
        **integration_ref(state, service),
        "type": "events_api_v2_inbound_integration",
        "name": "Events API v2",
        "service": _ref(state, "service", service.id, service.name, "services"),
        "created_at": iso(service.created_at),
        "integration_key": service.integration_key,
    }


def service(state: PagerDutyState, svc: SimService, include: set[str]) -> dict[str, Any]:
    policy = state.policies[svc.policy_id]
    return {
        "id": svc.id,
        "type": "service",
        "summary": svc.name,
        "self": f"{API_BASE}/services/{svc.id}",
        "html_url": f"{state.html_base}/service-directory/{svc.id}",
        "name": svc.name,
        "description": svc.description,
        "auto_resolve_timeout": 14400,
        "acknowledgement_timeout": 1800,
        "created_at": iso(svc.created_at),
        "updated_at": iso(svc.created_at),
        "status": "critical"
        if _has_open(state, svc.id, "triggered")
        else ("warning" if _has_open(state, svc.id, "acknowledged") else "active"),
        "alert_creation": "create_alerts_and_incidents",
        "escalation_policy": (
            policy_full(state, policy)
            if "escalation_policies" in include
            else policy_ref(state, policy)
        ),
        "integrations": [
            integration_full(state, svc)
            if "integrations" in include
            else integration_ref(state, svc)
        ],
        "teams": [
            {
                "id": "PT" + svc.team[:5].upper().ljust(5, "X"),
                "type": "team_reference",
                "summary": svc.team,
                "self": f"{API_BASE}/teams/PT{svc.team[:5].upper().ljust(5, 'X')}",
                "html_url": f"{state.html_base}/teams/PT{svc.team[:5].upper().ljust(5, 'X')}",
            }
        ],
        "incident_urgency_rule": svc.urgency_rule,
    }


def _has_open(state: PagerDutyState, service_id: str, status: str) -> bool:
    return any(i.service_id == service_id and i.status == status for i in state.incidents.values())


def incident(state: PagerDutyState, inc: SimIncident) -> dict[str, Any]:
    svc = state.services[inc.service_id]
    policy = state.policies[svc.policy_id]
    last_change = inc.resolved_at or inc.acknowledged_at or inc.created_at
    last_by = inc.resolved_by or (inc.acknowledger_ids[0] if inc.acknowledger_ids else None)
    body: dict[str, Any] = {
        "id": inc.id,
        "type": "incident",
        "summary": f"[#{inc.number}] {inc.title}",
        "self": f"{API_BASE}/incidents/{inc.id}",
        "html_url": f"{state.html_base}/incidents/{inc.id}",
        "incident_number": inc.number,
        "title": inc.title,
        "created_at": iso(inc.created_at),
        "updated_at": iso(inc.updated_at or inc.created_at),
        "status": inc.status,
        "incident_key": inc.incident_key,
        "service": {
            "id": svc.id,
            "type": "service_reference",
            "summary": svc.name,
            "self": f"{API_BASE}/services/{svc.id}",
            "html_url": f"{state.html_base}/service-directory/{svc.id}",
        },
        "assignments": [
            {"at": iso(inc.created_at), "assignee": user_ref(state, state.users[uid])}
            for uid in inc.assignee_ids
        ],
        "assigned_via": "escalation_policy",
        "last_status_change_at": iso(last_change),
        # PagerDuty sends null here for open incidents although the spec does not allow it.
        "resolved_at": iso(inc.resolved_at),
        "first_trigger_log_entry": {
            "id": "R" + inc.id[1:] + "TRG",
            "type": "trigger_log_entry_reference",
            "summary": "Triggered through the API",
            "self": f"{API_BASE}/log_entries/R{inc.id[1:]}TRG?incident_id={inc.id}",
            "html_url": f"{state.html_base}/incidents/{inc.id}/log_entries/R{inc.id[1:]}TRG",
        },
        "alert_counts": {
            "all": inc.alerts,
            "triggered": 0 if inc.status == "resolved" else inc.alerts,
            "resolved": inc.alerts if inc.status == "resolved" else 0,
        },
        "is_mergeable": True,
        "incident_type": {"name": "incident_default"},
        "escalation_policy": policy_ref(state, policy),
        "teams": [],
        "pending_actions": [],
        "acknowledgements": [
            {"at": iso(inc.acknowledged_at), "acknowledger": user_ref(state, state.users[uid])}
            for uid in inc.acknowledger_ids
            if uid in state.users
        ],
        "alert_grouping": {
            "grouping_type": "advanced",
            "started_at": iso(inc.created_at),
            # Null while grouping is active, although the spec says it is always a string.
            "ended_at": iso(inc.resolved_at),
            "alert_grouping_active": inc.status != "resolved",
        },
        "last_status_change_by": (
            user_ref(state, state.users[last_by])
            if last_by in state.users
            else _ref(state, "service", svc.id, svc.name, "services")
        ),
        "resolve_reason": None,
        "incidents_responders": [],
        "responder_requests": [],
        "urgency": inc.urgency,
    }
    return body


def change_event(state: PagerDutyState, event: SimChangeEvent) -> dict[str, Any]:
    svc = state.services[event.service_id]
    return {
        "id": event.id,
        "type": "change_event",
        "summary": event.summary,
        "timestamp": iso(event.timestamp),
        "source": event.source,
        "integration": {
            "id": event.integration_id,
            "type": "inbound_integration_reference",
        },
        "services": [{"id": svc.id, "type": "service_reference"}],
        "custom_details": dict(event.custom_details),
        "links": ([{"href": event.link, "text": "View in CI"}] if event.link else []),
    }


def oncall(
    state: PagerDutyState,
    policy: SimPolicy,
    level: int,
    user_id: str,
    schedule: SimSchedule | None,
    include: set[str],
) -> dict[str, Any]:
    user = state.users[user_id]
    start = end = None
    if schedule is not None:
        start_at, end_at = state.shift_bounds(schedule, datetime.now(UTC))
        start, end = iso(start_at), iso(end_at)
    return {
        "user": user_full(state, user) if "users" in include else user_ref(state, user),
        "schedule": (schedule_ref(state, schedule) if schedule is not None else None),
        "escalation_policy": (
            policy_full(state, policy)
            if "escalation_policies" in include
            else policy_ref(state, policy)
        ),
        "escalation_level": level,
        # Users on call directly (not through a schedule) are on call "forever": null times.
        "start": start,
        "end": end,
    }


def error(code: int, message: str, errors: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return {"error": body}

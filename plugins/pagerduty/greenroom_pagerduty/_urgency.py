"""A new incident's urgency, as a PagerDuty service's ``incident_urgency_rule`` decides it.

A service's rule (PagerDuty REST API, ``IncidentUrgencyRule``) is either ``constant`` with an
``urgency`` of ``high``, ``low`` or ``severity_based``, or ``use_support_hours`` with one rule
during the service's support hours and one outside them. A constant high or low rule fixes the
urgency of every incident; the other two are PagerDuty's dynamic notifications, where the
urgency varies, and there the person creating an incident may choose it.

The Events API cannot set an urgency (its severity feeds a severity-based rule), so an incident
created with a chosen urgency is created through the REST API's ``POST /incidents``, which takes
``urgency`` (``high`` or ``low``) and records the creator from the ``From`` header.
"""

from __future__ import annotations

from ._payloads import UrgencyRule

#: The urgencies ``POST /incidents`` accepts.
URGENCIES = ("high", "low")


def urgency_choosable(rule: UrgencyRule | None) -> bool:
    """Whether the service leaves the urgency open (severity-based or support hours)."""
    if rule is None:
        return False
    return rule.type == "use_support_hours" or (
        rule.type in (None, "constant") and rule.urgency == "severity_based"
    )


def urgency_hint(rule: UrgencyRule | None) -> str:
    """What urgency a new incident gets from the service's rule, in words for the dialog."""
    if rule is None:
        return ""
    if rule.type == "use_support_hours":
        return ("Urgency depends on the service's support hours unless you choose one: "
                f"{_constant(rule.during_support_hours)} during them, "
                f"{_constant(rule.outside_support_hours)} outside.")
    if rule.urgency == "severity_based":
        return ("Urgency follows severity unless you choose one: critical and error are high, "
                "warning and info low.")
    if rule.urgency in URGENCIES:
        return f"Incidents of this service are {rule.urgency} urgency."
    return ""


def _constant(rule: object) -> str:
    urgency = getattr(rule, "urgency", None)
    if urgency == "severity_based":
        return "by severity"
    return str(urgency or "high")

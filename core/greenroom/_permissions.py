"""Who may do what: ``permissions.rules[]`` from the config, decided as pure logic.

```yaml
permissions:
  rules:
    - actions: [incident.resolve, incident.acknowledge]
      allow: [owner, oncall]
    - actions: [proxy.pagerduty]          # the /api/proxy/pagerduty route
      allow: [group:sre, user:ops-bot@example.com]
    - actions: [audit.read]
      allow: [group:security]
```

An action is allowed when any rule naming it allows the viewer; an action no rule names is
allowed to every signed-in user (``authenticated``). A guest (not signed in) never acts and never
reads the audit trail, whatever the rules say. ``allow`` entries, as in Backstage's permission
policies' conditions but written as data:

- ``owner``: the viewer belongs to the group in the entity's ``spec.owner`` (from the catalog's
  Group and User entities, or the groups the sign-in reported);
- ``oncall``: the viewer is on call now for the entity at any provider;
- ``group:<name>``, ``user:<email>``, ``authenticated``.

Actions: ``incident.trigger``, ``incident.acknowledge``, ``incident.resolve``, ``incident.note``,
``audit.read``, ``mapping.edit``, ``proxy.<route>``, and ``<plugin-id>.<action>`` for the
actions plugins declare;
``incident.*`` (any name ending in ``.*``) names every action with that prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._exceptions import ConfigError

CORE_ACTIONS: dict[str, str] = {
    "incident.trigger": "Trigger an incident for an entity",
    "incident.acknowledge": "Acknowledge an incident",
    "incident.resolve": "Resolve an incident",
    "incident.note": "Add a note to an incident",
    "audit.read": "Read the audit trail",
    "mapping.edit": "Change which vendor service an entity is mapped to",
}
ALLOW_WORDS = ("owner", "oncall", "authenticated")
ALLOW_PREFIXES = ("group:", "user:")


@dataclass(frozen=True)
class Subject:
    """The viewer as permissions see them."""

    user_id: str
    email: str | None = None
    groups: frozenset[str] = frozenset()
    authenticated: bool = False

    def in_group(self, name: str) -> bool:
        return group_key(name) in {group_key(g) for g in self.groups}


@dataclass(frozen=True)
class Target:
    """The entity an action concerns: its owner and whether the viewer is on call for it
    (``None`` while the on-call read is not known)."""

    ref: str = ""
    owner: str | None = None
    oncall: bool | None = None


@dataclass(frozen=True)
class Rule:
    index: int
    actions: tuple[str, ...]
    allow: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"permissions.rules[{self.index}]"

    def names(self, action: str) -> bool:
        return any(
            pattern == action or (pattern.endswith(".*") and action.startswith(pattern[:-1]))
            or pattern == "*"
            for pattern in self.actions
        )


@dataclass(frozen=True)
class Decision:
    """Whether the viewer may act; ``reason`` says why not (and which rule refused)."""

    allowed: bool
    reason: str = ""
    rule: Rule | None = None
    # True when the answer hangs on an on-call read that is not known yet.
    pending: bool = False


@dataclass
class Permissions:
    rules: list[Rule] = field(default_factory=list)

    def decide(self, action: str, subject: Subject, targets: Sequence[Target] = ()) -> Decision:
        """May ``subject`` do ``action`` on any of ``targets``? (An incident paging several
        entities may be acted on by whoever may act on one of them.)"""
        if not subject.authenticated:
            if action == "audit.read":
                return Decision(False, "Guests cannot read the audit trail; sign in.")
            return Decision(False, "Guests cannot act; sign in to do this.")
        rules = [rule for rule in self.rules if rule.names(action)]
        if not rules:
            return Decision(True, f"{action}: any signed-in user (no rule names it)")
        pending = False
        for rule in rules:
            for allow in rule.allow:
                verdict = _allows(allow, subject, targets or (Target(),))
                if verdict is True:
                    return Decision(True, f"{rule.name} allows {allow}", rule)
                if verdict is None:
                    pending = True
        first = rules[0]
        allowed = ", ".join(a for r in rules for a in r.allow) or "nobody"
        where = " and ".join(r.name for r in rules)
        if pending:
            return Decision(
                False,
                f"{where} allows {allowed}; whether you are on call is not known yet, "
                "try again in a moment",
                first,
                pending=True,
            )
        return Decision(False, f"Refused by {where}: {action} is allowed to {allowed} only.", first)


def _allows(allow: str, subject: Subject, targets: Sequence[Target]) -> bool | None:
    if allow == "authenticated":
        return True
    if allow.startswith("user:"):
        wanted = allow[len("user:"):].strip().lower()
        return wanted in {(subject.email or "").lower(), subject.user_id.lower()}
    if allow.startswith("group:"):
        return subject.in_group(allow[len("group:"):])
    if allow == "owner":
        return any(t.owner and subject.in_group(t.owner) for t in targets)
    if allow == "oncall":
        if any(t.oncall is True for t in targets):
            return True
        return None if any(t.oncall is None for t in targets) else False
    return False


def group_key(name: str) -> str:
    """``group:default/SRE``, ``default/sre`` and ``sre`` all name the same group."""
    key = name.strip().lower()
    if key.startswith("group:"):
        key = key[len("group:"):]
    if key.startswith("default/"):
        key = key[len("default/"):]
    return key


def parse_permissions(
    raw: Any, *, plugin_actions: Iterable[str] = (), proxy_routes: Iterable[str] = (),
    location: Any = None,
) -> Permissions:
    """``permissions`` from the config; ``ConfigError`` names the key path of anything wrong."""
    if raw is None:
        return Permissions()
    if not isinstance(raw, Mapping) or not isinstance(raw.get("rules", []), list):
        raise _error("permissions", "expected `rules:`, a list of {actions, allow}", location)
    known = set(CORE_ACTIONS) | set(plugin_actions)
    known |= {f"proxy.{route.strip('/')}" for route in proxy_routes}
    rules = []
    for index, item in enumerate(raw.get("rules") or []):
        path = f"permissions.rules[{index}]"
        if not isinstance(item, Mapping) or set(item) - {"actions", "allow"}:
            raise _error(path, "each rule has `actions` and `allow` (lists) and nothing else",
                         location)
        actions = _strings(item.get("actions"), f"{path}.actions", location)
        allow = _strings(item.get("allow"), f"{path}.allow", location)
        for number, action in enumerate(actions):
            if not _is_known(action, known):
                choices = ", ".join(sorted(known))
                raise _error(f"{path}.actions[{number}]",
                             f"unknown action {action!r}; known: {choices}", location)
        for number, entry in enumerate(allow):
            if entry not in ALLOW_WORDS and not (
                entry.startswith(ALLOW_PREFIXES) and entry.split(":", 1)[1].strip()
            ):
                raise _error(
                    f"{path}.allow[{number}]",
                    f"unknown allow {entry!r}; use owner, oncall, authenticated, "
                    "group:<name> or user:<email>",
                    location,
                )
        rules.append(Rule(index, tuple(actions), tuple(allow)))
    return Permissions(rules)


def _is_known(action: str, known: set[str]) -> bool:
    if action == "*" or action in known:
        return True
    if action.endswith(".*"):
        prefix = action[:-1]
        return prefix == "proxy." or any(k.startswith(prefix) for k in known)
    return False


def _strings(value: Any, path: str, location: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _error(path, "expected a non-empty list of strings", location)
    return [v.strip() for v in value]


def _error(path: str, message: str, location: Any) -> ConfigError:
    where = location(path) if callable(location) else None
    return ConfigError(
        message, key_path=path, file=where.file if where else None,
        line=where.line if where else None,
    )


__all__ = [
    "CORE_ACTIONS",
    "Decision",
    "Permissions",
    "Rule",
    "Subject",
    "Target",
    "group_key",
    "parse_permissions",
]

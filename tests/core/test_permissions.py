"""permissions.rules[]: pure decisions, and the errors a wrong rule gets."""

from __future__ import annotations

import pytest

from greenroom._exceptions import ConfigError
from greenroom._permissions import Subject, Target, parse_permissions

ALICE = Subject("alice", "alice@example.com", frozenset({"group:default/sre"}), True)
BOB = Subject("bob", "bob@example.com", frozenset(), True)
GUEST = Subject("guest", None, frozenset(), False)
CHECKOUT = Target("component:default/checkout", owner="group:default/sre", oncall=False)

RULES = parse_permissions(
    {
        "rules": [
            {"actions": ["incident.resolve"], "allow": ["owner", "oncall"]},
            {"actions": ["incident.trigger"], "allow": ["user:bob@example.com"]},
            {"actions": ["proxy.pagerduty"], "allow": ["group:sre"]},
            {"actions": ["audit.read"], "allow": ["group:security"]},
        ]
    },
    proxy_routes=["/pagerduty"],
)


def test_an_action_no_rule_names_is_allowed_to_any_signed_in_user() -> None:
    assert RULES.decide("incident.acknowledge", BOB, [CHECKOUT]).allowed


def test_guests_never_act_and_never_read_the_audit_trail() -> None:
    open_rules = parse_permissions({"rules": [{"actions": ["*"], "allow": ["authenticated"]}]})
    for rules in (RULES, open_rules):
        decision = rules.decide("incident.acknowledge", GUEST, [CHECKOUT])
        assert not decision.allowed and "sign in" in decision.reason
        assert not rules.decide("audit.read", GUEST).allowed


def test_owner_is_the_group_in_spec_owner_whatever_way_it_is_written() -> None:
    assert RULES.decide("incident.resolve", ALICE, [CHECKOUT]).allowed
    assert RULES.decide(
        "incident.resolve", Subject("a", "a@x", frozenset({"SRE"}), True), [CHECKOUT]
    ).allowed
    refused = RULES.decide("incident.resolve", BOB, [CHECKOUT])
    assert not refused.allowed
    assert "permissions.rules[0]" in refused.reason and "owner, oncall" in refused.reason


def test_oncall_allows_whoever_is_on_call_and_waits_when_unknown() -> None:
    on_call = Target("component:default/checkout", owner="group:default/web", oncall=True)
    assert RULES.decide("incident.resolve", BOB, [on_call]).allowed
    unknown = Target("component:default/checkout", owner="group:default/web", oncall=None)
    decision = RULES.decide("incident.resolve", BOB, [unknown])
    assert not decision.allowed and decision.pending
    assert "on call" in decision.reason


def test_an_action_on_several_entities_is_allowed_when_allowed_on_any() -> None:
    theirs = Target("component:default/search", owner="group:default/search", oncall=False)
    assert RULES.decide("incident.resolve", ALICE, [theirs, CHECKOUT]).allowed
    assert not RULES.decide("incident.resolve", ALICE, [theirs]).allowed


def test_user_and_group_rules() -> None:
    assert RULES.decide("incident.trigger", BOB, [CHECKOUT]).allowed
    assert not RULES.decide("incident.trigger", ALICE, [CHECKOUT]).allowed
    assert RULES.decide("proxy.pagerduty", ALICE).allowed
    assert not RULES.decide("proxy.pagerduty", BOB).allowed
    assert not RULES.decide("audit.read", ALICE).allowed


def test_several_rules_naming_one_action_allow_the_union() -> None:
    rules = parse_permissions({"rules": [
        {"actions": ["incident.*"], "allow": ["group:sre"]},
        {"actions": ["incident.resolve"], "allow": ["user:bob@example.com"]},
    ]})
    assert rules.decide("incident.resolve", BOB, [CHECKOUT]).allowed
    assert rules.decide("incident.resolve", ALICE, [CHECKOUT]).allowed
    refused = rules.decide("incident.trigger", BOB, [CHECKOUT])
    assert "permissions.rules[0]" in refused.reason


def test_plugin_actions_are_known_once_declared() -> None:
    rule = {"rules": [{"actions": ["acme-pager.escalate"], "allow": ["owner"]}]}
    with pytest.raises(ConfigError) as caught:
        parse_permissions(rule)
    assert "permissions.rules[0].actions[0]" in str(caught.value)
    rules = parse_permissions(rule, plugin_actions=["acme-pager.escalate"])
    assert not rules.decide("acme-pager.escalate", BOB, [CHECKOUT]).allowed


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"rules": [{"actions": ["incident.resolve"], "allow": ["admins"]}]},
         "permissions.rules[0].allow[0]"),
        ({"rules": [{"actions": [], "allow": ["owner"]}]}, "permissions.rules[0].actions"),
        ({"rules": [{"actions": ["incident.resolve"], "allow": ["owner"], "deny": ["x"]}]},
         "permissions.rules[0]"),
        ({"rules": [{"actions": ["proxy.nowhere"], "allow": ["owner"]}]},
         "permissions.rules[0].actions[0]"),
        ({"rules": "everyone"}, "permissions"),
    ],
)
def test_a_wrong_rule_names_its_key_path(raw: object, path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_permissions(raw, proxy_routes=["/pagerduty"])
    assert caught.value.key_path == path

"""PagerDutyProvider: the shared conformance suite on the live simulator, plus mapping."""

from __future__ import annotations

import pytest

from greenroom import Entity, Identity, IncidentStatus, MissingSettingError, NotFoundError
from greenroom.testing import IncidentProviderConformance
from greenroom_pagerduty import PagerDutyProvider, is_pagerduty_available
from greenroom_pagerduty.simulator import (
    CHECKOUT_INTEGRATION_KEY,
    CHECKOUT_SERVICE_ID,
    PAYMENTS_SERVICE_ID,
)


def checkout() -> Entity:
    return Entity(
        kind="Component",
        name="checkout-api",
        annotations={"pagerduty.com/integration-key": CHECKOUT_INTEGRATION_KEY},
    )


class TestPagerDutyConformance(IncidentProviderConformance):
    @pytest.fixture
    def entity(self) -> Entity:
        return checkout()

    @pytest.fixture
    def missing_entity(self) -> Entity:
        return Entity(
            kind="Component", name="ghost", annotations={"pagerduty.com/service-id": "PNOPE00"}
        )

    @pytest.fixture
    def unauthorized_provider(self, make_client, simulator) -> PagerDutyProvider:
        client = make_client()
        simulator.control.token = "rotated-token"  # the proxy's token is now wrong
        return PagerDutyProvider(client)


def test_is_available_reads_either_annotation():
    assert is_pagerduty_available(checkout())
    assert is_pagerduty_available(
        Entity(kind="Component", name="x", annotations={"pagerduty.com/service-id": "P1"})
    )
    assert not is_pagerduty_available(
        Entity(kind="Component", name="x", annotations={"pagerduty.com/service-id": "  "})
    )
    assert not is_pagerduty_available(Entity(kind="Component", name="x"))


async def test_incidents_map_to_the_common_model(provider, simulator):
    incidents = await provider.list_incidents(checkout())
    by_title = {i.title: i for i in incidents}
    acked = by_title["Cart service returning 503"]
    assert acked.status is IncidentStatus.ACKNOWLEDGED
    assert acked.acknowledged_at is not None
    assert acked.urgency == "high"
    assert acked.url and acked.url.endswith(f"/incidents/{acked.id}")
    assert acked.number and acked.number.isdigit()
    assert acked.service == "Checkout API"
    assert acked.assignees and acked.assignees[0].name
    assert acked.entity_ref == "component:default/checkout-api"


async def test_history_lists_resolved_incidents_with_times(provider):
    history = await provider.list_incidents(checkout(), statuses=[IncidentStatus.RESOLVED])
    assert len(history) >= 8
    assert all(i.resolved_at and i.acknowledged_at for i in history)
    assert all(i.resolved_at > i.acknowledged_at >= i.created_at for i in history)


async def test_on_call_is_sorted_by_level_and_deduplicated(provider):
    entries = await provider.on_call(
        Entity(
            kind="Component",
            name="p",
            annotations={"pagerduty.com/service-id": PAYMENTS_SERVICE_ID},
        )
    )
    levels = [e.level for e in entries]
    assert levels == sorted(levels)
    names = [e.person.name for e in entries]
    assert len(names) == len(set(names)), "a person on two levels is listed once"
    assert all(e.person.email for e in entries)


async def test_trigger_needs_an_integration_key(provider, user):
    from greenroom import TriggerRequest

    entity = Entity(
        kind="Component", name="s", annotations={"pagerduty.com/service-id": CHECKOUT_SERVICE_ID}
    )
    with pytest.raises(MissingSettingError, match="Must provide an integration-key"):
        await provider.trigger(entity, TriggerRequest("x"), user)


async def test_acting_needs_an_email(provider):
    incidents = await provider.list_incidents(checkout())
    nameless = Identity(user_id="guest")
    with pytest.raises(MissingSettingError, match="email address"):
        await provider.acknowledge(checkout(), incidents[0].id, nameless)


async def test_cannot_act_on_another_services_incident(provider, user, simulator):
    other = next(
        i
        for i in simulator.state.incidents.values()
        if i.service_id == PAYMENTS_SERVICE_ID and i.status == "triggered"
    )
    with pytest.raises(NotFoundError):
        await provider.resolve(checkout(), other.id, user)
    assert other.status == "triggered"


async def test_coverage(provider):
    assert (await provider.check_coverage(checkout())).state == "covered"
    bare = await provider.check_coverage(Entity(kind="Component", name="bare"))
    assert bare.state == "not-covered"


@pytest.mark.parametrize("read", ["bulk_open_incidents", "bulk_on_call"])
async def test_an_entity_naming_an_unknown_account_costs_only_itself(provider, read):
    """The /incidents and /oncall pages read every entity at once: one entity whose
    ``pagerduty.com/account`` names no configured account fails alone, with the reason."""
    stray = Entity(
        kind="Component",
        name="stray",
        annotations={
            "pagerduty.com/service-id": PAYMENTS_SERVICE_ID,
            "pagerduty.com/account": "nowhere",
        },
    )
    answer = await getattr(provider, read)([checkout(), stray])
    assert set(answer.found) == {checkout().ref}
    assert answer.found[checkout().ref]  # checkout has open incidents and someone on call
    [(ref, error)] = answer.errors.items()
    assert ref == stray.ref and isinstance(error, MissingSettingError)
    assert 'names account "nowhere"' in str(error)

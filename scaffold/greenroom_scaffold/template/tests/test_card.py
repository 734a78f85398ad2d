"""The card with a fake API injected through `greenroom.testing`: data, empty and error states."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from greenroom import Entity, NotFoundError, RequestFailedError, UnauthorizedError
from greenroom.testing import api_holder, render_card, run_action

from __GR_MODULE__ import (
    SERVICE_ANNOTATION,
    __GR_CLASS__Settings,
    __GR_SNAKE___api_ref,
    __GR_SNAKE___card,
)
from __GR_MODULE__._mock_data import DEMO_SERVICE_ID, INCIDENTS, ON_CALL, SERVICES
from __GR_MODULE__._models import (
    IncidentPayload,
    NewIncidentPayload,
    OnCallPayload,
    ServicePayload,
    VendorStatus,
)

ENTITY = Entity(
    kind="Component", name="checkout", annotations={SERVICE_ANNOTATION: DEMO_SERVICE_ID}
)


class FakeApi:
    """`__GR_CLASS__Api` in memory; ``error`` makes every call fail with it."""

    def __init__(
        self,
        incidents: Sequence[dict[str, object]] = INCIDENTS,
        on_call: Sequence[dict[str, object]] = ON_CALL[DEMO_SERVICE_ID],
        error: Exception | None = None,
    ) -> None:
        self._incidents = [IncidentPayload.model_validate(i) for i in incidents]
        self._on_call = [OnCallPayload.model_validate(o) for o in on_call]
        self.error = error
        self.created: list[NewIncidentPayload] = []

    def _fail(self) -> None:
        if self.error is not None:
            raise self.error

    async def service(self, service_id: str) -> ServicePayload:
        self._fail()
        return ServicePayload.model_validate(SERVICES[service_id])

    async def incidents(
        self, service_id: str, statuses: Sequence[VendorStatus]
    ) -> list[IncidentPayload]:
        self._fail()
        return [i for i in self._incidents if i.status in statuses]

    async def on_call(self, service_id: str) -> list[OnCallPayload]:
        self._fail()
        return self._on_call

    async def create_incident(
        self, service_id: str, incident: NewIncidentPayload
    ) -> IncidentPayload:
        self._fail()
        self.created.append(incident)
        return self._incidents[0]

    async def acknowledge(
        self, service_id: str, incident_id: str, requester: str
    ) -> IncidentPayload:
        self._fail()
        return self._incidents[0]

    async def resolve(self, service_id: str, incident_id: str, requester: str) -> IncidentPayload:
        self._fail()
        return self._incidents[0]


async def _render(api: FakeApi, **kwargs: object) -> str:
    apis = api_holder((__GR_SNAKE___api_ref, api))
    return await render_card(__GR_SNAKE___card, ENTITY, apis=apis, **kwargs)


async def test_shows_open_incidents_and_who_is_on_call() -> None:
    html = await _render(FakeApi())

    assert "Checkout latency above 2 seconds" in html
    assert "Payment provider answering 502" in html
    assert "Disk usage on orders-db" not in html, "resolved incidents are not open"
    assert "Service: Checkout" in html
    assert html.index("Jane Doe</a>") < html.index("Sam Roe</a>"), "on call by level"
    assert "Trigger Incident" in html
    assert 'name="csrf_token" value="test-csrf-token"' in html


async def test_empty_states() -> None:
    html = await _render(FakeApi(incidents=[], on_call=[]))

    assert "Nice! No incidents found!" in html
    assert "Empty escalation policy" in html


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (UnauthorizedError("401"), "Missing or invalid __GR_TITLE__ token"),
        (NotFoundError("no such service"), "__GR_TITLE__ Service Not Found"),
        (
            RequestFailedError(500, ["boom"]),
            "Error encountered while fetching information. Request failed with 500, boom",
        ),
    ],
)
async def test_error_states(error: Exception, shown: str) -> None:
    html = await _render(FakeApi(error=error))

    assert shown in html
    assert "Nice! No incidents found!" not in html


async def test_vendor_text_is_escaped() -> None:
    hostile = [{**INCIDENTS[0], "title": "<script>alert(1)</script>"}]
    html = await _render(FakeApi(incidents=hostile))

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


async def test_read_only_hides_the_actions() -> None:
    html = await _render(FakeApi(), settings=__GR_CLASS__Settings(readOnly=True))

    assert "Trigger Incident" not in html
    assert "Acknowledge" not in html
    assert "Checkout latency above 2 seconds" in html


async def test_trigger_action_opens_an_incident_as_the_viewer() -> None:
    api = FakeApi()
    result = await run_action(
        __GR_SNAKE___card,
        "trigger",
        ENTITY,
        {"summary": "Checkout is down", "dedup_key": "form-1"},
        apis=api_holder((__GR_SNAKE___api_ref, api)),
    )

    assert result.ok
    assert result.message == "Alarm successfully triggered by Test User"
    (created,) = api.created
    assert created.title == "Checkout is down"
    assert created.dedup_key == "form-1"
    assert created.requester == "test.user@example.com"


async def test_trigger_without_a_description_is_refused() -> None:
    api = FakeApi()
    result = await run_action(
        __GR_SNAKE___card, "trigger", ENTITY, {"summary": "  "},
        apis=api_holder((__GR_SNAKE___api_ref, api)),
    )

    assert not result.ok
    assert "Please describe the problem" in result.message
    assert api.created == []

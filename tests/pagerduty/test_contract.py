"""The PagerDuty contract checks themselves: on when the vendor's API description is present, and
a visible skip (not a silent pass) when it is not."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import SPEC_DIR, Exchange

SIMULATOR = "http://127.0.0.1:1"


@pytest.fixture
def active_contract(contract: Any) -> Any:
    if contract is None:
        pytest.skip(
            f"PagerDuty contract checks are off: {SPEC_DIR} is absent "
            "(set GREENROOM_REFERENCE to the vendors' API descriptions; see the README)"
        )
    return contract


def _exchange(method: str, path: str, **headers: str) -> Exchange:
    base = {"Accept": "application/vnd.pagerduty+json;version=2"}
    return Exchange(method, httpx.URL(SIMULATOR + path), httpx.Headers({**base, **headers}), b"")


def test_contract_accepts_a_listed_operation(active_contract: Any) -> None:
    headers = {"Authorization": "Token token=x", "Content-Type": "application/json"}
    exchange = _exchange("GET", "/services?limit=25", **headers)
    assert active_contract.check(exchange, SIMULATOR) == []


def test_contract_refuses_an_operation_the_vendor_does_not_have(active_contract: Any) -> None:
    problems = active_contract.check(_exchange("GET", "/no-such-thing"), SIMULATOR)
    assert problems == ["GET /no-such-thing: no such operation in the spec"]

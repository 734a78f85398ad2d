"""Links from vendors: only absolute http(s) URLs survive, in provider records and templates."""

from __future__ import annotations

from datetime import UTC, datetime

import jinja2
import pytest

from greenroom import Incident, IncidentStatus, Person
from greenroom._render import configure
from greenroom._urls import http_url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "\tjava\nscript:alert(1)",
        "\x01javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "//evil.example/x",
        "/relative/path",
        "http:no-host",
        "",
        None,
        42,
    ],
)
def test_anything_but_an_absolute_web_url_is_dropped(url: object) -> None:
    assert http_url(url) is None


@pytest.mark.parametrize(
    "url", ["https://acme.pagerduty.com/incidents/Q1", "http://127.0.0.1:9000/ui/7?x=1#y"]
)
def test_web_urls_are_kept(url: str) -> None:
    assert http_url(url) == url


def test_provider_records_drop_script_links() -> None:
    person = Person("Ann", avatar_url="javascript:alert(1)", url="data:text/html,x")
    incident = Incident(
        "pagerduty", "Q1", "Disk full", IncidentStatus.TRIGGERED, datetime.now(UTC),
        "component:default/x", assignees=(person,), url="javascript:alert(1)",
    )
    assert incident.url is None
    assert person.avatar_url is None and person.url is None
    kept = Person("Bo", url="https://acme.example/users/1")
    assert kept.url == "https://acme.example/users/1"


def test_template_filter_renders_an_empty_link_for_a_script_url() -> None:
    env = configure(jinja2.Environment(autoescape=True))
    template = env.from_string('<a href="{{ link|http_url }}">x</a>')
    assert template.render(link="javascript:alert(1)") == '<a href="">x</a>'
    assert template.render(link="https://x.example/") == '<a href="https://x.example/">x</a>'

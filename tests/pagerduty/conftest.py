"""Fixtures for the PagerDuty plugin's tests.

- ``simulator``: the PagerDuty simulator served by uvicorn on a real loopback port.
- ``fetch``: a real ``greenroom.FetchApi`` whose proxy resolver sends ``<proxy>/pagerduty/...``
  to the simulator with the route's token, as the portal's proxy does. Every request it sends
  upstream is recorded and, when the test ends, checked against PagerDuty's official OpenAPI
  files plus ``spec_overlay.json``; so is every response the simulator gave. The OAuth token
  endpoint is not in PagerDuty's REST description: its requests and answers are checked against
  ``oauth_token_overlay.json``, a description of ours. A request with a Bearer token must need
  (``x-pd-requires-scope``) one of the scopes the plugin asks for.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import uvicorn
from openapi_schema_validator import (
    OAS30ReadValidator,
    OAS30Validator,
    OAS30WriteValidator,
    oas30_format_checker,
)

from greenroom import FetchApi, Identity
from greenroom._fetch import default_transport
from greenroom_pagerduty import SCOPES, PagerDutyClient, PagerDutyProvider
from greenroom_pagerduty.simulator import SimulatorControl, create_app

TOKEN = "test-pagerduty-token"
PORTAL = "http://portal.test"
PROXY_BASE = f"{PORTAL}/api/proxy"
# The vendors' official API descriptions: GREENROOM_REFERENCE, else ../shared/reference.
REFERENCE = Path(
    os.environ.get("GREENROOM_REFERENCE")
    or Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
)
SPEC_DIR = REFERENCE / "pagerduty"
OVERLAY = Path(__file__).with_name("spec_overlay.json")
OAUTH_OVERLAY = Path(__file__).with_name("oauth_token_overlay.json")


# -- live simulator ----------------------------------------------------------------------


@dataclass
class LiveSimulator:
    url: str
    app: Any

    @property
    def control(self) -> SimulatorControl:
        return self.app.state.control  # type: ignore[no-any-return]

    @property
    def state(self) -> Any:
        return self.app.state.pagerduty


def serve(app: Any) -> Iterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the simulator's server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def simulator() -> Iterator[LiveSimulator]:
    app = create_app(token=TOKEN)
    for url in serve(app):
        yield LiveSimulator(url, app)


# -- the portal side: proxy route, recording, config ---------------------------------------


class RouteProxy:
    """The portal proxy's in-process resolution: ``<proxy>/<route>/...`` -> target + headers."""

    def __init__(self, routes: Mapping[str, tuple[str, Mapping[str, str]]]) -> None:
        self.routes = dict(routes)

    def resolve(self, url: httpx.URL) -> tuple[httpx.URL, Mapping[str, str]] | None:
        text = str(url)
        for route, (target, headers) in self.routes.items():
            prefix = f"{PROXY_BASE}/{route.strip('/')}"
            if text == prefix or text.startswith(prefix + "/") or text.startswith(prefix + "?"):
                return httpx.URL(target.rstrip("/") + text[len(prefix) :]), headers
        return None


@dataclass
class Exchange:
    method: str
    url: httpx.URL
    headers: httpx.Headers
    body: bytes
    status: int | None = None
    response_body: bytes = b""


@dataclass
class RecordingTransport(httpx.AsyncBaseTransport):
    inner: httpx.AsyncBaseTransport
    exchanges: list[Exchange] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        exchange = Exchange(request.method, request.url, request.headers, body)
        self.exchanges.append(exchange)
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        exchange.status, exchange.response_body = response.status_code, content
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


class DictConfig:
    """``core.config``'s ``get("a.b.c", default)`` over a plain dict."""

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self.data = dict(data or {})

    def get(self, key_path: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in key_path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node


@pytest.fixture
def recorder() -> RecordingTransport:
    return RecordingTransport(default_transport())


@pytest.fixture
async def fetch(simulator: LiveSimulator, recorder: RecordingTransport, contract: Any) -> Any:
    proxy = RouteProxy({"/pagerduty": (simulator.url, {"Authorization": f"Token token={TOKEN}"})})
    api = FetchApi(transport=recorder, proxy=proxy)
    yield api
    await api.aclose()
    if contract is not None:
        problems = [p for e in recorder.exchanges for p in contract.check(e, simulator.url)]
        assert not problems, "requests or responses outside PagerDuty's API:\n" + "\n".join(
            problems
        )


def _make_client(
    fetch: FetchApi, simulator: LiveSimulator, config: Mapping[str, Any] | None = None, **kw: Any
) -> PagerDutyClient:
    data = {"pagerDuty": {"eventsBaseUrl": f"{simulator.url}/v2"}} if config is None else config
    return PagerDutyClient(
        fetch=fetch,
        proxy_base_url=PROXY_BASE,
        config=DictConfig(data),
        app_base_url=PORTAL,
        **kw,
    )


@pytest.fixture
def make_client(fetch: FetchApi, simulator: LiveSimulator) -> Any:
    """``make_client(config=None, **client options)``: a client on the live simulator."""

    def make(config: Mapping[str, Any] | None = None, **kw: Any) -> PagerDutyClient:
        return _make_client(fetch, simulator, config, **kw)

    return make


@pytest.fixture
def client(fetch: FetchApi, simulator: LiveSimulator) -> PagerDutyClient:
    return _make_client(fetch, simulator)


@pytest.fixture
def provider(client: PagerDutyClient) -> PagerDutyProvider:
    return PagerDutyProvider(client)


@pytest.fixture
def user() -> Identity:
    """A portal user PagerDuty knows by email."""
    return Identity(
        user_id="ada",
        email="ada.lovelace@example.com",
        display_name="Ada Lovelace",
        authenticated=True,
    )


# -- contract ------------------------------------------------------------------------------


class PagerDutyContract:
    """Checks exchanges against the official OpenAPI files with the overlay applied."""

    def __init__(
        self,
        rest: dict[str, Any],
        events: dict[str, Any],
        overlay: dict[str, Any],
        identity: dict[str, Any],
    ):
        self.rest = _apply_overlay(rest, overlay)
        self.events = events
        self.identity = identity
        self.ignored_query = {
            op: set(entry["names"]) for op, entry in overlay.get("ignored_query", {}).items()
        }

    def check(self, exchange: Exchange, simulator_url: str) -> list[str]:
        url = str(exchange.url)
        if not url.startswith(simulator_url):
            return [f"{exchange.method} {url}: sent somewhere other than PagerDuty"]
        path = urlsplit(url).path
        if path.startswith("/v2/"):
            doc, path = self.events, path[len("/v2") :]
        elif path == "/oauth/token":
            doc = self.identity
        else:
            doc = self.rest
        where = f"{exchange.method} {path}"
        template, operation, path_params = _find_operation(doc, exchange.method, path)
        if operation is None:
            return [f"{where}: no such operation in the spec"]
        op_name = f"{exchange.method} {template}"
        problems: list[str] = []
        scope = operation.get("x-pd-requires-scope")
        if exchange.headers.get("authorization", "").startswith("Bearer ") and scope:
            if scope not in SCOPES:
                problems.append(f"{where}: needs OAuth scope {scope}, which the plugin lacks")
        query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
        declared: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in operation.get("parameters", []) + doc["paths"][template].get("parameters", []):
            param = _deref(doc, raw)
            declared[
                (param["in"], param["name"].lower() if param["in"] == "header" else param["name"])
            ] = param
        for (location, name), param in declared.items():
            schema = param.get("schema", {})
            if location == "header":
                value = exchange.headers.get(name)
                if value is None:
                    if param.get("required"):
                        problems.append(f"{where}: missing required header {param['name']}")
                    continue
                problems += _validate(doc, schema, value, f"{where} header {param['name']}")
            elif location == "query":
                values = [v for k, v in query if k == name]
                if not values:
                    if param.get("required"):
                        problems.append(f"{where}: missing required query parameter {name}")
                    continue
                if schema.get("type") == "array":
                    items = [_coerce(schema.get("items", {}), v) for v in values]
                    problems += _validate(doc, schema, items, f"{where} query {name}")
                elif len(values) > 1:
                    problems.append(f"{where}: {name} repeated but is not an array")
                else:
                    problems += _validate(
                        doc, schema, _coerce(schema, values[0]), f"{where} query {name}"
                    )
            elif location == "path":
                problems += _validate(
                    doc, schema, path_params.get(name, ""), f"{where} path {name}"
                )
        known = {name for (location, name) in declared if location == "query"}
        known |= self.ignored_query.get(op_name, set())
        for name, _ in query:
            if name not in known:
                problems.append(f"{where}: query parameter {name} is not in the spec")
        body_spec = operation.get("requestBody")
        if body_spec:
            body_content = body_spec["content"]
            form = "application/x-www-form-urlencoded"
            if form in body_content:
                schema = body_content[form]["schema"]
                if not exchange.headers.get("content-type", "").startswith(form):
                    problems.append(f"{where}: body is not sent as {form}")
                fields = dict(parse_qsl(exchange.body.decode("utf-8", "replace")))
                problems += _validate(doc, schema, fields, f"{where} body", OAS30WriteValidator)
            else:
                schema = body_content["application/json"]["schema"]
                try:
                    body = json.loads(exchange.body)
                except ValueError:
                    problems.append(f"{where}: body is not JSON")
                else:
                    problems += _validate(
                        doc, schema, body, f"{where} body", OAS30WriteValidator
                    )
        elif exchange.body:
            problems.append(f"{where}: sends a body the operation does not take")
        if exchange.status is not None:
            response = operation.get("responses", {}).get(str(exchange.status))
            if response is None:
                # Only successes must be documented: PagerDuty answers 429 and 5xx on any
                # endpoint, and the spec lists them on few.
                if exchange.status < 300:
                    problems.append(f"{where}: answered {exchange.status}, not in the spec")
            else:
                response = _deref(doc, response)
                content = (response.get("content") or {}).get("application/json")
                if content and exchange.response_body:
                    try:
                        payload = json.loads(exchange.response_body)
                    except ValueError:
                        payload = None
                    if payload is not None:
                        problems += _validate(
                            doc,
                            _deref(doc, content["schema"]),
                            payload,
                            f"{where} response {exchange.status}",
                            OAS30ReadValidator,
                        )
        return problems


def _apply_overlay(spec: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    patched = copy.deepcopy(spec)
    for patch in overlay["patches"]:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in patch["pointer"].split("/")[1:]]
        parent: Any = patched
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        if patch.get("delete"):
            parent.pop(last, None)
        elif patch.get("array_of_existing"):
            item = {k: v for k, v in parent[last].items() if k != "uniqueItems"}
            parent[last] = {"type": "array", "items": item, "uniqueItems": True}
        else:
            parent[last] = patch["value"]
    return patched


def _deref(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while isinstance(node, dict) and "$ref" in node and len(node) == 1:
        target: Any = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _find_operation(
    doc: dict[str, Any], method: str, path: str
) -> tuple[str, dict[str, Any] | None, dict[str, str]]:
    segments = path.strip("/").split("/")
    for template, item in doc["paths"].items():
        parts = template.strip("/").split("/")
        if len(parts) != len(segments):
            continue
        params: dict[str, str] = {}
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{") and part.endswith("}"):
                params[part[1:-1]] = segment
            elif part != segment:
                break
        else:
            operation = item.get(method.lower())
            if operation is not None:
                return template, operation, params
    return path, None, {}


def _coerce(schema: dict[str, Any], value: str) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            return value
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    return value


def _validate(
    doc: dict[str, Any], schema: dict[str, Any], value: Any, where: str, cls: Any = None
) -> list[str]:
    cls = cls or OAS30Validator
    root = {**schema, "components": doc.get("components", {})}
    validator = cls(root, format_checker=oas30_format_checker)
    return [
        f"{where}: {'/'.join(str(p) for p in error.absolute_path) or '(value)'}: "
        f"{error.message[:200]}"
        for error in validator.iter_errors(value)
    ]


@pytest.fixture(scope="session")
def contract() -> PagerDutyContract | None:
    rest, events = SPEC_DIR / "REST-openapiv3.json", SPEC_DIR / "events-v2-openapiv3.json"
    if not rest.exists() or not events.exists():
        return None
    return PagerDutyContract(
        json.loads(rest.read_text()),
        json.loads(events.read_text()),
        json.loads(OVERLAY.read_text()),
        json.loads(OAUTH_OVERLAY.read_text()),
    )

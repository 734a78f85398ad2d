"""The plugin: its APIs, card, provider and simulator, bundled by `create_plugin`."""

from __future__ import annotations

from greenroom import (
    Simulator,
    create_api_factory,
    create_plugin,
    discovery_api_ref,
    fetch_api_ref,
)

from ._card import __GR_SNAKE___card
from ._client import (
    PLUGIN_ID,
    PROXY_ROUTE,
    TITLE,
    __GR_CLASS__Client,
    __GR_SNAKE___api_ref,
)
from ._mock_data import DEMO_CATALOG
from ._provider import __GR_CLASS__Provider, __GR_SNAKE___provider_ref
from ._settings import __GR_CLASS__Settings
from ._simulator import SIMULATOR_TOKEN, TOKEN_HEADER, create_simulator_app

DESCRIPTION = (
    __GR_DESCRIPTION_STR__
)

client_factory = create_api_factory(
    api=__GR_SNAKE___api_ref,
    deps={"fetch": fetch_api_ref, "discovery": discovery_api_ref},
    factory=lambda fetch, discovery: __GR_CLASS__Client(
        fetch=fetch, base_url=discovery.get_base_url("proxy") + PROXY_ROUTE
    ),
)

provider_factory = create_api_factory(
    api=__GR_SNAKE___provider_ref,
    deps={"api": __GR_SNAKE___api_ref},
    factory=lambda api: __GR_CLASS__Provider(api),
)

simulator = Simulator(
    plugin_id=PLUGIN_ID,
    app=create_simulator_app,
    proxy_route=PROXY_ROUTE,
    proxy_headers={TOKEN_HEADER: SIMULATOR_TOKEN},
    catalog=DEMO_CATALOG,
)

plugin = create_plugin(
    id=PLUGIN_ID,
    title=TITLE,
    description=DESCRIPTION,
    apis=[client_factory, provider_factory],
    cards=[__GR_SNAKE___card],
    providers=[__GR_SNAKE___provider_ref],
    simulators=[simulator],
    settings_model=__GR_CLASS__Settings,
    templates="__GR_MODULE__",
)

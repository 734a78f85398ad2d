"""`plugins.splunk-on-call` in app-config.yaml. Connection settings live under `splunkOnCall`
(`username`, `eventsRestEndpoint`, `portalUrl`), where Backstage operators already keep them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SplunkOnCallSettings(BaseModel):
    """Card options. Unknown keys are refused so that a typo does not silently do nothing."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    read_only: bool = Field(
        False, alias="readOnly", description="Hide Create Incident, Acknowledge and Resolve."
    )

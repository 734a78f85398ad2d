"""`plugins.<id>` in app-config.yaml, validated by the portal at start-up."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class __GR_CLASS__Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    #: Show incidents and on-call only; no trigger, acknowledge or resolve.
    read_only: bool = Field(default=False, alias="readOnly")

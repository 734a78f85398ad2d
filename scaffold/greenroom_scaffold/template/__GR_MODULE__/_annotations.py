"""Which catalog entities this plugin covers: those annotated with a service id."""

from __future__ import annotations

from greenroom import Entity

#: Put this in an entity's `metadata.annotations` with the vendor's service id as the value.
SERVICE_ANNOTATION = "__GR_ID__.example.com/service"


def is___GR_SNAKE___available(entity: Entity) -> bool:
    """True when the entity names a __GR_TITLE__ service."""
    return bool(entity.annotations.get(SERVICE_ANNOTATION, "").strip())


def service_id_of(entity: Entity) -> str | None:
    value = entity.annotations.get(SERVICE_ANNOTATION, "").strip()
    return value or None

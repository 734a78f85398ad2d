"""Service mapping: a provider's services (or teams) tied to catalog entities in the portal,
without editing every ``catalog-info.yaml``.

A saved mapping is one annotation (``pagerduty.com/service-id: P123``) the portal adds to the
entity in memory, so every card, view and check uses it exactly as if it were written in the
catalog file. An annotation the catalog file has always wins over a mapping; nothing is ever
removed from the catalog, and the files on disk are never written (PagerDuty's own mapping page
made catalog entries disappear; here a mapping can only add).

Mappings live in the portal's database (``greenroom._mapping_sql``, imported only when a
database is opened); the demo and tests keep them in memory.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol, runtime_checkable

from ._entity import Entity


@dataclass(frozen=True)
class MappableService:
    """A service or team a provider lists for mapping: setting ``annotation: value`` on an
    entity makes the provider cover it. ``integration_keys`` let the page suggest entities
    whose annotations already name one of them. ``extra`` are more annotations the mapping
    sets beside ``annotation`` (the account of a provider with several, say); ``group`` is the
    heading it is listed under (the account's name). ``id`` is unique among a provider's
    services and is what the page's form sends."""

    id: str
    name: str
    annotation: str
    value: str
    integration_keys: tuple[str, ...] = ()
    url: str | None = None
    extra: tuple[tuple[str, str], ...] = ()
    group: str = ""

    @property
    def annotations(self) -> dict[str, str]:
        """Every annotation a mapping to this service adds."""
        return {self.annotation: self.value, **dict(self.extra)}


@runtime_checkable
class ServiceDirectoryProvider(Protocol):
    """A provider whose services (or teams) can be mapped to entities on ``/mapping/<id>``."""

    async def mappable_services(self) -> Sequence[MappableService]:
        """Every service (or team) of the account, by name."""
        ...


@dataclass(frozen=True)
class ServiceMapping:
    provider: str
    entity_ref: str
    annotation: str
    value: str
    updated_by: str
    updated_at: datetime
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def annotations(self) -> dict[str, str]:
        return {self.annotation: self.value, **dict(self.extra)}


class MappingStore(Protocol):
    def all(self) -> list[ServiceMapping]: ...

    def save(self, mapping: ServiceMapping) -> None: ...

    def delete(self, provider: str, entity_ref: str) -> None: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


class MemoryMappingStore:
    """Mappings in this process only (the demo, tests)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], ServiceMapping] = {}
        self._lock = threading.Lock()

    def all(self) -> list[ServiceMapping]:
        with self._lock:
            return sorted(self._rows.values(), key=lambda m: (m.provider, m.entity_ref))

    def save(self, mapping: ServiceMapping) -> None:
        with self._lock:
            self._rows[(mapping.provider, mapping.entity_ref)] = mapping

    def delete(self, provider: str, entity_ref: str) -> None:
        with self._lock:
            self._rows.pop((provider, entity_ref), None)

    def ping(self) -> None:
        pass

    def close(self) -> None:
        pass


# --- applying mappings to the catalog -------------------------------------------------------------


def mapped_entity(entity: Entity, mappings: Iterable[ServiceMapping]) -> Entity:
    """``entity`` with the mapped annotations added; the catalog's own annotations win. A
    mapping whose main annotation the catalog already sets adds nothing (not even its account),
    nor does one the catalog contradicts (another account named in the file)."""
    extra: dict[str, str] = {}
    for mapping in mappings:
        if mapping.entity_ref != entity.ref or str(
            entity.annotations.get(mapping.annotation) or ""
        ).strip():
            continue
        wanted = mapping.annotations
        if any(
            str(entity.annotations.get(k) or "").strip() not in ("", v) for k, v in wanted.items()
        ):
            continue
        extra.update({k: v for k, v in wanted.items() if k not in entity.annotations})
    if not extra:
        return entity
    return replace(entity, annotations={**entity.annotations, **extra})


def annotation_wins(entity: Entity, annotations: Iterable[str]) -> str | None:
    """The catalog annotation (of ``annotations``) the entity already has, if any."""
    for key in annotations:
        if str(entity.annotations.get(key) or "").strip():
            return key
    return None


# --- suggestions ----------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
_NOISE = {"service", "services", "api", "the", "svc", "app"}


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _NOISE}


def suggest(
    entity: Entity, services: Sequence[MappableService]
) -> tuple[MappableService, str] | None:
    """The likeliest service for ``entity`` and why: an integration key one of its annotations
    already names, else the most shared words between names (entity name or title)."""
    values = {str(v).strip() for v in entity.annotations.values()}
    for service in services:
        if values.intersection(service.integration_keys):
            return service, "integration key in its annotations"
    mine = _words(entity.name) | _words(entity.title or "")
    best: tuple[float, MappableService] | None = None
    for service in services:
        theirs = _words(service.name)
        if not mine or not theirs:
            continue
        score = len(mine & theirs) / len(mine | theirs)
        if score > 0 and (best is None or score > best[0]):
            best = (score, service)
    if best is None or best[0] < 0.34:
        return None
    return best[1], "similar name"


def snippet(entity: Entity, annotations: dict[str, str]) -> str:
    """The ``catalog-info.yaml`` lines that would make a mapping part of the catalog."""
    lines = [
        f"# {entity.ref}" + (f"  ({entity.source})" if entity.source else ""),
        "metadata:",
        f"  name: {entity.name}",
        "  annotations:",
    ]
    lines += [f"    {key}: {_yaml_scalar(value)}" for key, value in sorted(annotations.items())]
    return "\n".join(lines)


def _yaml_scalar(value: str) -> str:
    return (
        value
        if re.fullmatch(r"[A-Za-z0-9._/-]+", value)
        else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    )

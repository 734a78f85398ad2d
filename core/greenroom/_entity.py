"""The catalog entity as plugins see it: an immutable record read from `catalog-info.yaml`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

#: The entity page's route; :attr:`Entity.path` fills it in and the web host serves it.
ENTITY_PAGE = "/catalog/{namespace}/{kind}/{name}"


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Entity:
    """A catalog entity (Component, API, System, ...) with its metadata and spec."""

    kind: str
    name: str
    namespace: str = "default"
    api_version: str = "backstage.io/v1alpha1"
    title: str | None = None
    description: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    spec: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None
    source_line: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "annotations", _frozen(self.annotations))
        object.__setattr__(self, "labels", _frozen(self.labels))
        object.__setattr__(self, "spec", _frozen(self.spec))
        object.__setattr__(self, "tags", tuple(self.tags))

    @property
    def owner(self) -> str | None:
        owner = self.spec.get("owner")
        return str(owner) if owner is not None else None

    @property
    def type(self) -> str | None:
        value = self.spec.get("type")
        return str(value) if value is not None else None

    @property
    def lifecycle(self) -> str | None:
        value = self.spec.get("lifecycle")
        return str(value) if value is not None else None

    @property
    def ref(self) -> str:
        """Backstage's entity reference, `kind:namespace/name`, lower-cased kind."""
        return f"{self.kind.lower()}:{self.namespace}/{self.name}"

    @property
    def path(self) -> str:
        """The entity page's path in the portal."""
        return ENTITY_PAGE.format(namespace=self.namespace, kind=self.kind.lower(), name=self.name)

    @property
    def display_name(self) -> str:
        return self.title or self.name


def owner_label(owner: str) -> str:
    """The owner as people say it. Owners are entity refs (Backstage's
    ``catalog-model/src/entity/ref.ts``): ``group:default/team-a``, ``group:team-a`` and
    ``team-a`` name the same group, shown as ``team-a``."""
    ref = owner.strip()
    ref = ref.split(":", 1)[1] if ":" in ref else ref
    return ref[len("default/") :] if ref.lower().startswith("default/") else ref


def owner_key(owner: str) -> str:
    """What two owner references compare by: ``owner_label`` lower-cased."""
    return owner_label(owner).lower()


def parse_ref(ref: str) -> tuple[str, str, str] | None:
    """``kind:namespace/name`` as ``(kind, namespace, name)``, or None when a part is missing."""
    kind, _, rest = ref.strip().partition(":")
    namespace, _, name = rest.partition("/")
    return (kind, namespace, name) if kind and namespace and name else None

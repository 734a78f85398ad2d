"""The on-call coverage policy, as configured: ``coverage.rules[]`` selects entities by kind,
``spec.type``, ``spec.lifecycle``, owner and annotations. No rule means nothing is checked and
nothing is reminded. ``greenroom._coverage`` evaluates it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ._config import validate_section
from ._entity import Entity, owner_key


class CoverageRule(BaseModel):
    """One rule. Every selector given must match (any of its values); none given selects all."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    kinds: list[str] = Field(default_factory=list)
    types: list[str] = Field(default_factory=list)
    lifecycles: list[str] = Field(default_factory=list)
    owners: list[str] = Field(default_factory=list)
    #: ``key`` (present, non-empty) or ``key=value``.
    annotations: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _flatten_selectors(cls, data: Any) -> Any:
        # Selectors may also be grouped under `selectors:`; both spellings mean the same.
        if isinstance(data, Mapping) and isinstance(data.get("selectors"), Mapping):
            flat = {k: v for k, v in data.items() if k != "selectors"}
            for key, value in data["selectors"].items():
                if key in flat:
                    raise ValueError(f"selector '{key}' given both in the rule and in selectors")
                flat[key] = value
            return flat
        return data

    @field_validator("annotations")
    @classmethod
    def _annotation_selectors(cls, values: list[str]) -> list[str]:
        for value in values:
            key = value.split("=", 1)[0].strip()
            if not key:
                raise ValueError(
                    f"annotation selector {value!r} has no key; write 'key' or 'key=value'"
                )
        return values

    def selects(self, entity: Entity) -> bool:
        def one_of(value: str | None, wanted: Sequence[str]) -> bool:
            return not wanted or (
                value is not None and value.lower() in {w.lower() for w in wanted}
            )

        if not one_of(entity.kind, self.kinds):
            return False
        if not one_of(entity.type, self.types):
            return False
        if not one_of(entity.lifecycle, self.lifecycles):
            return False
        if self.owners and owner_key(entity.owner or "") not in {
            owner_key(o) for o in self.owners
        }:
            return False
        return all(_has_annotation(entity, selector) for selector in self.annotations)

    def describe(self) -> str:
        """The selectors in words, e.g. ``kind Component or API, lifecycle production``."""
        parts = []
        for label, values in (
            ("kind", self.kinds),
            ("type", self.types),
            ("lifecycle", self.lifecycles),
            ("owner", self.owners),
            ("annotation", self.annotations),
        ):
            if values:
                parts.append(f"{label} {' or '.join(values)}")
        return ", ".join(parts) or "every entity"


class CoveragePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[CoverageRule] = Field(default_factory=list)

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[CoverageRule]) -> list[CoverageRule]:
        seen: set[str] = set()
        for rule in rules:
            if rule.name in seen:
                raise ValueError(f"two rules are named {rule.name!r}; give each rule its own name")
            seen.add(rule.name)
        return rules

    def rules_for(self, entity: Entity) -> list[CoverageRule]:
        return [rule for rule in self.rules if rule.selects(entity)]


def load_policy(config: Any) -> CoveragePolicy:
    """The ``coverage`` section, validated; ``ConfigError`` names the file, key path and line."""
    return validate_section(config, "coverage", CoveragePolicy)


def _has_annotation(entity: Entity, selector: str) -> bool:
    key, eq, value = selector.partition("=")
    present = entity.annotations.get(key.strip())
    if not eq:
        return bool(str(present or "").strip())
    return present is not None and str(present).strip() == value.strip()

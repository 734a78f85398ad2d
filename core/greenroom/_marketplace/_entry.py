"""The entry model: one ``marketplace/*.yaml`` file, validated (its fields, categories and
identity).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

ENTRY_POINT_GROUP = "greenroom"
DEFAULT_DIRECTORY = "marketplace"
SHIPPED_ENTRY_FILE = "marketplace.yaml"

#: Categories of Backstage's plugin directory (`microsite/data/plugins/*.yaml`).
CATEGORIES: tuple[str, ...] = (
    "Core Feature",
    "Monitoring",
    "CI/CD",
    "Security",
    "Discovery",
    "Metrics",
    "Search",
    "Services",
)
CORE_CATEGORY = "Core Feature"
DESCRIPTION_MAX = 170
DESCRIPTION_SHOWN = 160
NEW_FOR_DAYS = 100
ICON_SUFFIXES = (".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp")

EntryStatus = Literal["active", "inactive", "archived"]
PluginStatus = Literal["enabled", "disabled", "failed", "not-loaded"]

_DIST_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_ENTRY_POINT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def normalize_distribution(name: str) -> str:
    """PEP 503 normalisation, so ``Greenroom_PagerDuty`` and ``greenroom-pagerduty`` match."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
        raise ValueError(f"must be an http(s) URL such as 'https://example.com/', got {value!r}")
    return value


class MarketplaceEntry(BaseModel):
    """One plugin directory entry, as written in ``marketplace/<name>.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    title: str = Field(min_length=1)
    author: str = Field(min_length=1)
    packageName: str
    entryPoint: str | None = None
    authorUrl: str | None = None
    category: str | None = None
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    documentation: str | None = None
    iconUrl: str | None = None
    tags: list[str] = Field(default_factory=list)
    addedDate: date | None = None
    order: int | None = None
    status: EntryStatus = "active"

    @field_validator("packageName")
    @classmethod
    def _distribution_name(cls, value: str) -> str:
        if not _DIST_NAME.match(value):
            raise ValueError(
                f"must be a Python distribution name (what you would 'pip install'), got {value!r}"
            )
        return value

    @field_validator("entryPoint")
    @classmethod
    def _entry_point_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENTRY_POINT_NAME.match(value):
            raise ValueError(
                f"must be the plugin's name in the '{ENTRY_POINT_GROUP}' entry-point group, "
                f"got {value!r}"
            )
        return value

    @field_validator("authorUrl", "documentation")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)

    @field_validator("iconUrl")
    @classmethod
    def _icon(cls, value: str | None) -> str | None:
        if value is None or urlsplit(value).scheme in ("http", "https"):
            return _check_url(value) if value is not None else None
        path = PurePosixPath(value)
        if path.is_absolute() or ".." in path.parts or ":" in value:
            raise ValueError(
                "must be an http(s) URL or a path relative to the entry's file "
                f"(no '..', not absolute), got {value!r}"
            )
        if path.suffix.lower() not in ICON_SUFFIXES:
            raise ValueError(
                f"must name an image ({', '.join(ICON_SUFFIXES)}), got {value!r}"
            )
        return value

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str | None) -> str | None:
        if value is not None and value not in CATEGORIES:
            raise ValueError(f"unknown category {value!r}; use one of: {', '.join(CATEGORIES)}")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        tags = [tag.strip() for tag in value]
        if any(not tag for tag in tags):
            raise ValueError("tags must be non-empty strings")
        return tags

    @field_validator("addedDate", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> object:
        # YAML reads an unquoted 2024-05-01 as a date already; anything else must be the
        # 'YYYY-MM-DD' text (pydantic alone would also take timestamps and datetimes).
        if isinstance(value, date) and not hasattr(value, "hour"):
            return value
        if isinstance(value, str) and _ISO_DATE.match(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise ValueError(f"must be a date written 'YYYY-MM-DD', got {value!r}")

    @property
    def identity(self) -> tuple[str, str | None]:
        return (normalize_distribution(self.packageName), self.entryPoint)

    @property
    def key(self) -> str:
        return f"{normalize_distribution(self.packageName)}:{self.entryPoint or ''}"

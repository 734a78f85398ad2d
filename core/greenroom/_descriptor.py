"""One Backstage descriptor document (a YAML document of ``catalog-info.yaml``): checked by
Backstage's rules for names, namespaces, kinds, apiVersions and annotation keys
(``@backstage/catalog-model``'s ``KubernetesValidatorFunctions``) and made an :class:`Entity`, or
the reasons it cannot be, each at its key path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from ._entity import Entity

_NAME = re.compile(r"^[a-zA-Z0-9]+(?:[-_.][a-zA-Z0-9]+)*$")
_NAMESPACE = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")
_KIND = re.compile(r"^[a-zA-Z][a-zA-Z0-9]*$")
_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"^{_DNS_LABEL}(?:\.{_DNS_LABEL})*$")
_API_VERSION_NAME = re.compile(r"^[a-zA-Z0-9]+$")

#: Kinds whose ``spec.owner`` Backstage requires.
OWNED_KINDS = frozenset({"component", "api", "system", "resource"})

_NAME_RULE = (
    "expected 1 to 63 characters of [a-zA-Z0-9] in groups separated by single '-', '_' or '.'"
)


def _invalid(field_name: str, value: str, rule: str) -> PydanticCustomError:
    message = f"{field_name} {value!r} is not valid; {rule}"
    return PydanticCustomError("catalog_invalid", message)  # no context: used verbatim


def _check_name(value: str) -> str:
    if not (len(value) <= 63 and _NAME.match(value)):
        raise _invalid("metadata.name", value, _NAME_RULE)
    return value


def _check_namespace(value: str) -> str:
    if not (len(value) <= 63 and _NAMESPACE.match(value)):
        raise _invalid(
            "metadata.namespace",
            value,
            "expected 1 to 63 lower-case characters of [a-z0-9] in groups separated by "
            "single '-', '_' or '.'",
        )
    return value


def _check_kind(value: str) -> str:
    if not (len(value) <= 63 and _KIND.match(value)):
        raise _invalid("kind", value, "expected a letter followed by letters and digits, e.g. "
                       "'Component'")
    return value


def _check_api_version(value: str) -> str:
    prefix, slash, name = value.rpartition("/")
    valid = (
        bool(slash)
        and len(prefix) <= 253
        and _DNS_SUBDOMAIN.match(prefix) is not None
        and len(name) <= 63
        and _API_VERSION_NAME.match(name) is not None
    )
    if not valid:
        raise _invalid("apiVersion", value, "expected '<group>/<version>', e.g. "
                       "'backstage.io/v1alpha1'")
    return value


def _check_annotation_key(value: str) -> str:
    # Backstage: an optional DNS-subdomain prefix and a name, separated by a single '/'.
    prefix, slash, name = value.rpartition("/")
    valid = len(name) <= 63 and _NAME.match(name) is not None and (
        not slash or (len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix) is not None)
    )
    if not valid:
        raise _invalid(
            "metadata.annotations key",
            value,
            "expected '<dns-prefix>/<name>' such as 'pagerduty.com/service-id', where the name "
            "follows the metadata.name rules",
        )
    return value


class _Metadata(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    name: Annotated[str, AfterValidator(_check_name)]
    namespace: Annotated[str, AfterValidator(_check_namespace)] = "default"
    title: str | None = None
    description: str | None = None
    annotations: dict[Annotated[str, AfterValidator(_check_annotation_key)], str] = Field(
        default_factory=dict
    )
    labels: dict[str, str] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)


class _Descriptor(BaseModel):
    """One YAML document of a descriptor file, as Backstage's catalog model defines it."""

    model_config = ConfigDict(extra="allow", strict=True)

    apiVersion: Annotated[str, AfterValidator(_check_api_version)]  # noqa: N815 (YAML key)
    kind: Annotated[str, AfterValidator(_check_kind)]
    metadata: _Metadata
    spec: dict[str, Any] = Field(default_factory=dict)


def entity_from_document(
    data: Any, source: str, line: int | None
) -> tuple[Entity | None, list[tuple[tuple[Any, ...], str]]]:
    """The entity ``data`` describes, or None and every reason it does not (key path, words)."""
    if not isinstance(data, Mapping):
        return None, [((), f"a catalog document must be a mapping with apiVersion, kind, "
                       f"metadata and spec, got {type_name(data)}")]
    try:
        descriptor = _Descriptor.model_validate(data)
    except ValidationError as exc:
        return None, [_describe_error(error) for error in exc.errors()]
    if descriptor.kind.lower() in OWNED_KINDS:
        owner = descriptor.spec.get("owner")
        if not isinstance(owner, str) or not owner.strip():
            got = "missing" if owner is None else f"a {type_name(owner)}"
            return None, [(("spec", "owner") if "owner" in descriptor.spec else ("spec",),
                           f"spec.owner is required for kind {descriptor.kind} and must be a "
                           f"string such as 'team-payments' (got {got})")]
    metadata = descriptor.metadata
    return (
        Entity(
            kind=descriptor.kind,
            name=metadata.name,
            namespace=metadata.namespace,
            api_version=descriptor.apiVersion,
            title=metadata.title,
            description=metadata.description,
            annotations=metadata.annotations,
            labels=metadata.labels,
            tags=tuple(metadata.tags),
            spec=descriptor.spec,
            source=source,
            source_line=line,
        ),
        [],
    )


def _describe_error(error: Mapping[str, Any]) -> tuple[tuple[Any, ...], str]:
    loc = tuple(error["loc"])
    if loc and loc[-1] == "[key]":  # a dict key failed: point at the key itself
        loc = loc[:-1]
        return loc, str(error["msg"])
    where = _key_path(loc)
    kind = error["type"]
    if kind == "missing":
        return loc, f"{where} is required"
    if kind == "catalog_invalid":
        return loc, str(error["msg"])
    if kind.endswith("_type"):
        expected = kind.removesuffix("_type").replace("dict", "mapping").replace("list", "list")
        return loc, f"{where} must be a {expected}, got {type_name(error.get('input'))}"
    return loc, f"{where}: {error['msg']}"


def _key_path(loc: tuple[Any, ...]) -> str:
    """``metadata.annotations["pagerduty.com/service-id"]``, ``metadata.tags[2]``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(part)):
            text += f".{part}" if text else str(part)
        else:
            text += f"[{str(part)!r}]"
    return text or "document"


def type_name(value: Any) -> str:
    """What ``value`` is, in YAML's words, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return type(value).__name__

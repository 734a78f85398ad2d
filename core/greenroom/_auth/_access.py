"""Access: who may act, and the record of who did, for one portal.

One ``Access`` per portal holds the sign-in settings, the permission rules, the database (with
its migrations, run at start-up) and the audit trail. Every action goes through
:meth:`Access.perform`: decide, record the refusal or the intent, call the vendor, record the
outcome. Nothing is sent upstream for a refused action or when the audit trail cannot be written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .._audit import Actor, AuditTrail, MemoryAuditStore, retention_days
from .._audit._trail import AuditUnavailableError
from .._exceptions import PermissionDeniedError
from .._identity import Identity
from .._permissions import Permissions, Subject, Target, group_key, parse_permissions
from ._revocations import MemoryRevocations, Revocations
from ._settings import AuthSettings

if TYPE_CHECKING:
    from .._catalog import Catalog
    from .._config import Config
    from .._db import Database
    from .._entity import Entity

log = logging.getLogger("greenroom.auth")

T = TypeVar("T")
# How long an action waits for the on-call read it re-checks (it is usually cached).
ONCALL_CHECK_SECONDS = 5.0
_CACHE_SIZE = 4096
OnCallLookup = Callable[["Entity"], Awaitable["bool | None"]]


def actor_of(identity: Identity) -> Actor:
    return Actor(
        user_id=identity.user_id, email=identity.email, name=identity.display_name,
        via=getattr(identity, "via", "") or ("guest" if not identity.authenticated else "proxy"),
    )


def catalog_groups(catalog: Catalog | None, identity: Identity) -> set[str]:
    """The groups the catalog puts ``identity`` in: a User entity's ``spec.memberOf`` (the user
    found by name or ``spec.profile.email``) and every Group whose ``spec.members`` names them."""
    if catalog is None or not identity.authenticated:
        return set()
    email = (identity.email or "").lower()
    local = email.split("@")[0] if email else identity.user_id.lower()
    names = {n for n in (email, local, identity.user_id.lower()) if n}
    groups: set[str] = set()
    user_names = set(names)
    for entity in catalog.entities:
        if entity.kind.lower() != "user":
            continue
        profile = entity.spec.get("profile") or {}
        profile_email = str(profile.get("email") or "").lower() if isinstance(profile, dict) else ""
        if entity.name.lower() in names or (email and profile_email == email):
            user_names.add(entity.name.lower())
            groups.update(group_key(str(g)) for g in entity.spec.get("memberOf") or [])
    for entity in catalog.entities:
        if entity.kind.lower() != "group":
            continue
        members = {_member_key(str(m)) for m in entity.spec.get("members") or []}
        if members & user_names:
            groups.add(group_key(entity.name))
    return groups


def _member_key(ref: str) -> str:
    """``user:default/alex``, ``default/alex`` and ``alex`` all name the user ``alex``."""
    key = ref.strip().lower()
    key = key.removeprefix("user:")
    return key.removeprefix("default/")


@dataclass
class Access:
    settings: AuthSettings
    permissions: Permissions
    audit: AuditTrail
    revocations: Revocations
    database: Database | None = None
    catalog: Catalog | None = None
    demo: bool = False
    problems: list[str] = field(default_factory=list)
    # Subjects and target-free decisions per identity: a proxied request asks for both, and the
    # catalog's groups are a scan of every entity. Valid while the catalog's entity list and the
    # rules are the same objects (the catalog swaps its list on any change).
    _cached: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    _cached_for: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    # -- start-up ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Migrate the database (cheap when already at head) and prune old audit entries.
        A database that cannot be reached is reported, not fatal: reading still works, and
        actions are refused until it answers."""
        if self.database is None:
            return
        try:
            changed = await asyncio.to_thread(self.database.upgrade)
            if changed:
                log.info("database %s upgraded to the newest schema", self.database.display_url)
            await self.audit.prune()
        except Exception as exc:  # noqa: BLE001
            message = (
                f"database {self.database.display_url} is unavailable ({type(exc).__name__}); "
                "actions are refused until it answers"
            )
            log.error("%s", message)
            self.problems.append(message)

    def close(self) -> None:
        if self.database is not None:
            self.database.close()

    def sign_in_backends(self, config: Config) -> list[Any]:
        """The backends that resolve who is asking: the demo user in the demo; API tokens
        then the session for ``oidc``; API tokens then the trusted proxy for ``proxy`` (and the
        legacy ``identity:`` section); any other registered mode by name."""
        from .._identity import sign_in_backends
        from ._demo import DemoBackend
        from ._oidc import OidcSessionBackend
        from ._proxy import TrustedProxyBackend
        from ._tokens import ApiTokenBackend

        settings = self.settings
        if self.demo and settings.provider is None:
            from .._identity import guest_identity
            from ._demo import demo_user

            return [DemoBackend(demo_user(guest_identity(config)))]
        tokens: list[Any] = [ApiTokenBackend(settings.api_tokens)] if settings.api_tokens else []
        if settings.provider == "oidc":
            assert settings.oidc is not None
            return [*tokens, OidcSessionBackend(
                settings.session, self.revocations, groups_claim=settings.oidc.groups_claim,
            )]
        if settings.provider in ("proxy", "header"):
            assert settings.proxy is not None
            return [*tokens, TrustedProxyBackend(settings.proxy)]
        return [*tokens, *sign_in_backends(config)]

    # -- decisions --------------------------------------------------------------------------

    def subject(self, identity: Identity) -> Subject:
        cache = self._cache()
        subject = cache.get(identity)
        if subject is None:
            groups = {group_key(g) for g in getattr(identity, "groups", ()) or ()}
            groups |= catalog_groups(self.catalog, identity)
            subject = cache[identity] = Subject(
                identity.user_id, identity.email, frozenset(groups), identity.authenticated
            )
        return subject  # type: ignore[no-any-return]

    def decide(self, identity: Identity, action: str, targets: Sequence[Target] = ()) -> Any:
        if targets:
            return self.permissions.decide(action, self.subject(identity), targets)
        cache = self._cache()
        key = (identity, action)
        decision = cache.get(key)
        if decision is None:
            decision = cache[key] = self.permissions.decide(action, self.subject(identity))
        return decision

    def _cache(self) -> dict[Any, Any]:
        catalog = self.catalog
        entities = catalog.entities if catalog is not None else None
        rules = self.permissions.rules
        # Tuple equality checks identity first: cheap while nothing changed.
        now = (catalog, entities, self.permissions, rules, len(rules), len(entities or ()))
        if now != self._cached_for or len(self._cached) > _CACHE_SIZE:
            self._cached.clear()
            self._cached_for = now
        return self._cached

    def needs_oncall(self, action: str) -> bool:
        return any(r.names(action) and "oncall" in r.allow for r in self.permissions.rules)

    async def targets(
        self, identity: Identity, action: str, entities: Iterable[Entity],
        oncall: OnCallLookup | None,
    ) -> list[Target]:
        """The entities as permission targets; on-call is looked up only when a rule asks."""
        entities = list(entities)
        wanted = oncall is not None and self.needs_oncall(action) and identity.authenticated
        results: list[bool | None] = [False] * len(entities)
        if wanted and oncall is not None and entities:
            async def one(entity: Entity) -> bool | None:
                try:
                    return await asyncio.wait_for(oncall(entity), ONCALL_CHECK_SECONDS)
                except Exception:  # noqa: BLE001 - unknown, and said so
                    return None

            results = list(await asyncio.gather(*(one(e) for e in entities)))
        return [
            Target(e.ref, e.owner, results[i]) for i, e in enumerate(entities)
        ]

    # -- acting ----------------------------------------------------------------------------

    async def perform(
        self,
        identity: Identity,
        action: str,
        call: Callable[[], Awaitable[T]],
        *,
        entities: Sequence[Entity] = (),
        deciding: Sequence[Entity] | None = None,
        oncall: OnCallLookup | None = None,
        provider: str | None = None,
        incident_id: str | None = None,
        summary: str = "",
        request_id: str | None = None,
        outcome_of: Callable[[T], tuple[bool, str]] | None = None,
    ) -> T:
        """Decide, record, act. ``PermissionDeniedError`` (recorded as refused) or
        ``AuditUnavailableError`` (nothing sent upstream) when the action must not happen;
        ``outcome_of(result)`` tells a result that reports failure without raising.
        ``deciding`` (default: ``entities``) are the entities the decision may rely on: those
        the vendor confirmed the incident belongs to."""
        decide_on = entities if deciding is None else deciding
        targets = await self.targets(identity, action, decide_on, oncall)
        decision = self.decide(identity, action, targets)
        refs = [e.ref for e in entities]
        actor = actor_of(identity)
        if not decision.allowed:
            await self.audit.refused(
                actor, action, decision.reason, entities=refs, provider=provider,
                incident_id=incident_id, summary=summary, request_id=request_id,
            )
            raise PermissionDeniedError(action, decision.reason)
        async with self.audit.action(
            actor, action, entities=refs, provider=provider, incident_id=incident_id,
            summary=summary, request_id=request_id,
        ) as record:
            result = await call()
            if outcome_of is not None:
                ok, message = outcome_of(result)
                if not ok:
                    record.fail(message)
                else:
                    record.message = message
        return result


def build_access(
    config: Config, settings: AuthSettings, *, demo: bool, catalog: Catalog | None = None,
    plugin_actions: Iterable[str] = (), proxy_routes: Iterable[str] = (),
) -> Access:
    """The portal's access layer: the demo keeps everything in memory (unless
    ``database.url`` is set); every other portal uses SQL, migrated at start-up."""
    permissions = parse_permissions(
        config.get("permissions"), plugin_actions=plugin_actions, proxy_routes=proxy_routes,
        location=config.location,
    )
    days = retention_days(config)
    if demo and not config.get("database.url"):
        return Access(
            settings, permissions, AuditTrail(MemoryAuditStore(), scrub=config.scrub,
                                              retention_days=days),
            MemoryRevocations(), None, catalog, demo,
        )
    # Imported here: a portal without a database (the demo) never loads SQLAlchemy.
    from .._audit._sql import SqlAuditStore
    from .._db import Database, database_url
    from ._revocations_sql import SqlRevocations

    database = Database(database_url(config.get("database.url")))
    trail = AuditTrail(
        SqlAuditStore(database), scrub=config.scrub, retention_days=days,
        where=database.display_url,
    )
    return Access(settings, permissions, trail, SqlRevocations(database), database, catalog, demo)


__all__ = [
    "Access",
    "AuditUnavailableError",
    "actor_of",
    "build_access",
    "catalog_groups",
]

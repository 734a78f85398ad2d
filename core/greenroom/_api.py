"""API references, factories and the registry that wires them (Backstage's ApiRef/ApiFactory)."""

from __future__ import annotations

import asyncio
import enum
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, overload

from ._exceptions import (
    ApiIdError,
    ApiNotFoundError,
    CircularDependencyError,
    DependencyNotFoundError,
)

T = TypeVar("T")

_TOKEN = r"[a-z][a-z0-9]*"
_PART = rf"{_TOKEN}(?:-{_TOKEN})*"
_API_ID = re.compile(rf"^{_PART}(?:\.{_PART})*$")


class ApiRef(Generic[T]):
    """A typed handle on an API. Two references with the same id are the same API."""

    __slots__ = ("id", "description")

    def __init__(self, id: str, description: str = "") -> None:
        if not isinstance(id, str) or not _API_ID.match(id):
            raise ApiIdError(str(id))
        self.id = id
        self.description = description

    def __repr__(self) -> str:
        return f"apiRef{{{self.id}}}"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiRef) and other.id == self.id

    def __hash__(self) -> int:
        return hash(("ApiRef", self.id))


@overload
def create_api_ref(id: str, *, description: str = "", type: type[T]) -> ApiRef[T]: ...
@overload
def create_api_ref(id: str, *, description: str = "", type: None = None) -> ApiRef[Any]: ...


def create_api_ref(id: str, *, description: str = "", type: type[T] | None = None) -> ApiRef[Any]:
    """Create a reference to an API. ``type`` is for readers and type checkers only."""
    return ApiRef(id, description)


@dataclass(frozen=True)
class ApiFactory(Generic[T]):
    """How to build one API: its dependencies, by keyword, and a function of them."""

    api: ApiRef[T]
    deps: Mapping[str, ApiRef[Any]] = field(default_factory=dict)
    factory: Callable[..., T] = field(default=lambda: None)  # type: ignore[assignment]
    #: Releases what ``factory`` built (a pool, a client) when the portal closes; may be async.
    close: Callable[[T], Any] | None = None
    #: A cheap check that what ``factory`` built still works, run by the readiness view; may be
    #: async; raising or returning False means not ready.
    ping: Callable[[T], Any] | None = None


@overload
def create_api_factory(
    api: ApiRef[T],
    instance: T,
    /,
    *,
    close: Callable[[T], Any] | None = None,
    ping: Callable[[T], Any] | None = None,
) -> ApiFactory[T]: ...
@overload
def create_api_factory(
    *,
    api: ApiRef[T],
    deps: Mapping[str, ApiRef[Any]] | None = None,
    factory: Callable[..., T],
    close: Callable[[T], Any] | None = None,
    ping: Callable[[T], Any] | None = None,
) -> ApiFactory[T]: ...


def create_api_factory(*args: Any, **kwargs: Any) -> ApiFactory[Any]:
    """Full form ``create_api_factory(api=ref, deps={...}, factory=fn)``;
    short form ``create_api_factory(ref, instance)`` for an API with no dependencies.
    Either may say how to ``close=`` and ``ping=`` what it builds (svcs' ``on_registry_close``
    and ``ping``)."""
    close = kwargs.pop("close", None)
    ping = kwargs.pop("ping", None)
    if args:
        if len(args) != 2 or kwargs:
            raise TypeError("create_api_factory(ref, instance) takes exactly two arguments")
        ref, instance = args
        if not isinstance(ref, ApiRef):
            raise TypeError(f"create_api_factory: expected an ApiRef, got {ref!r}")
        return ApiFactory(api=ref, deps={}, factory=lambda: instance, close=close, ping=ping)
    api = kwargs.pop("api")
    deps = dict(kwargs.pop("deps", None) or {})
    factory = kwargs.pop("factory")
    if kwargs:
        raise TypeError(f"create_api_factory: unexpected arguments {sorted(kwargs)}")
    if not isinstance(api, ApiRef):
        raise TypeError(f"create_api_factory: api must be an ApiRef, got {api!r}")
    for name, dep in deps.items():
        if not isinstance(dep, ApiRef):
            raise TypeError(f"create_api_factory: dependency {name!r} of {api} is not an ApiRef")
    return ApiFactory(api=api, deps=deps, factory=factory, close=close, ping=ping)


class Scope(enum.IntEnum):
    """Registration scopes. A higher priority wins; ``static`` can never be replaced."""

    DEFAULT = 10
    APP = 50
    STATIC = 100


class ApiHolder(Protocol):
    """Anything that hands out API implementations by reference."""

    def get(self, ref: ApiRef[T]) -> T | None: ...


def require_api(holder: ApiHolder, ref: ApiRef[T]) -> T:
    """The strict accessor: the implementation, or :class:`ApiNotFoundError`."""
    implementation = holder.get(ref)
    if implementation is None:
        raise ApiNotFoundError(ref)
    return implementation


@dataclass
class _Registration:
    factory: ApiFactory[Any]
    scope: Scope
    owner: str


class ApiRegistry:
    """Factories by API id, resolved lazily; each factory runs at most once."""

    def __init__(self) -> None:
        self._registrations: dict[str, _Registration] = {}
        self._instances: dict[str, Any] = {}
        self._building: set[str] = set()
        #: Ids in the order they were built: closed in reverse, dependents first.
        self._built: list[str] = []

    def register(
        self, scope: Scope | str, factory: ApiFactory[Any], *, owner: str = "app"
    ) -> bool:
        """Store ``factory`` unless one of the same or higher priority is already stored."""
        scope = Scope[scope.upper()] if isinstance(scope, str) else scope
        existing = self._registrations.get(factory.api.id)
        if existing is not None and existing.scope >= scope:
            return False
        self._registrations[factory.api.id] = _Registration(factory, scope, owner)
        self._instances.pop(factory.api.id, None)
        return True

    def get_factory(self, ref: ApiRef[T]) -> ApiFactory[T] | None:
        """The stored factory for ``ref`` (whichever scope won), or None."""
        registration = self._registrations.get(ref.id)
        return registration.factory if registration else None

    def registration_owner(self, ref: ApiRef[Any]) -> str | None:
        registration = self._registrations.get(ref.id)
        return registration.owner if registration else None

    def unregister_owner(self, owner: str) -> list[ApiRef[Any]]:
        """Forget every factory ``owner`` registered (a plugin that failed or was disabled)."""
        removed = [r.factory.api for r in self._registrations.values() if r.owner == owner]
        for ref in removed:
            del self._registrations[ref.id]
            self._instances.pop(ref.id, None)
        return removed

    def factories(self) -> list[ApiFactory[Any]]:
        return [r.factory for r in self._registrations.values()]

    def get(self, ref: ApiRef[T]) -> T | None:
        if ref.id in self._instances:
            return self._instances[ref.id]  # type: ignore[no-any-return]
        if ref.id not in self._registrations:
            return None
        return self._build(ref.id)  # type: ignore[no-any-return]

    def require(self, ref: ApiRef[T]) -> T:
        return require_api(self, ref)

    def _build(self, api_id: str) -> Any:
        if api_id in self._instances:
            return self._instances[api_id]
        registration = self._registrations[api_id]
        ref = registration.factory.api
        if api_id in self._building:
            raise CircularDependencyError(ref)
        self._building.add(api_id)
        try:
            kwargs = {}
            for name, dep in registration.factory.deps.items():
                if dep.id not in self._registrations:
                    raise DependencyNotFoundError(dep, ref)
                kwargs[name] = self._build(dep.id)
            instance = registration.factory.factory(**kwargs)
        finally:
            self._building.discard(api_id)
        self._instances[api_id] = instance
        self._built.append(api_id)
        return instance

    async def aclose(self) -> list[tuple[ApiRef[Any], BaseException]]:
        """Close every built API whose factory says how, newest first (an API before those it
        depends on). One that fails to close does not stop the others; the failures are
        returned."""
        failures: list[tuple[ApiRef[Any], BaseException]] = []
        for api_id in reversed(self._built):
            registration = self._registrations.get(api_id)
            instance = self._instances.pop(api_id, None)
            if registration is None or registration.factory.close is None or instance is None:
                continue
            try:
                await maybe_await(registration.factory.close(instance))
            except Exception as exc:  # noqa: BLE001 - close the rest regardless
                failures.append((registration.factory.api, exc))
        self._built.clear()
        return failures

    async def ping(self, timeout: float = 5.0) -> dict[str, BaseException | None]:
        """Run every ``ping=`` concurrently (building the API first if need be): by API id,
        ``None`` when it answered, else what went wrong."""

        async def one(registration: _Registration) -> BaseException | None:
            check = registration.factory.ping
            assert check is not None
            try:
                instance = self._build(registration.factory.api.id)
                answer = await asyncio.wait_for(maybe_await(check(instance)), timeout)
            except Exception as exc:  # noqa: BLE001 - a failed ping is a finding, not a crash
                return exc
            return None if answer is not False else RuntimeError("the ping answered False")

        pinged = [r for r in self._registrations.values() if r.factory.ping is not None]
        results = await asyncio.gather(*(one(r) for r in pinged))
        return {r.factory.api.id: result for r, result in zip(pinged, results, strict=True)}

    def validate(self) -> None:
        """Check the whole graph before anything is built: missing dependencies and cycles."""
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(api_id: str) -> None:
            if state.get(api_id) == 2:
                return
            registration = self._registrations[api_id]
            if state.get(api_id) == 1:
                raise CircularDependencyError(registration.factory.api)
            state[api_id] = 1
            for dep in registration.factory.deps.values():
                if dep.id not in self._registrations:
                    raise DependencyNotFoundError(dep, registration.factory.api)
                visit(dep.id)
            state[api_id] = 2

        for api_id in list(self._registrations):
            visit(api_id)


class LayeredApiHolder:
    """Immutable holder of ``(ref, implementation)`` pairs; later pairs win and the inner
    holder is asked before the outer one. Used by :mod:`greenroom.testing`."""

    def __init__(
        self, pairs: Iterable[tuple[ApiRef[Any], Any]] = (), outer: ApiHolder | None = None
    ) -> None:
        self._implementations: dict[str, Any] = {}
        for ref, implementation in pairs:
            self._implementations[ref.id] = implementation
        self._outer = outer

    def get(self, ref: ApiRef[T]) -> T | None:
        if ref.id in self._implementations:
            return self._implementations[ref.id]  # type: ignore[no-any-return]
        return self._outer.get(ref) if self._outer is not None else None

    def require(self, ref: ApiRef[T]) -> T:
        return require_api(self, ref)

    def with_apis(self, *pairs: tuple[ApiRef[Any], Any]) -> LayeredApiHolder:
        """A new holder with ``pairs`` layered over this one."""
        return LayeredApiHolder(pairs, outer=self)


async def maybe_await(value: Any) -> Any:
    """Await ``value`` when it is awaitable (pluggy has no async hooks)."""
    if inspect.isawaitable(value):
        return await value
    return value

"""API references, factories and the registry with Backstage's exact texts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from greenroom import (
    ApiFactory,
    ApiIdError,
    ApiNotFoundError,
    ApiRegistry,
    CircularDependencyError,
    DependencyNotFoundError,
    Scope,
    create_api_factory,
    create_api_ref,
    require_api,
)
from greenroom.testing import api_holder

VALID_IDS = ["a", "abc", "ab-c", "a.b.c", "a-b.c", "abc.a-b-c.abc3"]
INVALID_IDS = ["123", "ab-3", "ab_c", ".", "2ac", "ab.3a", ".abc", "abc.", "ab..s", "", "_"]


# --- references ----------------------------------------------------------------------------------


@pytest.mark.parametrize("api_id", VALID_IDS)
def test_valid_ids_make_a_reference(api_id: str) -> None:
    ref = create_api_ref(api_id)
    assert ref.id == api_id
    assert str(ref) == f"apiRef{{{api_id}}}"
    assert repr(ref) == f"apiRef{{{api_id}}}"


@pytest.mark.parametrize("api_id", INVALID_IDS)
def test_invalid_ids_raise_naming_the_id(api_id: str) -> None:
    with pytest.raises(ApiIdError) as caught:
        create_api_ref(api_id)
    assert str(caught.value) == (
        "API id must only contain period separated lowercase alphanum tokens with dashes, "
        f"got '{api_id}'"
    )


def test_invalid_id_error_is_also_a_value_error() -> None:
    with pytest.raises(ValueError, match="got 'Core.Config'"):
        create_api_ref("Core.Config")


def test_two_references_with_the_same_id_are_the_same_api() -> None:
    first = create_api_ref("plugin.demo.api", description="one")
    second = create_api_ref("plugin.demo.api", description="two")
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second}) == 1
    assert first != create_api_ref("plugin.demo.other")

    registry = ApiRegistry()
    registry.register(Scope.DEFAULT, create_api_factory(first, "impl"))
    assert registry.get(second) == "impl"


# --- factories -----------------------------------------------------------------------------------


def test_full_factory_form_passes_dependencies_by_keyword() -> None:
    base = create_api_ref("test.base")
    derived = create_api_ref("test.derived")
    factory = create_api_factory(
        api=derived, deps={"base": base}, factory=lambda base: f"derived from {base}"
    )
    assert isinstance(factory, ApiFactory)
    assert factory.api == derived
    assert dict(factory.deps) == {"base": base}

    registry = ApiRegistry()
    registry.register(Scope.DEFAULT, factory)
    registry.register(Scope.DEFAULT, create_api_factory(base, "the base"))
    assert registry.get(derived) == "derived from the base"


def test_short_factory_form_returns_the_instance() -> None:
    ref = create_api_ref("test.short")
    instance = object()
    factory = create_api_factory(ref, instance)
    assert factory.api == ref
    assert dict(factory.deps) == {}
    assert factory.factory() is instance


def test_factory_with_a_dependency_that_is_not_a_reference_is_refused() -> None:
    with pytest.raises(TypeError, match="dependency 'base' of apiRef{test.x} is not an ApiRef"):
        create_api_factory(api=create_api_ref("test.x"), deps={"base": "core.config"},
                           factory=lambda base: base)


# --- scopes and priorities -----------------------------------------------------------------------


def _factories(ref: Any) -> tuple[ApiFactory[Any], ApiFactory[Any], ApiFactory[Any]]:
    return (
        create_api_factory(ref, "one"),
        create_api_factory(ref, "two"),
        create_api_factory(ref, "three"),
    )


def test_scope_priorities_default_then_app_then_static() -> None:
    ref = create_api_ref("test.scoped")
    one, two, three = _factories(ref)
    registry = ApiRegistry()

    assert registry.register("default", one) is True
    assert registry.get_factory(ref) is one
    assert registry.register("default", two) is False
    assert registry.get_factory(ref) is one
    assert registry.register("app", two) is True
    assert registry.get_factory(ref) is two
    assert registry.register("app", three) is False
    assert registry.register("default", three) is False
    assert registry.get_factory(ref) is two
    assert registry.register("static", three) is True
    assert registry.get_factory(ref) is three
    assert registry.register("static", one) is False
    assert registry.register("app", one) is False
    assert registry.register("default", one) is False
    assert registry.get_factory(ref) is three
    assert registry.get(ref) == "three"


def test_scope_priorities_static_then_app_then_default() -> None:
    ref = create_api_ref("test.scoped")
    one, two, three = _factories(ref)
    registry = ApiRegistry()

    assert registry.register(Scope.STATIC, one) is True
    assert registry.register(Scope.APP, two) is False
    assert registry.register(Scope.DEFAULT, three) is False
    assert registry.get_factory(ref) is one
    assert registry.get(ref) == "one"


def test_scope_values_are_backstage_priorities() -> None:
    assert (Scope.DEFAULT, Scope.APP, Scope.STATIC) == (10, 50, 100)


def test_replacing_a_factory_drops_an_instance_built_from_the_old_one() -> None:
    ref = create_api_ref("test.replaced")
    registry = ApiRegistry()
    registry.register(Scope.DEFAULT, create_api_factory(ref, "default"))
    assert registry.get(ref) == "default"
    registry.register(Scope.APP, create_api_factory(ref, "operator's"))
    assert registry.get(ref) == "operator's"


# --- lazy, once-only construction ----------------------------------------------------------------


def test_factories_run_lazily_and_once() -> None:
    base = create_api_ref("test.base")
    derived = create_api_ref("test.derived")
    calls: list[str] = []

    def make_base() -> dict[str, str]:
        calls.append("base")
        return {"name": "base"}

    def make_derived(base: dict[str, str]) -> tuple[str, dict[str, str]]:
        calls.append("derived")
        return ("derived", base)

    registry = ApiRegistry()
    registry.register(Scope.DEFAULT, create_api_factory(api=base, factory=make_base))
    registry.register(
        Scope.DEFAULT, create_api_factory(api=derived, deps={"base": base}, factory=make_derived)
    )
    registry.validate()
    assert calls == []  # nothing is built before it is asked for

    first = registry.get(derived)
    second = registry.get(derived)
    base_instance = registry.get(base)
    assert calls == ["base", "derived"]
    assert first is second
    assert first is not None and first[1] is base_instance


# --- missing implementations and dependencies ----------------------------------------------------


def test_missing_implementation_get_returns_none_and_strict_accessor_raises() -> None:
    ref = create_api_ref("test.nobody")
    registry = ApiRegistry()
    assert registry.get(ref) is None
    with pytest.raises(ApiNotFoundError) as caught:
        registry.require(ref)
    assert str(caught.value) == "No implementation available for apiRef{test.nobody}"
    with pytest.raises(ApiNotFoundError, match=r"^No implementation available for apiRef\{"):
        require_api(registry, ref)


def test_missing_dependency_names_dependency_and_dependent() -> None:
    ref = create_api_ref("test.dependent")
    registry = ApiRegistry()
    registry.register(
        Scope.DEFAULT,
        create_api_factory(
            api=ref, deps={"dep": create_api_ref("test.dep")}, factory=lambda dep: 1
        ),
    )
    expected = (
        "No API factory available for dependency apiRef{test.dep} "
        "of dependent apiRef{test.dependent}"
    )
    with pytest.raises(DependencyNotFoundError) as caught:
        registry.get(ref)
    assert str(caught.value) == expected
    with pytest.raises(DependencyNotFoundError) as caught:
        registry.validate()
    assert str(caught.value) == expected


# --- cycles --------------------------------------------------------------------------------------


def _cyclic_registry(*edges: tuple[str, str]) -> tuple[ApiRegistry, list[str]]:
    registry = ApiRegistry()
    built: list[str] = []
    for api_id, dep_id in edges:

        def factory(dep: Any, _id: str = api_id) -> str:
            built.append(_id)
            return _id

        registry.register(
            Scope.DEFAULT,
            create_api_factory(
                api=create_api_ref(api_id), deps={"dep": create_api_ref(dep_id)}, factory=factory
            ),
        )
    return registry, built


CYCLES = {
    "self": [("a", "a")],
    "short": [("a", "b"), ("b", "a")],
    "long": [("a", "b"), ("b", "c"), ("c", "a")],
}


@pytest.mark.parametrize("shape", sorted(CYCLES))
def test_cycles_raise_at_resolution_and_again_on_a_second_attempt(shape: str) -> None:
    registry, built = _cyclic_registry(*CYCLES[shape])
    message = "Circular dependency of api factory for apiRef{a}"
    with pytest.raises(CircularDependencyError) as caught:
        registry.get(create_api_ref("a"))
    assert str(caught.value) == message
    with pytest.raises(CircularDependencyError) as caught:
        registry.get(create_api_ref("a"))
    assert str(caught.value) == message
    assert built == []


@pytest.mark.parametrize("shape", sorted(CYCLES))
def test_validate_finds_cycles_before_anything_is_built(shape: str) -> None:
    registry, built = _cyclic_registry(*CYCLES[shape])
    registry.register(Scope.DEFAULT, create_api_factory(create_api_ref("z"), "fine"))
    with pytest.raises(CircularDependencyError, match=r"^Circular dependency of api factory for "):
        registry.validate()
    assert built == []


def test_a_diamond_is_not_a_cycle() -> None:
    registry = ApiRegistry()
    top, left, right, bottom = (create_api_ref(i) for i in ("top", "left", "right", "bottom"))
    registry.register(Scope.DEFAULT, create_api_factory(bottom, "bottom"))
    for side in (left, right):
        registry.register(
            Scope.DEFAULT,
            create_api_factory(api=side, deps={"b": bottom}, factory=lambda b: f"over {b}"),
        )
    registry.register(
        Scope.DEFAULT,
        create_api_factory(api=top, deps={"l": left, "r": right}, factory=lambda l, r: (l, r)),  # noqa: E741
    )
    registry.validate()
    assert registry.get(top) == ("over bottom", "over bottom")


# --- the testing holder --------------------------------------------------------------------------


def test_testing_holder_later_pairs_win() -> None:
    ref = create_api_ref("test.api")
    holder = api_holder((ref, "first"), (ref, "second"))
    assert holder.get(ref) == "second"
    assert holder.get(create_api_ref("test.other")) is None
    with pytest.raises(ApiNotFoundError, match=r"apiRef\{test.other\}"):
        holder.require(create_api_ref("test.other"))


def test_testing_holder_layers_inner_over_outer() -> None:
    shared = create_api_ref("test.shared")
    outer_only = create_api_ref("test.outer")
    inner_only = create_api_ref("test.inner")
    outer = api_holder((shared, "outer"), (outer_only, "from outer"))
    inner = outer.with_apis((shared, "inner"), (inner_only, "from inner"))

    assert inner.get(shared) == "inner"
    assert inner.get(outer_only) == "from outer"
    assert inner.get(inner_only) == "from inner"
    # layering builds a new holder: the outer one is unchanged
    assert outer.get(shared) == "outer"
    assert outer.get(inner_only) is None

    also_layered = api_holder((shared, "explicit inner"), outer=outer)
    assert also_layered.get(shared) == "explicit inner"
    assert also_layered.get(outer_only) == "from outer"


# --- lifetimes: close and ping (svcs' on_registry_close and ping) --------------------------------


async def test_aclose_closes_what_was_built_dependents_first_and_survives_a_failing_close() -> None:
    closed: list[str] = []
    engine_ref = create_api_ref("plugin.x.engine")
    store_ref = create_api_ref("plugin.x.store")
    idle_ref = create_api_ref("plugin.x.idle")

    def close_store(store: str) -> None:
        closed.append(store)
        raise RuntimeError("store close failed")

    async def close_engine(engine: str) -> None:
        closed.append(engine)

    registry = ApiRegistry()
    registry.register(Scope.DEFAULT, create_api_factory(engine_ref, "engine", close=close_engine))
    registry.register(Scope.DEFAULT, create_api_factory(
        api=store_ref, deps={"engine": engine_ref}, factory=lambda engine: f"store on {engine}",
        close=close_store,
    ))
    registry.register(Scope.DEFAULT, create_api_factory(idle_ref, "idle", close=closed.append))
    registry.get(store_ref)  # builds the engine, then the store; idle is never built

    failures = await registry.aclose()
    assert closed == ["store on engine", "engine"]
    assert [(ref.id, str(exc)) for ref, exc in failures] == [
        ("plugin.x.store", "store close failed")
    ]


async def test_ping_builds_and_checks_each_api_that_has_one() -> None:
    ok_ref = create_api_ref("plugin.x.ok")
    false_ref = create_api_ref("plugin.x.false")
    slow_ref = create_api_ref("plugin.x.slow")
    plain_ref = create_api_ref("plugin.x.plain")

    async def slow(_: object) -> None:
        await asyncio.sleep(10)

    registry = ApiRegistry()
    registry.register(Scope.DEFAULT, create_api_factory(ok_ref, 1, ping=lambda value: True))
    registry.register(Scope.DEFAULT, create_api_factory(false_ref, 2, ping=lambda value: False))
    registry.register(Scope.DEFAULT, create_api_factory(slow_ref, 3, ping=slow))
    registry.register(Scope.DEFAULT, create_api_factory(plain_ref, 4))

    results = await registry.ping(timeout=0.2)
    assert set(results) == {"plugin.x.ok", "plugin.x.false", "plugin.x.slow"}
    assert results["plugin.x.ok"] is None
    assert str(results["plugin.x.false"]) == "the ping answered False"
    assert isinstance(results["plugin.x.slow"], TimeoutError)

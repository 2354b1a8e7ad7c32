"""The compiled converters: every error message with its JSON path, random values against the
outcomes recorded from the walker they replaced, and thread-safe compilation."""

from __future__ import annotations

import copy
import enum
import hashlib
import random
from typing import Any

import attrs
import pytest

from pristine_core import ValidationError, load_manifest
from pristine_core.manifest.models import TypeSchema
from pristine_core.typesystem.compiled import Compiler, to_wire
from pristine_core.typesystem.registry import TypeRegistry

from .conftest import PETSTORE

SHAPE = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "maxLength": 3},
        "size": {"type": "string", "enum": ["s", "m"], "maxLength": 1},
        "code": {"type": "string", "const": "x"},
        "count": {"type": "integer", "maximum": 5},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1},
        "flag": {"type": "boolean"},
        "points": {"type": "array", "items": {"type": "number"}, "minLength": 2},
        "grid": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
        "owners": {"type": "array", "items": {"$ref": "Owner"}},
        "meta": {"type": "object", "additionalProperties": True},
        "blob": {"type": "string", "format": "base64"},
        "class": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 2}},
    },
}


class Size(enum.Enum):
    """A caller's enum for a string field."""

    MEDIUM = "m"


@pytest.fixture(scope="module")
def registry() -> TypeRegistry:
    doc = copy.deepcopy(PETSTORE)
    doc["types"]["Shape"] = SHAPE
    return TypeRegistry(load_manifest(doc).types)


BAD_REQUESTS: list[tuple[str, Any, list[tuple[str, str]]]] = [
    ("Shape", {"label": "abcd"}, [("label", "must be at most 3 characters")]),
    ("Shape", {"size": "mm"}, [("size", "must be at most 1 characters"), ("size", "must be one of s, m")]),
    ("Shape", {"code": "y"}, [("code", "must be 'x'")]),
    ("Shape", {"count": 6}, [("count", "must be <= 5")]),
    ("Shape", {"count": True}, [("count", "expected an integer, got a boolean")]),
    ("Shape", {"count": 1.5}, [("count", "expected an integer, got float")]),
    ("Shape", {"ratio": -1}, [("ratio", "must be >= 0")]),
    ("Shape", {"ratio": "a"}, [("ratio", "expected a number, got str")]),
    ("Shape", {"flag": 1}, [("flag", "expected true or false, got int")]),
    ("Shape", {"points": [1]}, [("points", "must have at least 2 items")]),
    ("Shape", {"points": "ab"}, [("points", "expected an array, got str")]),
    (
        "Shape",
        {"points": [1, "a", None]},
        [("points[1]", "expected a number, got str"), ("points[2]", "must not be null")],
    ),
    ("Shape", {"tags": ["ab", "abc"]}, [("tags[1]", "must be at most 2 characters")]),  # skipped once
    ("Shape", {"grid": [[1], [2, "x"]]}, [("grid[1][1]", "expected an integer, got str")]),
    ("Shape", {"owners": [{"name": "a"}, {}]}, [("owners[1].name", "required field is missing")]),
    ("Shape", {"meta": {1: 2}}, [("meta", "keys must be strings, got int")]),
    ("Shape", {"meta": []}, [("meta", "expected an object, got an array")]),
    ("Shape", {"class": 5, "label": None, "x": 1}, [("class", "expected a string, got int"), ("x", "unknown field")]),
    ("NewPet", {"name": "a", "extra": 1}, [("extra", "unknown field")]),  # a default fills "kind"
    ("NewPet", {"name": None}, [("name", "required field is missing")]),
    ("NewPet", {"name": "a", "toy": {"type": "ball", "size": "big"}}, [("toy.size", "expected a number, got str")]),
    ("NewPet", {"name": "a", "toy": {"meaty": True}}, [("toy.type", "required discriminator is missing")]),
    ("Toy", {"type": "stick"}, [("type", "unknown variant 'stick'")]),
    ("Owner", None, [("", "must not be null")]),
    ("Owner", 5, [("", "expected an object, got int")]),
]


@pytest.mark.parametrize(("name", "value", "errors"), BAD_REQUESTS)
def test_every_problem_is_named_with_its_path(
    registry: TypeRegistry, name: str, value: Any, errors: list[tuple[str, str]]
) -> None:
    with pytest.raises(ValidationError) as info:
        registry.dump(name, value)
    assert info.value.errors == errors and info.value.type_name == name
    assert to_wire(registry.types, TypeSchema(ref=name), value) == (None, errors)


def test_caller_values_become_wire_json(registry: TypeRegistry) -> None:
    """Bytes of a base64 field, enums, tuples, whole floats, keyword-named properties; a const fills in."""
    value = {"blob": b"\x00\x01", "size": Size.MEDIUM, "points": (1, 2.5), "count": 2.0, "class": "c", "meta": {}}
    wire = {"size": "m", "code": "x", "count": 2, "points": [1, 2.5], "meta": {}, "blob": "AAE=", "class": "c"}
    assert registry.dump("Shape", value) == wire
    shape = registry.parse("Shape", wire)
    assert shape.class_ == "c" and shape.points == [1, 2.5]
    assert registry.dump("Shape", shape) == wire


def test_parse_reports_a_class_that_cannot_be_built(petstore: dict[str, Any]) -> None:
    """A domain class with a mandatory field: the missing field and the failed build are both named."""

    @attrs.frozen(kw_only=True)
    class Owner:
        name: str

    registry = TypeRegistry(load_manifest(petstore).types, {"Owner": Owner})
    with pytest.raises(ValidationError) as info:
        registry.parse("Pet", {"id": "1", "name": "Rex", "owner": {}, "tags": ["a", 2]})
    (first, first_message), (second, second_message), (third, third_message) = info.value.errors
    assert (first, first_message) == ("tags[1]", "expected a string, got int")
    assert (second, second_message) == ("owner.name", "required field is missing")
    assert third == "owner" and third_message.startswith("cannot build Owner: ")


VALID_NEW_PET = {
    "name": "Rex",
    "kind": "dog",
    "age": 3,
    "note": "good",
    "chip": None,
    "toy": {"type": "ball", "size": 2.5},
    "labels": {"a": 1, "b": 2.5},
}
VALID_PET = {"id": "1", "name": "Rex", "tags": ["a"], "owner": {"name": "Ann"}, "kind": "cat"}
JUNK: list[Any] = [None, 0, -5, 1.5, True, "", "x", [], [1], {}, {"type": "bone"}, "dog", 10**20]
#: The digest of the 4,000 outcomes below as the reference walker (``typesystem/wire.py``, removed
#: when the compiled converters learned to name every problem) gave them: results and every error
#: with its path. A change here means a message, a path or a result changed.
WALKER_DIGEST = "54aec01871954102bb1fbdbe6bd5f4910c5265f29b4b60eaafd6d4345aa77699"


def _mutate(value: Any, rng: random.Random) -> Any:
    value = copy.deepcopy(value)
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        action = rng.randrange(3)
        if action == 0:
            del value[key]
        elif action == 1:
            value[key] = _mutate(value[key], rng)
        else:
            value[rng.choice(["extra", key])] = rng.choice(JUNK)
        return value
    if isinstance(value, list) and value and rng.random() < 0.5:
        value[rng.randrange(len(value))] = rng.choice(JUNK)
        return value
    return rng.choice(JUNK)


def random_outcomes(registry: TypeRegistry) -> list[tuple[str, Any]]:
    """2,000 random values (mostly broken) of two types, each dumped and parsed."""
    rng = random.Random(3)
    outcomes: list[tuple[str, Any]] = []
    for name, seed in [("NewPet", VALID_NEW_PET), ("Pet", VALID_PET)]:
        for _ in range(1000):
            value = _mutate(seed, rng) if rng.random() < 0.8 else copy.deepcopy(seed)
            for convert in (registry.dump, registry.parse):
                try:
                    outcomes.append(("ok", convert(name, value)))
                except ValidationError as exc:
                    outcomes.append(("errors", exc.errors))
    return outcomes


def test_random_values_give_the_walkers_outcomes() -> None:
    outcomes = random_outcomes(TypeRegistry(load_manifest(PETSTORE).types))
    assert sum(kind == "ok" for kind, _ in outcomes) > 600
    assert sum(kind == "errors" and len(errors) > 1 for kind, errors in outcomes) > 50
    assert hashlib.sha256(repr(outcomes).encode()).hexdigest() == WALKER_DIGEST


def test_a_type_compiled_by_one_thread_is_never_half_seen_by_another() -> None:
    """Two threads asking for the same converter at once: the second waits for the first's
    compilation instead of calling its recursion placeholder (which used to raise IndexError
    when sampling clients dumped their first requests concurrently)."""
    import threading

    manifest = load_manifest(PETSTORE)
    types = dict(manifest.types)
    name = next(iter(types))
    compiler = Compiler(types, strict=True)
    inside, release = threading.Event(), threading.Event()
    original = compiler.compile

    def slow_compile(schema: TypeSchema, type_name: str | None = None) -> Any:
        if type_name == name:
            inside.set()
            assert release.wait(5)
        return original(schema, type_name)

    compiler.compile = slow_compile  # type: ignore[method-assign]
    seen: list[Any] = []
    first = threading.Thread(target=lambda: seen.append(compiler.named(name)))
    first.start()
    assert inside.wait(5)
    second = threading.Thread(target=lambda: seen.append(compiler.named(name)))
    second.start()
    second.join(0.2)
    assert second.is_alive()  # it waits for the compilation instead of taking a placeholder
    release.set()
    first.join(5)
    second.join(5)
    assert len(seen) == 2 and seen[0] is seen[1]


def test_manifest_defaults_and_enums_are_checked_with_their_paths() -> None:
    """The manifest checks convert declared values with the same converter, paths joined alike."""
    from pristine_core.typesystem.schema_checks import type_problems

    types = {
        "Codes": TypeSchema(type="string", enum=("a", 1)),
        "Sizes": TypeSchema(type="array", items=TypeSchema(type="integer"), default=[1, "z", None]),
        "Box": TypeSchema(
            type="object",
            properties={
                "inner": TypeSchema(type="object", properties={"x": TypeSchema(type="integer")}, default={"x": "s"})
            },
        ),
        "Loop": TypeSchema(ref="Loop"),
        "Holder": TypeSchema(type="object", properties={"loop": TypeSchema(ref="Loop")}, default={"loop": 1}),
    }
    assert type_problems(types) == [
        ("types.Codes.enum[1]", "expected a string, got int"),
        ("types.Sizes.default[1]", "expected an integer, got str"),
        ("types.Sizes.default[2]", "must not be null"),
        ("types.Box.properties.inner.default.x", "expected an integer, got str"),
    ]

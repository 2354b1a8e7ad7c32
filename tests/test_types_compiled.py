"""The compiled fast path agrees with the reference walker on random valid and invalid values."""

from __future__ import annotations

import copy
import random
from typing import Any

from pristine_core import load_manifest
from pristine_core.manifest.models import TypeSchema
from pristine_core.typesystem.compiled import Compiler, Fail
from pristine_core.typesystem.registry import TypeRegistry
from pristine_core.typesystem.wire import from_wire, to_wire

from .conftest import PETSTORE

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


def test_compiled_matches_walker() -> None:
    """2,000 random values per direction: same result when valid, failure when invalid."""
    types = load_manifest(PETSTORE).types
    registry = TypeRegistry(types)
    dumper = Compiler(types, strict=True)
    parser = Compiler(types, strict=False, classes=registry.classes)
    rng = random.Random(3)
    agreed = 0
    for name, seed in [("NewPet", VALID_NEW_PET), ("Pet", VALID_PET)]:
        for _ in range(1000):
            value = _mutate(seed, rng) if rng.random() < 0.8 else copy.deepcopy(seed)
            expected, errors = to_wire(types, TypeSchema(ref=name), value)
            try:
                got = dumper.named(name)(value)
                assert not errors and got == expected, (value, errors)
                agreed += 1
            except Fail:
                assert errors, value
            expected, errors = from_wire(types, TypeSchema(ref=name), value, registry.classes.get)
            if value is None:
                continue
            try:
                got = parser.named(name)(value)
                assert not errors and got == expected, (value, errors)
            except Fail:
                assert errors, value
    assert agreed > 300


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

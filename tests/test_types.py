"""Manifest types: strict dumping of requests, lenient parsing of responses, classes."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from pristine_core import ValidationError, load_manifest
from pristine_core.typesystem import TypeRegistry


@pytest.fixture
def registry(petstore: dict[str, Any]) -> TypeRegistry:
    return TypeRegistry(load_manifest(petstore).types)


def test_defaults_and_none_omission(registry: TypeRegistry) -> None:
    """Defaults fill in; None is omitted unless the field is explicit-null."""
    assert registry.dump("NewPet", {"name": "Rex", "note": None, "chip": None}) == {
        "name": "Rex",
        "kind": "cat",
        "chip": None,
    }


def test_errors_name_every_field(registry: TypeRegistry) -> None:
    """All problems are reported with their field paths."""
    with pytest.raises(ValidationError) as info:
        registry.dump("NewPet", {"name": "", "age": -1, "kind": "cow", "labels": {"a": "x"}, "extra": 1})
    assert dict(info.value.errors) == {
        "name": "must be at least 1 characters",
        "age": "must be >= 0",
        "kind": "must be one of cat, dog, fish",
        "labels.a": "expected a number, got str",
        "extra": "unknown field",
    }
    with pytest.raises(ValidationError) as info:
        registry.dump("NewPet", {})
    assert info.value.errors == [("name", "required field is missing")]


def test_tagged_union(registry: TypeRegistry) -> None:
    """oneOf variants are chosen by the discriminator; unknown tags are errors."""
    assert registry.dump("NewPet", {"name": "a", "toy": {"type": "bone", "meaty": True}})["toy"] == {
        "type": "bone",
        "meaty": True,
    }
    with pytest.raises(ValidationError) as info:
        registry.dump("NewPet", {"name": "a", "toy": {"type": "stick"}})
    assert info.value.errors == [("toy.type", "unknown variant 'stick'")]
    toy = registry.parse("Toy", {"type": "ball", "size": 2})
    assert type(toy).__name__ == "Ball" and toy.size == 2


def test_parse_builds_frozen_classes_and_ignores_unknown(registry: TypeRegistry) -> None:
    """Responses become frozen attrs instances; unknown server fields are ignored."""
    pet = registry.parse("Pet", {"id": "1", "name": "Rex", "owner": {"name": "Ann"}, "new_field": 1})
    assert pet.owner.name == "Ann" and pet.tags is None
    assert attrs.has(type(pet))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        pet.name = "Max"
    with pytest.raises(ValidationError) as info:
        registry.parse("Pet", {"id": 1})
    assert dict(info.value.errors) == {"id": "expected a string, got int", "name": "required field is missing"}


def test_instances_dump_like_dicts(registry: TypeRegistry) -> None:
    """Instances of the generated classes can be passed where dicts are expected."""
    pet_cls = registry.cls("Pet")
    pet = pet_cls(id="1", name="Rex", tags=["a"])
    assert registry.dump("Pet", pet) == {"id": "1", "name": "Rex", "tags": ["a"]}
    assert registry.parse("Pet", {"id": "2", "name": "Max"}) == pet_cls(id="2", name="Max")


def test_override_class(petstore: dict[str, Any]) -> None:
    """A domain class replaces the generated one and keeps its helpers."""

    @attrs.frozen(kw_only=True)
    class Owner:
        name: str

        def shout(self) -> str:
            return self.name.upper()

    registry = TypeRegistry(load_manifest(petstore).types, {"Owner": Owner})
    pet = registry.parse("Pet", {"id": "1", "name": "Rex", "owner": {"name": "ann"}})
    assert isinstance(pet.owner, Owner) and pet.owner.shout() == "ANN"
    assert registry.dump("Owner", Owner(name="b")) == {"name": "b"}

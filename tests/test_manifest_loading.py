"""Manifest loading: sources, the model, and every kind of error with its JSON path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pristine_core import ManifestError, load_manifest
from pristine_core.manifest.loader import parse_json


def problems(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(ManifestError) as info:
        load_manifest(data)
    return info.value.problems


def test_loads_from_dict_path_and_package(petstore: dict[str, Any], tmp_path: Any) -> None:
    """A dict, a file path and a package resource give the same manifest."""
    manifest = load_manifest(petstore)
    assert manifest.name == "petstore"
    ep = manifest.endpoint("pets.get")
    assert (ep.name, ep.resource, ep.method, ep.path_params) == ("get", "pets", "GET", ("pet_id",))
    path = tmp_path / "m.json"
    path.write_text(json.dumps(petstore))
    assert load_manifest(str(path)) == manifest
    assert load_manifest(("tinkex_domain", "manifest.json")).name


def test_method_case_is_normalised(petstore: dict[str, Any]) -> None:
    """Methods may be written in any case."""
    petstore["resources"]["pets"]["get"]["method"] = "get"
    assert load_manifest(petstore).endpoint("pets.get").method == "GET"


def test_bad_method_names_its_path(petstore: dict[str, Any]) -> None:
    """The example from the issue: a bad method names resources.<r>.<e>.method."""
    petstore["resources"]["pets"]["create"]["method"] = "FETCH"
    assert problems(petstore) == [
        ("resources.pets.create.method", "must be one of GET, POST, PUT, PATCH, DELETE, HEAD")
    ]


def test_all_problems_reported_together(petstore: dict[str, Any]) -> None:
    """Structural problems are collected, not stopped at the first."""
    petstore["resources"]["pets"]["get"]["timeout_s"] = "soon"
    petstore["resources"]["pets"]["list"]["respons"] = "Pet"
    del petstore["resources"]["pets"]["delete"]["path"]
    found = dict(problems(petstore))
    assert found["resources.pets.get.timeout_s"].startswith("expected a number")
    assert found["resources.pets.list.respons"] == "unknown key (did you mean 'response'?)"
    assert found["resources.pets.delete.path"] == "required field is missing"


def test_semantic_problems(petstore: dict[str, Any]) -> None:
    """Unknown references, bad paths and clashes are reported with paths."""
    pets = petstore["resources"]["pets"]
    pets["get"]["response"] = "Nope"
    pets["get"]["path"] = "pets/{pet_id}/{pet_id}"
    pets["rename"]["query"] = {"pet_id": {"type": "string"}}
    found = problems(petstore)
    paths = [p for p, _ in found]
    assert "resources.pets.get.response" in paths
    assert paths.count("resources.pets.get.path") == 2
    assert "resources.pets.rename.query.pet_id" in paths


def test_unclaimed_keys_are_kept_aside_or_rejected_when_strict(petstore: dict[str, Any]) -> None:
    """Keys no plugin declared are listed (not errors) unless strict; near-misses are typos."""
    petstore["resources"]["pets"]["list"]["cache_ttl"] = 5
    petstore["features"] = {"cache": {"ttl_s": 1}}
    petstore["rate_limits"] = {}
    manifest = load_manifest(petstore)
    assert {"resources.pets.list.cache_ttl", "features.cache", "rate_limits"} <= set(manifest.unclaimed)
    with pytest.raises(ManifestError) as info:
        load_manifest(petstore, strict=True)
    assert ("features.cache", "no loaded plugin reads this key") in info.value.problems


def test_type_problems(petstore: dict[str, Any]) -> None:
    """Unknown $refs, bad unions, bad enums and defaults are reported."""
    types = petstore["types"]
    types["Pet"]["properties"]["owner"] = {"$ref": "Human"}
    types["Toy"]["oneOf"].append({"$ref": "Owner"})
    types["Kind"]["enum"] = ["cat", 3]
    types["NewPet"]["properties"]["age"]["default"] = "old"
    types["Empty"] = {"description": "nothing"}
    found = problems(petstore)
    paths = [p for p, _ in found]
    assert "types.Pet.properties.owner.$ref" in paths
    assert "types.Toy.oneOf[2]" in paths
    assert "types.Kind.enum[1]" in paths
    assert "types.NewPet.properties.age.default" in paths
    assert ("types.Empty", "needs one of 'type', '$ref' or 'oneOf'") in found


def test_duplicate_keys_and_bad_json() -> None:
    """Duplicate JSON keys are errors with their path; broken JSON names line and column."""
    text = (
        '{"name": "x", "resources": {"a": {"e": {"method": "GET", "path": "/a"}, '
        '"e": {"method": "GET", "path": "/b"}}}}'
    )
    with pytest.raises(ManifestError) as info:
        parse_json(text)
    assert info.value.problems == [("resources.a.e", "duplicate key")]
    with pytest.raises(ManifestError) as info:
        parse_json('{"name": ')
    assert info.value.problems[0][0] == "$"
    assert "line 1" in info.value.problems[0][1]


def test_duplicate_method_and_path(petstore: dict[str, Any]) -> None:
    """Two endpoints with the same method and path shape are an error."""
    petstore["resources"]["health"]["again"] = {"method": "GET", "path": "/pets/{other}"}
    assert ("resources.health.again", "same method and path as resources.pets.get") in problems(petstore)


def test_reserved_and_invalid_names(petstore: dict[str, Any]) -> None:
    """Resource and endpoint names must be identifiers and not shadow the client."""
    petstore["resources"]["close"] = {}
    petstore["resources"]["pets"]["raw"] = {"method": "GET", "path": "/raw"}
    petstore["resources"]["bad-name"] = {}
    paths = [p for p, _ in problems(petstore)]
    assert {"resources.close", "resources.pets.raw", "resources.bad-name"} <= set(paths)


def test_loader_owned_keys_rejected(petstore: dict[str, Any]) -> None:
    """``name`` and ``resource`` inside an endpoint are set by the loader."""
    petstore["resources"]["pets"]["get"]["name"] = "x"
    assert problems(petstore) == [("resources.pets.get.name", "set by the loader; remove it")]


def test_unreadable_file(tmp_path: Any) -> None:
    """A missing file is a ManifestError, not an OSError."""
    assert problems(str(tmp_path / "missing.json"))[0][0] == "$"


def test_unknown_top_level_key_does_not_hide_other_problems(petstore: dict[str, Any]) -> None:
    """An unknown top-level key is one problem among the others, not the only one reported."""
    petstore["resoruces"] = {}
    petstore["resources"]["pets"]["get"]["timeout_s"] = "soon"
    found = dict(problems(petstore))
    assert found["resoruces"] == "unknown key (did you mean 'resources'?)"
    assert found["resources.pets.get.timeout_s"].startswith("expected a number")


def test_unknown_top_level_key_reported_with_semantic_problems(petstore: dict[str, Any]) -> None:
    """A manifest that structures fine still gets its semantic checks next to the unknown key."""
    petstore["extra"] = 1
    petstore["resources"]["pets"]["get"]["response"] = "Nope"
    with pytest.raises(ManifestError) as info:
        load_manifest(petstore, strict=True)  # without strict, a key nobody reads is kept aside
    paths = [path for path, _ in info.value.problems]
    assert "extra" in paths and "resources.pets.get.response" in paths

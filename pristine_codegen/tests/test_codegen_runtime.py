"""The generated package's build-time configuration at run time: classes handed over, manifest
structured once, typed face over an existing runtime client."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pristine_core import Client, PristineError
from pristine_core.typesystem import classes as runtime_classes

from .conftest import PETSHOP

PACKAGE = "petshop_runtime_sdk"


def test_clients_reuse_the_manifest_and_build_no_classes(
    generated: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    generated(PACKAGE)
    sdk: Any = importlib.import_module(PACKAGE)
    types: Any = importlib.import_module(PACKAGE + ".types")
    built: list[str] = []
    original = runtime_classes.build_class
    monkeypatch.setattr(
        "pristine_core.typesystem.registry.build_class",
        lambda name, schema: built.append(name) or original(name, schema),
    )
    first = sdk.PetshopClient(base_url="http://127.0.0.1:9", plugins=["futures", "streaming"])
    second = sdk.PetshopClient(base_url="http://127.0.0.1:9", plugins=["futures", "streaming"])
    try:
        assert built == []
        assert second.runtime.meta.manifest is first.runtime.meta.manifest is sdk.BUILD.manifest
        for name, cls in types.TYPE_CLASSES.items():
            assert second.runtime.meta.types.cls(name) is cls
        assert set(sdk.BUILD.endpoints) == {ep.qualified_name for ep in first.runtime.meta.manifest.endpoints()}
    finally:
        first.close()
        second.close()


def test_wrap_checks_the_manifest(generated: Callable[[str], Path]) -> None:
    generated(PACKAGE)
    sdk: Any = importlib.import_module(PACKAGE)
    runtime_module: Any = importlib.import_module(PACKAGE + "._runtime")
    spec = json.loads(PETSHOP.read_text())
    with Client(spec, base_url="http://127.0.0.1:9", plugins=["futures", "streaming"]) as runtime:
        typed = sdk.PetshopClient.wrap(runtime)
        assert typed.runtime is runtime and typed.pets._client is runtime
    spec["name"] = "other"
    del spec["resources"]["pets"]["chat"]
    with Client(spec, base_url="http://127.0.0.1:9", plugins=["futures", "streaming"]) as runtime:
        with pytest.raises(PristineError, match=r"does not match .*missing endpoints: pets\.chat"):
            sdk.PetshopClient.wrap(runtime)
    assert runtime_module.given({"a": None, "b": 0, "c": False}) == {"b": 0, "c": False}

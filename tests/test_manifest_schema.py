"""The shipped JSON Schema agrees with the loader on valid and invalid manifests."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pristine_core import ManifestError, load_manifest
from pristine_core.manifest import SettingsSchema
from pristine_core.plugins import PluginSelection, build_plugin_manager

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    text = resources.files("pristine_core.manifest").joinpath("manifest.schema.json").read_text()
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def builtins() -> SettingsSchema:
    """The declared settings of every installed plugin (the keys the shipped schema documents)."""
    pm, _records, _failures = build_plugin_manager(PluginSelection.resolve())
    return SettingsSchema.from_hooks(pm)


def test_valid_manifests_pass_the_schema(validator: Any, petstore: dict[str, Any], builtins: SettingsSchema) -> None:
    """The test manifest and the Tinker manifest validate against the schema and the loader."""
    tinker = json.loads((ROOT / "manifest.json").read_text())
    for manifest in (petstore, tinker):
        assert list(validator.iter_errors(manifest)) == []
        load_manifest(manifest, schema=builtins, strict=True)


def test_schema_rejects_what_the_loader_rejects(
    validator: Any, petstore: dict[str, Any], builtins: SettingsSchema
) -> None:
    """Structural mistakes fail both the schema and the loader."""
    for mutate in (
        lambda m: m["resources"]["pets"]["get"].update(method="FETCH"),
        lambda m: m["resources"]["pets"]["get"].update(bogus=1),
        lambda m: m.update(unknown_top_level={}),
        lambda m: m["types"]["Pet"].update(type="thing"),
    ):
        manifest = json.loads(json.dumps(petstore))
        mutate(manifest)
        assert list(validator.iter_errors(manifest))
        with pytest.raises(ManifestError):
            load_manifest(manifest, schema=builtins, strict=True)

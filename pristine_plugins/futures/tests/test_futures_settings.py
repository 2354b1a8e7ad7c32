"""Settings: manifest validation, client and call overrides, entry-point discovery."""

from __future__ import annotations

import importlib.metadata

import pytest

from pristine_core import Client, ManifestError, ValidationError
from pristine_plugins.futures import FuturesPlugin, FuturesSettings


def build(manifest: dict, **kwargs) -> Client:
    return Client(manifest, plugins=[FuturesPlugin()], autoload_plugins=False, **kwargs)


def test_bad_settings_are_reported_with_paths(make_manifest):
    bad = make_manifest(bogus=1, max_workers=0, iteration_header="", backoff_cap_s=-1, allow_metadata_only="yes")
    with pytest.raises(ManifestError) as info:
        build(bad)
    paths = {path for path, _ in info.value.problems}
    assert paths == {
        "features.futures.bogus",
        "features.futures.max_workers",
        "features.futures.iteration_header",
        "features.futures.backoff_cap_s",
        "features.futures.allow_metadata_only",
    }


def test_future_endpoints_need_a_retrieve_endpoint(make_manifest):
    missing_key = make_manifest()
    del missing_key["features"]["futures"]["retrieve_endpoint"]
    with pytest.raises(ManifestError, match="retrieve_endpoint"):
        build(missing_key)
    missing_block = make_manifest()
    del missing_block["features"]["futures"]
    with pytest.raises(ManifestError, match=r"features\.futures"):
        build(missing_block)


def test_manifest_values_then_client_config(make_manifest):
    client = build(make_manifest(max_workers=3), config={"futures": {"poll_timeout_s": 7.5}})
    try:
        settings = client.meta.plugin("futures").settings
        assert isinstance(settings, FuturesSettings)
        assert (settings.max_workers, settings.poll_timeout_s, settings.max_blank_400s) == (3, 7.5, 3)
    finally:
        client.close()


def test_bad_client_config_is_rejected(make_manifest):
    with pytest.raises(ValidationError, match="poll_timeout_s"):
        build(make_manifest(), config={"futures": {"poll_timeout_s": 0}})


def test_defaults_when_the_block_is_minimal():
    settings = FuturesSettings(retrieve_endpoint="a.b")
    assert (settings.iteration_header, settings.request_type_header) == (None, None)
    assert settings.allow_metadata_only is True


def test_entry_point_is_installed_and_autoloads(make_manifest):
    names = {ep.name: ep for ep in importlib.metadata.entry_points(group="pristine.plugins")}
    assert names["futures"].load() is FuturesPlugin
    client = Client(make_manifest(), plugins=["futures"])
    try:
        assert isinstance(client.meta.plugin("futures"), FuturesPlugin)
        assert [r.priority for r in client.meta.plugins() if r.name == "futures"] == [300]
    finally:
        client.close()

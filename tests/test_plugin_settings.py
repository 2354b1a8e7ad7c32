"""The plugin contract v2: every key a plugin reads is declared, typed and checked by path.

- per built-in plugin: a typo in each manifest, endpoint, config and call-option key it declares
  is rejected naming the path (with the suggestion), and every declared field has a type;
- a throwaway third-party plugin (a real dist-info on ``sys.path``) declaring a top-level section
  and an endpoint key is validated, reported and read back typed, with no change to the core;
- no resource name can shadow a client service; a transport can be injected.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import pristine_core as pc
from pristine_cli.cli import main as cli
from pristine_core.manifest.checks import RESERVED_RESOURCE_NAMES
from pristine_core.plugins import PluginSelection, build_plugin_manager
from pristine_testing import LoopbackServer, json_reply

BUILTINS = [
    "environment", "retry", "pool", "futures", "session", "telemetry", "streaming",
    "multipart", "metrics", "otel", "protobuf", "tinkex",
]


def declarations() -> list[tuple[str, pc.PluginSettings]]:
    _pm, records, _ = build_plugin_manager(PluginSelection.resolve(plugins=BUILTINS))
    return [(r.name, r.plugin.pristine_settings()) for r in records if hasattr(r.plugin, "pristine_settings")]


def typo(key: str) -> str:
    """A near miss: the last character doubled."""
    return key + key[-1]


def base_manifest() -> dict[str, Any]:
    return {
        "name": "probe",
        "base_url": "http://127.0.0.1:9",
        "resources": {"items": {"get": {"method": "GET", "path": "/items"}}},
    }


def test_every_builtin_plugin_declares_typed_settings() -> None:
    found = dict(declarations())
    assert set(BUILTINS) <= set(found)
    for name, decl in found.items():
        classes = [c for c in (decl.endpoint, decl.config, decl.options) if c is not None]
        for section in decl.sections.values():
            classes.extend(a for a in getattr(section, "__args__", (section,)) if attrs.has(a))
        for cls in classes:
            for field in attrs.fields(cls):
                assert field.type is not None, f"{name}: {cls.__name__}.{field.name} has no declared type"


def section_cases() -> Iterator[tuple[str, str, str]]:
    for plugin, decl in declarations():
        for path, cls in decl.sections.items():
            inner = getattr(cls, "__args__", (None, cls))[-1]
            if not attrs.has(inner):
                continue  # a free-form section (e.g. protobuf message definitions, checked by its plugin)
            for field in attrs.fields(inner):
                yield plugin, path, field.name


@pytest.mark.parametrize(("plugin", "path", "key"), list(section_cases()))
def test_a_typo_in_a_section_key_is_rejected_with_its_path(plugin: str, path: str, key: str) -> None:
    doc = base_manifest()
    top, _, sub = path.partition(".")
    block: dict[str, Any] = {typo(key): None}
    if sub:
        doc.setdefault(top, {})[sub] = block
    else:
        doc[top] = {"one": block}
    with pytest.raises(pc.ManifestError) as info:
        pc.Client(doc, plugins=[plugin])
    where = f"{path}.{typo(key)}" if sub else f"{path}.one.{typo(key)}"
    assert (where, f"unknown key (did you mean {key!r}?)") in info.value.problems


def keyed_cases(kind: str) -> Iterator[tuple[str, str]]:
    for plugin, decl in declarations():
        cls = getattr(decl, kind)
        for field in attrs.fields(cls) if cls is not None else ():
            yield plugin, field.name


@pytest.mark.parametrize(("plugin", "key"), list(keyed_cases("endpoint")))
def test_a_typo_in_an_endpoint_key_is_rejected(plugin: str, key: str) -> None:
    doc = base_manifest()
    doc["resources"]["items"]["get"][typo(key)] = None
    with pytest.raises(pc.ManifestError) as info:
        pc.Client(doc, plugins=[plugin])
    path, message = f"resources.items.get.{typo(key)}", f"unknown key (did you mean {key!r}?)"
    assert (path, message) in info.value.problems


@pytest.mark.parametrize(("plugin", "key"), list(keyed_cases("config")))
def test_a_typo_in_a_config_key_is_rejected(plugin: str, key: str) -> None:
    with pytest.raises(pc.ValidationError) as info:
        pc.Client(base_manifest(), plugins=[plugin], config={typo(key): None})
    assert (f"config.{typo(key)}", f"unknown key (did you mean {key!r}?)") in info.value.errors


@pytest.mark.parametrize(("plugin", "key"), list(keyed_cases("options")))
def test_a_typo_in_a_call_option_is_rejected_before_sending(plugin: str, key: str) -> None:
    with LoopbackServer() as server, pc.Client(base_manifest(), base_url=server.url, plugins=[plugin]) as client:
        with pytest.raises(pc.ValidationError) as info:
            client.items.get(request_options={typo(key): None})
        assert server.requests == []
    assert (f"request_options.{typo(key)}", f"unknown key (did you mean {key!r}?)") in info.value.errors


def test_config_typo_from_the_issue() -> None:
    with pytest.raises(pc.ValidationError) as info:
        pc.Client(base_manifest(), plugins=["retry"], config={"retyr": {"max_retries": 1}})
    assert info.value.errors == [("config.retyr", "unknown key (did you mean 'retry'?)")]


def test_wrong_values_name_their_path() -> None:
    doc = base_manifest()
    doc["retry_policies"] = {"std": {"max_retries": "3", "jitter": 2}}
    doc["resources"]["items"]["get"]["retry"] = 5
    with pytest.raises(pc.ManifestError) as info:
        pc.Client(doc, plugins=["retry"])
    paths = dict(info.value.problems)
    assert paths["retry_policies.std.max_retries"].startswith("expected an integer")
    assert paths["retry_policies.std.jitter"] == "must be between 0 and 1"
    assert paths["resources.items.get.retry"].startswith("expected")


# -- a third-party plugin -------------------------------------------------------------------------

_THIRD_PARTY = '''
import attrs
import pristine_core as pc
from pristine_core.contract import at_least

@pc.settings
class Quota:
    limit: int = attrs.field(validator=at_least(1))
    window_s: float = 60.0

@pc.settings
class QuotaEndpoint:
    quota: str | None = None

class QuotaPlugin:
    name = "quota"
    priority = 550

    @pc.hookimpl
    def pristine_settings(self):
        return pc.PluginSettings(sections={"quotas": dict[str, Quota]}, endpoint=QuotaEndpoint)

    @pc.hookimpl
    def pristine_validate_manifest(self, manifest):
        quotas = manifest.section("quotas", {})
        return [
            (f"resources.{ep.resource}.{ep.name}.quota", "unknown quota")
            for ep in manifest.endpoints()
            if ep.settings_of(QuotaEndpoint).quota not in (None, *quotas)
        ]
'''


@pytest.fixture
def quota_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An installed distribution ``acme-quota`` with the entry point ``quota``."""
    (tmp_path / "acme_quota.py").write_text(_THIRD_PARTY)
    info = tmp_path / "acme_quota-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-quota\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pristine.plugins]\nquota = acme_quota:QuotaPlugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("PRISTINE_PLUGINS", raising=False)
    monkeypatch.delenv("PRISTINE_DISABLE_PLUGINS", raising=False)
    import acme_quota

    yield acme_quota
    sys.modules.pop("acme_quota", None)


def test_a_third_party_plugin_owns_a_top_level_section_and_an_endpoint_key(quota_plugin: Any) -> None:
    doc = base_manifest()
    doc["quotas"] = {"small": {"limit": 10}}
    doc["resources"]["items"]["get"]["quota"] = "small"
    with pc.Client(doc, plugins=["quota"]) as client:
        manifest = client.meta.manifest
        assert manifest.section("quotas") == {"small": quota_plugin.Quota(limit=10, window_s=60.0)}
        keys = manifest.endpoint("items.get").settings_of(quota_plugin.QuotaEndpoint)
        assert keys == quota_plugin.QuotaEndpoint(quota="small")
    doc["quotas"] = {"small": {"limit": 0, "windows_s": 5}}
    doc["resources"]["items"]["get"]["quotas"] = "small"
    with pytest.raises(pc.ManifestError) as info:
        pc.Client(doc, plugins=["quota"])
    assert set(info.value.problems) == {
        ("quotas.small.limit", "must be >= 1"),
        ("quotas.small.windows_s", "unknown key (did you mean 'window_s'?)"),
        ("resources.items.get.quotas", "unknown key (did you mean 'quota'?)"),
    }
    doc["quotas"] = {"small": {"limit": 1}}
    doc["resources"]["items"]["get"] = {"method": "GET", "path": "/items", "quota": "large"}
    with pytest.raises(pc.ManifestError) as info:
        pc.Client(doc, plugins=["quota"])
    assert info.value.problems == [("resources.items.get.quota", "unknown quota")]


def test_validate_reports_keys_of_plugins_not_loaded(
    quota_plugin: Any, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = base_manifest()
    doc["quotas"] = {"small": {"limit": 10}}
    doc["colours"] = {}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    monkeypatch.setenv("PRISTINE_DISABLE_PLUGINS", "quota")
    assert cli(["manifest", "validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "quotas: warning: unclaimed key (plugin 'quota' reads it but is not loaded)" in out
    assert "colours: warning: unclaimed key (no installed plugin reads it)" in out
    assert cli(["manifest", "validate", str(path), "--strict"]) == 1
    assert "quotas: error: unclaimed key" in capsys.readouterr().out
    import structlog

    structlog.reset_defaults()


# -- the client namespace and the transport ------------------------------------------------------


def test_no_resource_name_can_shadow_a_client_service() -> None:
    with pc.Client(base_manifest(), autoload_plugins=False) as bare:
        public = {name for name in dir(bare) if not name.startswith("_")} - {"items"}
    assert public == {"close", "meta"} == set(RESERVED_RESOURCE_NAMES)
    for name in sorted(public):
        doc = base_manifest()
        doc["resources"][name] = {"get": {"method": "GET", "path": f"/{name}"}}
        with pytest.raises(pc.ManifestError, match="reserved"):
            pc.Client(doc, autoload_plugins=False)
    doc = base_manifest()
    services = ("types", "state", "tenant", "clock", "manifest", "config", "endpoint", "plugins", "transport")
    for i, name in enumerate(services):
        doc["resources"][name] = {"get": {"method": "GET", "path": f"/r{i}"}}
    with pc.Client(doc, autoload_plugins=False) as client:
        for name in services:
            assert isinstance(getattr(client, name), pc.Resource)
            assert not isinstance(getattr(client.meta, name), pc.Resource)


class FlakyTransport:
    """A Transport that fails the first attempt without any server, then answers."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.closed = False

    def send(self, request: pc.Request, budget_s: float | None = None) -> pc.Response:
        self.sent.append(request.attempt)
        if len(self.sent) == 1:
            raise pc.APIConnectionError("connection reset (injected)", method=request.method, url=request.url)
        return pc.Response(200, {"Content-Type": "application/json"}, b'{"ok": true}', request=request)

    def close(self) -> None:
        self.closed = True


def test_an_injected_transport_sees_every_attempt() -> None:
    transport = FlakyTransport()
    assert isinstance(transport, pc.Transport)
    doc = base_manifest()
    doc["retry_policies"] = {"quick": {"max_retries": 2, "base_delay_s": 0, "max_delay_s": 0}}
    doc["defaults"] = {"retry": "quick"}
    with pc.Client(doc, plugins=["retry"], transport=transport, clock=pc.FakeClock()) as client:
        assert client.items.get() == {"ok": True}
        assert client.meta.transport is transport
    assert transport.sent == [0, 1] and transport.closed


def test_the_loopback_server_answers_through_the_default_transport() -> None:
    with LoopbackServer(lambda seen: json_reply({"n": 1})) as server:
        with pc.Client(base_manifest(), base_url=server.url, autoload_plugins=False) as client:
            assert isinstance(client.meta.transport, pc.RequestsTransport)
            assert client.items.get() == {"n": 1}

"""Entry-point discovery with throwaway plugin distributions on sys.path.

Each fake distribution is a real ``*.dist-info`` directory with ``entry_points.txt``, found by
``importlib.metadata`` exactly like an installed wheel.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pristine_core as pc
from pristine_core.plugins import PluginSelection, build_plugin_manager

MANIFEST = {"name": "m", "base_url": "http://127.0.0.1:9", "resources": {}}


def _write_dist(root: Path, dist: str, module: str, source: str, entry_points: dict[str, str]) -> None:
    (root / f"{module}.py").write_text(source)
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[pristine.plugins]\n{lines}\n")


@pytest.fixture
def fake_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Five plugin distributions written in shuffled order, one of them broken."""
    specs = [("alpha", 900), ("beta", 500), ("gamma", 500), ("delta", 100)]
    random.Random(7).shuffle(specs)
    for name, priority in specs:
        source = (
            "import pristine_core as pc\n"
            f"class Plugin:\n    name = {name!r}\n    priority = {priority}\n"
            "    @pc.hookimpl\n"
            "    def pristine_prepare_call(self, call):\n"
            f"        call.context.setdefault('order', []).append({name!r})\n"
        )
        _write_dist(tmp_path, f"fake-{name}", f"fake_{name}", source, {name: f"fake_{name}:Plugin"})
    _write_dist(
        tmp_path,
        "fake-broken",
        "fake_broken",
        "raise ImportError('missing native lib')\n",
        {"broken": "fake_broken:Plugin"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for var in ("PRISTINE_PLUGINS", "PRISTINE_DISABLE_PLUGINS", "PRISTINE_STRICT_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    yield tmp_path
    for name in ("alpha", "beta", "gamma", "delta", "broken"):
        sys.modules.pop(f"fake_{name}", None)


def _names(selection: PluginSelection) -> list[str]:
    _, records, _ = build_plugin_manager(selection)
    return [r.name for r in records if r.name in {"alpha", "beta", "gamma", "delta"}]


def test_discovered_in_priority_then_name_order(fake_plugins: Path) -> None:
    """Priority descending, ties by name, whatever the installation order."""
    _, records, failures = build_plugin_manager(PluginSelection.resolve())
    fake = [r for r in records if r.name in {"alpha", "beta", "gamma", "delta"}]
    assert [r.name for r in fake] == ["alpha", "beta", "gamma", "delta"]
    assert fake[0].distribution == "fake-alpha" and fake[0].version == "1.2.3"
    assert fake[0].hooks == ("pristine_prepare_call",)
    assert [f.name for f in failures] == ["broken"]
    assert failures[0].distribution == "fake-broken" and "missing native lib" in failures[0].error


def test_hooks_called_in_effective_order(fake_plugins: Path) -> None:
    """pluggy calls the implementations in the same effective order."""
    with pc.Client(MANIFEST, plugins=["alpha", "beta", "gamma", "delta"]) as client:
        call = client.meta.plugin_manager
        assert [r.name for r in client.meta.plugins()] == ["alpha", "beta", "gamma", "delta"]
        impls = [impl.plugin_name for impl in reversed(call.hook.pristine_prepare_call.get_hookimpls())]
    assert impls == ["alpha", "beta", "gamma", "delta"]


def test_deny_and_allow_lists(fake_plugins: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PRISTINE_DISABLE_PLUGINS removes; PRISTINE_PLUGINS allows only; arguments narrow further."""
    monkeypatch.setenv("PRISTINE_DISABLE_PLUGINS", "beta, delta")
    assert _names(PluginSelection.resolve()) == ["alpha", "gamma"]
    monkeypatch.delenv("PRISTINE_DISABLE_PLUGINS")
    monkeypatch.setenv("PRISTINE_PLUGINS", "gamma,delta")
    assert _names(PluginSelection.resolve()) == ["gamma", "delta"]
    assert _names(PluginSelection.resolve(plugins=["delta", "alpha"])) == ["delta"]
    assert _names(PluginSelection.resolve(disable_plugins=["gamma"])) == ["delta"]
    monkeypatch.delenv("PRISTINE_PLUGINS")
    with pc.Client(MANIFEST, disable_plugins=["alpha", "broken"]) as client:
        names = [r.name for r in client.meta.plugins()]
        assert "alpha" not in names and client.meta.plugin_failures == []


def test_import_error_reported_and_strict_raises(fake_plugins: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken plugin is skipped with a report; strict mode raises naming its distribution."""
    with pc.Client(MANIFEST) as client:
        assert [f.name for f in client.meta.plugin_failures] == ["broken"]
    monkeypatch.setenv("PRISTINE_STRICT_PLUGINS", "1")
    with pytest.raises(pc.PluginLoadError, match="fake-broken"):
        pc.Client(MANIFEST)
    with pytest.raises(pc.PluginLoadError):
        build_plugin_manager(PluginSelection.resolve(strict=True))


def test_client_without_autoload_has_no_plugins(fake_plugins: Path) -> None:
    """autoload_plugins=False registers only the objects passed in."""
    with pc.Client(MANIFEST, autoload_plugins=False) as client:
        assert client.meta.plugins() == []


def test_duplicate_names_and_bad_priority_rejected() -> None:
    """Two plugins with one name, or a non-int priority, fail clearly."""

    class A:
        name = "same"

    class B:
        name = "same"

    class C:
        name = "c"
        priority = "high"

    with pytest.raises(pc.PluginLoadError, match="two plugins"):
        pc.Client(MANIFEST, plugins=[A(), B()], autoload_plugins=False)
    with pytest.raises(pc.PluginLoadError, match="priority"):
        pc.Client(MANIFEST, plugins=[C()], autoload_plugins=False)


def test_cli_lists_plugins_and_failures(fake_plugins: Path, capsys: Any) -> None:
    """``pristine plugins --format json`` prints order, distribution, hooks and failures."""
    import json

    from pristine_cli.cli import main

    assert main(["plugins", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    names = [p["name"] for p in report["plugins"] if p["name"] in {"alpha", "beta", "gamma", "delta"}]
    assert names == ["alpha", "beta", "gamma", "delta"]
    assert report["failures"][0]["name"] == "broken"
    assert main(["plugins"]) == 0
    assert "FAILED broken (fake-broken)" in capsys.readouterr().out
    import structlog

    structlog.reset_defaults()

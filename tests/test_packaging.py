"""Packaging: build every wheel, install subsets into fresh virtualenvs, check behaviour.

- core alone: a call is attempted once; after installing pristine-retry alone the same code
  retries (no code change);
- with everything installed, each plugin can be uninstalled on its own and the rest still works.

The wheelhouse holds our wheels plus their dependencies, so the virtualenvs install offline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent / "packaging"
PLUGINS = ["retry", "pool", "multipart", "futures", "session", "streaming", "telemetry", "metrics", "otel"]
DEPENDENCIES = ["pluggy", "requests", "attrs", "cattrs", "structlog", "urllib3", "opentelemetry-api"]


def _run(*args: str | os.PathLike[str], cwd: Path | None = None) -> str:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=600)
    if result.returncode != 0:
        raise AssertionError(f"{args} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of pristine-core and every plugin, plus their dependencies."""
    house = tmp_path_factory.mktemp("wheelhouse")
    sources = [ROOT] + [ROOT / "pristine_plugins" / name for name in PLUGINS]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run(*pip, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", house, *sources)
    _run(*pip, "download", "--quiet", "--only-binary", ":all:", "-d", house, *DEPENDENCIES)
    return house


class Env:
    """A fresh virtualenv that installs only from the wheelhouse."""

    def __init__(self, path: Path, house: Path) -> None:
        venv.EnvBuilder(with_pip=True).create(path)
        self.python = path / "bin" / "python"
        self.house = house

    def install(self, *names: str) -> None:
        _run(self.python, "-m", "pip", "install", "--quiet", "--no-index", "--find-links", self.house, *names)

    def uninstall(self, *names: str) -> None:
        _run(self.python, "-m", "pip", "uninstall", "--quiet", "--yes", *names)

    def script(self, name: str) -> dict[str, object]:
        out = _run(self.python, SCRIPTS / name, cwd=SCRIPTS)
        return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]

    def plugins(self) -> list[str]:
        out = _run(self.python, "-m", "pristine_core.cli", "plugins", "--format", "json", cwd=SCRIPTS)
        return [p["name"] for p in json.loads(out)["plugins"]]


def test_retry_arrives_by_installation_alone(wheelhouse: Path, tmp_path: Path) -> None:
    """Core alone tries once; adding pristine-retry makes the same code retry."""
    env = Env(tmp_path / "venv", wheelhouse)
    env.install("pristine-core")
    assert env.plugins() == []
    assert env.script("retry_probe.py") == {"outcome": "InternalServerError", "requests": 1}
    env.install("pristine-retry")
    assert env.plugins() == ["retry"]
    assert env.script("retry_probe.py") == {"outcome": "ok", "requests": 2}


def test_each_plugin_can_be_removed_alone(wheelhouse: Path, tmp_path: Path) -> None:
    """With everything installed, removing any one plugin leaves the rest working."""
    env = Env(tmp_path / "venv", wheelhouse)
    env.install("pristine-core", *(f"pristine-{name}" for name in PLUGINS))
    everything = env.plugins()
    assert sorted(everything) == sorted(PLUGINS)
    full = env.script("smoke.py")
    assert full["leftover_threads"] == [] and sorted(full["plugins"]) == sorted(PLUGINS)  # type: ignore[arg-type]
    for name in PLUGINS:
        env.uninstall(f"pristine-{name}")
        remaining = env.plugins()
        assert remaining == [p for p in everything if p != name]
        result = env.script("smoke.py")
        assert result == {"plugins": remaining, "leftover_threads": []}, name
        env.install(f"pristine-{name}")


def test_tinkex_wheel_holds_every_package_and_the_manifest(tmp_path: Path) -> None:
    """The tinkex wheel lists every sub-package of the source tree, the manifest and the corpus."""
    import zipfile

    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run(*pip, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", tmp_path, ROOT / "tinkex_domain")
    wheel = next(tmp_path.glob("tinkex-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    source = ROOT / "tinkex_domain"
    expected = {
        "tinkex_domain/" + str(init.relative_to(source))
        for init in source.rglob("__init__.py")
        if "tests" not in init.parts and "build" not in init.parts
    }
    assert expected <= names
    assert "tinkex_domain/manifest.json" in names and "tinkex_domain/data/tiny_corpus.txt" in names
    assert not any("/tests/" in name for name in names)
    manifest = json.loads(zipfile.ZipFile(wheel).read("tinkex_domain/manifest.json"))
    assert manifest == json.loads((ROOT / "manifest.json").read_text())

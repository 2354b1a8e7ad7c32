"""Packaging: build every wheel, install subsets into fresh virtualenvs, check behaviour.

- the runtime alone (no core) runs a scheduler; the core installs it as its dependency;
- core alone: a call is attempted once; after installing pristine-retry alone the same code
  retries (no code change);
- with everything installed, each plugin can be uninstalled on its own and the rest still works;
- ``tinkex[all]`` installs from the wheelhouse alone and ``tinkex demo`` runs;
- every wheel carries full metadata (license, classifiers, README, bounded pristine-core; no URLs
  until real ones exist).

The wheelhouse is built once per run, offline: our wheels come from ``scripts/wheels.py`` (cached
by source hash in the virtualenv), the third-party ones are repacked from this interpreter's own
installed distributions. Every pip call runs with the package index disabled and pip's
configuration files ignored, so these tests pass with no index reachable.
"""

from __future__ import annotations

import email.parser
import importlib.util
import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent / "packaging"
#: Tools every subset below installs next to the core: the ``pristine`` command and the loopback server.
TOOLS = ["pristine-cli", "pristine-testing"]
PLUGINS = [
    "environment", "retry", "pool", "multipart", "futures", "session", "streaming", "telemetry", "metrics", "otel",
    "protobuf",
]
#: pip with no package index at all: an unreachable index URL, no-index, no config files.
OFFLINE_ENV = {
    "PIP_NO_INDEX": "1",
    "PIP_INDEX_URL": "http://127.0.0.1:9/unreachable",
    "PIP_CONFIG_FILE": os.devnull,
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}


def _wheels_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("pristine_wheels", ROOT / "scripts" / "wheels.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WHEELS = _wheels_module()


def _run(*args: str | os.PathLike[str], cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | OFFLINE_ENV
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=600, env=env)
    if result.returncode != 0:
        raise AssertionError(f"{args} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of every distribution in the repository plus their dependencies, built offline."""
    house = tmp_path_factory.mktemp("wheelhouse")
    _run(sys.executable, ROOT / "scripts" / "wheels.py", house, "--deps", "--cache", Path(sys.prefix) / ".wheel-cache")
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
        out = _run(self.python, "-m", "pristine_cli", "plugins", "--format", "json", cwd=SCRIPTS)
        return [p["name"] for p in json.loads(out)["plugins"]]


def test_retry_arrives_by_installation_alone(wheelhouse: Path, tmp_path: Path) -> None:
    """The runtime works without the core; core alone tries once; adding pristine-retry makes the same code retry."""
    env = Env(tmp_path / "venv", wheelhouse)
    env.install("pristine-runtime")
    alone = (
        "import importlib.util\nfrom pristine_runtime.scheduler import Scheduler\nran = []\n"
        "scheduler = Scheduler(background=False)\nscheduler.submit(lambda: ran.append(1))\nscheduler.run_due()\n"
        "print(ran, importlib.util.find_spec('pristine_core'))"
    )
    assert _run(env.python, "-c", alone, cwd=SCRIPTS).split() == ["[1]", "None"]
    env.install("pristine-core")
    probe = "import pristine_core\ntry:\n    pristine_core.LoopbackServer\nexcept ImportError as exc:\n    print(exc)"
    assert "pip install pristine-testing" in _run(env.python, "-c", probe, cwd=SCRIPTS)
    env.install(*TOOLS)
    assert env.plugins() == []
    assert env.script("retry_probe.py") == {"outcome": "InternalServerError", "requests": 1}
    env.install("pristine-retry")
    assert env.plugins() == ["retry"]
    assert env.script("retry_probe.py") == {"outcome": "ok", "requests": 2}


def test_each_plugin_can_be_removed_alone(wheelhouse: Path, tmp_path: Path) -> None:
    """With everything installed, removing any one plugin leaves the rest working."""
    env = Env(tmp_path / "venv", wheelhouse)
    env.install("pristine-core", *TOOLS, *(f"pristine-{name}" for name in PLUGINS))
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


def test_tinkex_wheel_holds_every_package_and_the_manifest(wheelhouse: Path) -> None:
    """The tinkex wheel lists every sub-package of the source tree, the manifest and the corpus."""
    import zipfile

    wheel = next(wheelhouse.glob("tinkex-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    source = ROOT / "tinkex_domain"
    expected = {
        "tinkex_domain/" + str(init.relative_to(source))
        for init in source.rglob("__init__.py")
        if "tests" not in init.parts and "build" not in init.parts and "_public" not in init.parts
    }
    assert expected <= names
    assert "tinkex/__init__.py" in names  # the public import name
    assert "tinkex_domain/manifest.json" in names and "tinkex_domain/data/tiny_corpus.txt" in names
    assert not any("/tests/" in name for name in names)
    manifest = json.loads(zipfile.ZipFile(wheel).read("tinkex_domain/manifest.json"))
    assert manifest == json.loads((ROOT / "manifest.json").read_text())


def test_the_core_wheel_ships_only_the_modules_in_the_tree(wheelhouse: Path) -> None:
    """No stale copy of a module that moved to another distribution (setuptools' build/ folder
    keeps them; ``scripts/wheels.py`` empties it before building)."""
    wheel = next(wheelhouse.glob("pristine_core-*.whl"))
    shipped = [n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("pristine_core/")]
    assert [n for n in shipped if not (ROOT / n).exists()] == []
    assert "pristine_core/client.py" in shipped and "pristine_core/testing.py" not in shipped
    assert "pristine_core/scheduler.py" not in shipped  # in pristine-runtime now


def test_tinkex_all_installs_from_the_wheelhouse_and_runs_the_demo(wheelhouse: Path, tmp_path: Path) -> None:
    """No editable install, no index: ``pip install --find-links dist "tinkex[all]"``, then ``tinkex demo``."""
    env = Env(tmp_path / "venv", wheelhouse)
    env.install("tinkex[all]")
    listing = _run(env.python, "-m", "pip", "list", "--format", "json")
    installed = {item["name"]: item for item in json.loads(listing)}
    assert {"tinkex", "pristine-core", "pristine-runtime", *(f"pristine-{p}" for p in PLUGINS)} <= set(installed)
    assert not [name for name, item in installed.items() if "editable_project_location" in item]
    out = _run(env.python.parent / "tinkex", "demo", "--steps", "3", cwd=tmp_path)
    assert "demo: loss" in out
    probe = "import tinkex, tinkex_domain; print(tinkex.__version__, tinkex.types is tinkex_domain.types)"
    version = _run(env.python, "-c", probe)
    assert version.split() == ["0.1.0", "True"]


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(archive.read(name).decode())


def test_every_distribution_has_a_wheel_with_full_metadata(wheelhouse: Path) -> None:
    """Found generically (every pyproject.toml), so a new plugin is checked as soon as it exists."""
    projects = WHEELS.projects()
    assert {"pristine-runtime", "pristine-core", "tinkex", *TOOLS, *(f"pristine-{p}" for p in PLUGINS)} <= set(projects)
    for name in projects:
        wheel = next(wheelhouse.glob(f"{name.replace('-', '_')}-*.whl"), None)
        assert wheel is not None, f"no wheel built for {name}"
        meta = _metadata(wheel)
        where = f"{name} ({wheel.name})"
        assert meta["License-Expression"] == "Apache-2.0", where
        assert "LICENSE" in (meta.get_all("License-File") or []), where
        with zipfile.ZipFile(wheel) as archive:
            assert any(n.endswith(".dist-info/licenses/LICENSE") for n in archive.namelist()), where
        classifiers = meta.get_all("Classifier") or []
        assert any(c.startswith("Programming Language :: Python :: 3") for c in classifiers), where
        assert any(c.startswith("Development Status") for c in classifiers), where
        # No public repository or documentation host exists yet: no invented addresses. Add
        # [project.urls] (and assert them here) once the project has real ones.
        assert not meta.get_all("Project-URL"), where
        assert meta["Description-Content-Type"] == "text/markdown", where
        body = meta.get_payload()
        assert isinstance(body, str) and len(body) > 200, f"{where}: no long description"
        assert "](../" not in body and "](docs/" not in body, f"{where}: relative links in the description"
        for requirement in meta.get_all("Requires-Dist") or []:
            if requirement.startswith("pristine-"):
                assert "<" in requirement, f"{where}: {requirement} has no upper bound"


def test_twine_check_strict(wheelhouse: Path) -> None:
    """PyPI would accept every wheel's metadata and long description."""
    pytest.importorskip("twine")
    ours = [str(w) for w in sorted(wheelhouse.glob("*.whl")) if w.name.startswith(("pristine", "tinkex"))]
    out = _run(sys.executable, "-m", "twine", "check", "--strict", *ours)
    assert out.count("PASSED") == len(ours)


_CALL_WITH_HEADER = """
import json
from pristine_core import Client, LoopbackServer
manifest = {"name": "demo", "resources": {"items": {"get": {"method": "GET", "path": "/items"}}},
            "features": {"tracer": {"header_value": "v1"}}}
with LoopbackServer() as server:
    with Client(manifest, base_url=server.url) as client:
        client.items.get()
    print(json.dumps({"header": server.requests[0].header("X-tracer")}))
"""


def test_scaffolded_plugin_installs_and_runs(wheelhouse: Path, tmp_path: Path) -> None:
    """``pristine new-plugin``: the package installs offline, lists at its priority between two
    built-ins, its own test passes, its manifest block is validated and a call carries the header."""
    from pristine_cli.scaffold import new_plugin

    package = new_plugin("tracer", 720, tmp_path)
    env = Env(tmp_path / "venv", wheelhouse)
    env.install("pristine-core", *TOOLS, "pristine-retry", "pristine-telemetry")
    house = tmp_path / "house"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run(*pip, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", house, package)
    _run(env.python, "-m", "pip", "install", "--quiet", "--no-index", "--find-links", wheelhouse,
         "--find-links", house, "pristine-tracer")
    assert env.plugins() == ["telemetry", "tracer", "retry"]
    tests = _run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", package / "tests",
                 cwd=package)
    assert "2 passed" in tests
    out = _run(env.python, "-c", _CALL_WITH_HEADER, cwd=tmp_path)
    assert json.loads(out.strip().splitlines()[-1]) == {"header": "v1"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "d", "resources": {}, "features": {"tracer": {"header_value": 3}}}))
    result = subprocess.run([str(env.python), "-m", "pristine_cli", "manifest", "validate", str(bad)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "features.tracer.header_value" in result.stdout

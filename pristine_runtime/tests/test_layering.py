"""The runtime is the bottom layer: it imports nothing of Pristine's core, its plugins or an SDK.

An AST scan of every runtime module checks each import against the standard library, the
runtime itself and its declared dependencies; a fresh interpreter importing every runtime module
confirms no first-party package above it gets loaded.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

RUNTIME = Path(__file__).resolve().parents[1]
#: Third-party packages the runtime may import: its declared dependencies (pyproject.toml).
DEPENDENCIES = {"attrs", "urllib3"}


def runtime_modules() -> list[Path]:
    """Every module of the package (its tests excluded)."""
    return sorted(p for p in RUNTIME.glob("*.py"))


def foreign_imports(path: Path) -> list[str]:
    """``line: module`` for each import of ``path`` outside the stdlib, the runtime and its dependencies."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.partition(".")[0]
            if top != "pristine_runtime" and top not in DEPENDENCIES and top not in sys.stdlib_module_names:
                found.append(f"{node.lineno}: {name}")
    return found


def test_every_runtime_module_is_scanned() -> None:
    names = {p.stem for p in runtime_modules()}
    assert {"scheduler", "lanes", "handle", "clock", "sockguard", "backoff", "secrets"} <= names


@pytest.mark.parametrize("path", runtime_modules(), ids=lambda p: p.name)
def test_a_runtime_module_imports_only_the_stdlib_and_its_dependencies(path: Path) -> None:
    assert foreign_imports(path) == [], f"{path.name} imports above the runtime"


def test_the_scan_catches_a_core_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import threading\nfrom pristine_core.logs import get_logger\nimport tinkex_domain.types\n")
    assert foreign_imports(bad) == ["2: pristine_core.logs", "3: tinkex_domain.types"]


def test_importing_the_whole_runtime_loads_no_package_above_it() -> None:
    modules = ", ".join(f"pristine_runtime.{p.stem}" for p in runtime_modules() if p.stem != "__init__")
    probe = (
        f"import sys, {modules}\n"
        "above = sorted(m for m in sys.modules if m.partition('.')[0] in "
        "{'pristine_core', 'pristine_plugins', 'tinkex_domain', 'pristine_testing', 'pristine_cli', 'structlog'})\n"
        "print(above)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"

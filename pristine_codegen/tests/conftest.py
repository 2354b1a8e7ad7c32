"""Fixtures for the codegen tests: the sample manifest, generation into a temporary directory."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pristine_codegen import generate, write

HERE = Path(__file__).resolve().parent
PETSHOP = HERE / "petshop.json"
REPO = HERE.parent.parent


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """``generated(package)``: the petshop package written under a temporary directory, importable.

    Modules of the package are dropped from ``sys.modules`` afterwards.
    """
    names: list[str] = []

    def make(package: str) -> Path:
        out = tmp_path / "out"
        files = generate(PETSHOP, package, out)
        write(files, out.joinpath(*package.split(".")))
        sys.path.insert(0, str(out))
        names.append(package)
        return out

    yield make
    for package in names:
        for module in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[module]
    sys.path[:] = [p for p in sys.path if not p.startswith(str(tmp_path))]


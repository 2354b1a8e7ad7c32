"""Meta-tests: every hookspec is documented and exercised by a test named after it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from pristine_core import hookspecs

ROOT = Path(__file__).resolve().parent.parent


def _test_sources() -> str:
    paths = list((ROOT / "tests").glob("test_*.py")) + list((ROOT / "pristine_plugins").glob("*/tests/test_*.py"))
    return "\n".join(p.read_text(encoding="utf-8") for p in paths)


def test_every_hookspec_has_a_docstring() -> None:
    """The docstring is the contract, so it must exist and say something."""
    for cls in hookspecs.SPEC_CLASSES:
        for name, func in vars(cls).items():
            if name.startswith("pristine_"):
                doc = inspect.getdoc(func) or ""
                assert len(doc) > 40, f"{name} needs a docstring"


def test_every_hookspec_has_a_test() -> None:
    """A test called test_hook_<name> exists for each hookspec."""
    sources = _test_sources()
    missing = [name for name in hookspecs.all_hook_names() if not re.search(rf"def test_hook_{name}\b", sources)]
    assert missing == []


def test_hook_names_are_documented_in_contributing() -> None:
    """CONTRIBUTING.md lists every hook so plugin authors find them."""
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert [name for name in hookspecs.all_hook_names() if name not in text] == []

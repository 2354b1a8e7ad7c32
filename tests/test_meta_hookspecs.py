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


def test_a_deprecated_hook_warns_its_implementers() -> None:
    """``hookspecs.deprecated`` marks a hook: implementing it warns at registration, naming the
    replacement; the hook still runs."""
    import warnings

    import pluggy

    from pristine_core import hookspecs

    class OldSpecs:
        @hookspecs.deprecated("0.3", "0.5", "pristine_new_thing")
        def pristine_old_thing(self) -> None:
            """An old hook."""

    class Plugin:
        @hookspecs.hookimpl
        def pristine_old_thing(self) -> str:
            return "ran"

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(OldSpecs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pm.register(Plugin())
    assert [type(w.message) for w in caught] == [hookspecs.PristineDeprecationWarning]
    assert "pristine_new_thing" in str(caught[0].message)
    assert pm.hook.pristine_old_thing() == ["ran"]

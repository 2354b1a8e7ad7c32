"""Tinkex, the Tinker fine-tuning API client built on Pristine: ``import tinkex``.

``tinkex`` is the public import name; the code lives in ``tinkex_domain`` (the implementation
package, kept importable for existing code). Every ``tinkex.X`` module *is* the
``tinkex_domain.X`` module (the same object, so classes and ``isinstance`` checks agree)::

    from tinkex import ServiceClient, types
    import tinkex.emulator
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType
from typing import Any

from tinkex_domain import *  # noqa: F403
from tinkex_domain import __all__, __version__  # noqa: F401

_IMPL = "tinkex_domain"


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``tinkex.X`` to the already-importable ``tinkex_domain.X`` module object."""

    def find_spec(self, fullname: str, path: Any = None, target: ModuleType | None = None) -> Any:
        if not fullname.startswith(__name__ + "."):
            return None
        real = _IMPL + fullname[len(__name__):]
        try:
            found = importlib.util.find_spec(real)
        except ModuleNotFoundError:
            return None
        if found is None:
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=found.submodule_search_locations is not None)

    def create_module(self, spec: Any) -> ModuleType:
        return importlib.import_module(_IMPL + spec.name[len(__name__):])

    def exec_module(self, module: ModuleType) -> None:
        return None


if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())

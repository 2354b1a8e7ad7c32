"""Lazy package exports (PEP 562): public names import their module on first use."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``.

    ``exports`` maps a public name to ``"module"`` (the same name in that module),
    ``"module:attribute"`` (another name) or ``"module:"`` (the module itself).
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module_name, colon, attribute = target.partition(":")
        module = importlib.import_module(module_name)
        value = module if colon and not attribute else getattr(module, attribute or name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__

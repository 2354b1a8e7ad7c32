"""Lazy package exports (PEP 562): public names import their module on first use."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], distributions: Mapping[str, str] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``.

    ``exports`` maps a public name to ``"module"`` (the same name in that module),
    ``"module:attribute"`` (another name) or ``"module:"`` (the module itself). ``distributions``
    maps a top-level package that lives in another distribution to that distribution's name: a
    name re-exported from it while it is not installed raises an ``ImportError`` saying what to
    ``pip install``.
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module_name, colon, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            top = module_name.partition(".")[0]
            if distributions is None or top not in distributions or exc.name != top:
                raise
            raise ImportError(
                f"{package}.{name} lives in the {distributions[top]} distribution: pip install {distributions[top]}",
                name=top,
            ) from exc
        value = module if colon and not attribute else getattr(module, attribute or name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__

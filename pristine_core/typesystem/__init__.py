"""Manifest types as attrs classes, with strict request validation and lenient parsing.

:class:`TypeRegistry` is imported on first use, so a module that only needs
:mod:`~pristine_core.typesystem.classes` (a plugin's ``attr_name``) loads no converter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pristine_core.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {"TypeRegistry": "pristine_core.typesystem.registry"})

if TYPE_CHECKING:
    from pristine_core.typesystem.registry import TypeRegistry

__all__ = ["TypeRegistry"]

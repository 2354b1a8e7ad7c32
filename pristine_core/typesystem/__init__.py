"""Manifest types as attrs classes, with strict request validation and lenient parsing."""

from pristine_core.typesystem.registry import TypeRegistry

__all__ = ["TypeRegistry"]

"""The manifest: its data model, its loader and its JSON Schema.

Names are imported on first use: a plugin that only needs :mod:`pristine_core.manifest.models`
does not pay for the loader, the strict converter and the semantic checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pristine_core.lazy import lazy_exports

_EXPORTS = {
    "SettingsSchema": "pristine_core.manifest.claims",
    "build_manifest": "pristine_core.manifest.loader",
    "load_manifest": "pristine_core.manifest.loader",
    "parse_json": "pristine_core.manifest.loader",
    **{
        name: "pristine_core.manifest.models"
        for name in ("Auth", "Defaults", "Endpoint", "Manifest", "QueryParam", "TypeSchema")
    },
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from pristine_core.manifest.claims import SettingsSchema
    from pristine_core.manifest.loader import build_manifest, load_manifest, parse_json
    from pristine_core.manifest.models import Auth, Defaults, Endpoint, Manifest, QueryParam, TypeSchema

__all__ = [
    "Auth",
    "Defaults",
    "Endpoint",
    "Manifest",
    "QueryParam",
    "SettingsSchema",
    "TypeSchema",
    "build_manifest",
    "load_manifest",
    "parse_json",
]

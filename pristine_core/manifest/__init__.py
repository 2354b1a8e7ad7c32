"""The manifest: its data model, its loader and its JSON Schema."""

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

"""The manifest: its data model, its loader and its JSON Schema."""

from pristine_core.manifest.loader import build_manifest, load_manifest, parse_json
from pristine_core.manifest.models import (
    Auth,
    Backpressure,
    CircuitBreakerSpec,
    Defaults,
    Endpoint,
    Manifest,
    PauseRule,
    PoolSpec,
    QueryParam,
    RateLimit,
    RetryPolicy,
    TypeSchema,
)

__all__ = [
    "Auth",
    "Backpressure",
    "CircuitBreakerSpec",
    "Defaults",
    "Endpoint",
    "Manifest",
    "PauseRule",
    "PoolSpec",
    "QueryParam",
    "RateLimit",
    "RetryPolicy",
    "TypeSchema",
    "build_manifest",
    "load_manifest",
    "parse_json",
]

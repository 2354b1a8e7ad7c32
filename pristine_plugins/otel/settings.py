"""The OpenTelemetry plugin's settings: ``features.otel`` in the manifest, then the client's
``config={"otel": {...}}``, then (for ``propagate`` only) the environment variable the manifest
names. Unknown keys and bad values are errors naming their path.

Keys (all optional)::

    enabled          bool   open a span per call (true)
    propagate        bool   inject the W3C ``traceparent``/``tracestate`` headers (false)
    propagate_env    str    environment variable deciding ``propagate`` when the client does not
                            (1/true/yes/on or 0/false/no/off; anything else is an error)
    tracer_name      str    instrumentation scope of the spans ("pristine")
    span_prefix      str    span names are ``<prefix><resource.endpoint>`` ("")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from pristine_core.config import env_bool
from pristine_core.errors import ValidationError

_TYPES: dict[str, type] = {
    "enabled": bool,
    "propagate": bool,
    "propagate_env": str,
    "tracer_name": str,
    "span_prefix": str,
}


@attrs.frozen
class OtelSettings:
    """Validated OpenTelemetry settings (see the module docstring for the keys)."""

    enabled: bool = True
    propagate: bool = False
    propagate_env: str | None = None
    tracer_name: str = "pristine"
    span_prefix: str = ""

    @classmethod
    def build(
        cls,
        block: Mapping[str, Any] | None,
        overrides: Any = None,
        environ: Mapping[str, str] | None = None,
    ) -> OtelSettings:
        """Merge manifest ``block``, client ``overrides`` and the environment; validate."""
        problems = problems_of(block or {}, "features.otel")
        if overrides is False or overrides is True:
            overrides = {"enabled": overrides}
        if overrides is not None and not isinstance(overrides, Mapping):
            problems.append(("config.otel", "expected an object or a boolean"))
            overrides = {}
        problems += problems_of(overrides or {}, "config.otel")
        if problems:
            raise ValidationError(problems, "otel settings")
        merged = {**(block or {}), **(overrides or {})}
        env_name = merged.get("propagate_env")
        if "propagate" not in (overrides or {}) and env_name:
            try:
                merged["propagate"] = env_bool(env_name, bool(merged.get("propagate", False)), environ)
            except ValueError as exc:
                raise ValidationError([(env_name, str(exc))], "environment") from None
        return cls(**merged)


def problems_of(block: Any, at: str) -> list[tuple[str, str]]:
    """Every problem of a settings mapping as ``(json_path, message)`` pairs."""
    if not isinstance(block, Mapping):
        return [(at, "expected an object")]
    problems: list[tuple[str, str]] = []
    for key, value in block.items():
        expected = _TYPES.get(key)
        if expected is None:
            problems.append((f"{at}.{key}", "unknown key"))
        elif not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            problems.append((f"{at}.{key}", f"expected a {'boolean' if expected is bool else 'string'}"))
    return problems

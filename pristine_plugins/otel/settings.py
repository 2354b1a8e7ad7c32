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
from pristine_core.contract import PluginSettings, non_empty, settings, with_changes
from pristine_core.errors import ValidationError


@settings
class OtelSettings:
    """The ``features.otel`` block (see the module docstring for the keys)."""

    enabled: bool = True
    propagate: bool = False
    propagate_env: str | None = attrs.field(default=None, validator=non_empty)
    tracer_name: str = "pristine"
    span_prefix: str = ""

    @classmethod
    def build(
        cls,
        block: OtelSettings | None,
        overrides: Any = None,
        environ: Mapping[str, str] | None = None,
    ) -> OtelSettings:
        """The manifest ``block``, the client's ``config["otel"]`` on top (checked like the
        manifest), then the environment for ``propagate`` when the client did not decide."""
        base = block or cls()
        if overrides is True or overrides is False:
            overrides = {"enabled": overrides}
        merged = with_changes(base, overrides, "config.otel") if overrides else base
        env_name = merged.propagate_env
        if "propagate" not in (overrides or {}) and env_name:
            try:
                merged = attrs.evolve(merged, propagate=env_bool(env_name, merged.propagate, environ))
            except ValueError as exc:
                raise ValidationError([(env_name, str(exc))], "environment") from None
        return merged


@settings
class OtelConfig:
    """``Client(config=...)`` key ``otel``: a boolean or an object of overrides."""

    otel: bool | Mapping[str, Any] | None = None


SETTINGS = PluginSettings(sections={"features.otel": OtelSettings}, config=OtelConfig)

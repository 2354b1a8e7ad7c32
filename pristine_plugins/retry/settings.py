"""Everything the retry plugin reads, declared as typed settings (see ``pristine_settings``).

Manifest: ``retry_policies`` (named :class:`RetryPolicy`), ``circuit_breakers`` (named
:class:`CircuitBreakerSpec`), ``features.retry`` (:class:`RetryFeature`) and the endpoint keys
``retry`` / ``circuit_breaker`` (:class:`RetryEndpoint`, also accepted in ``defaults``).
Client config: :class:`RetryConfig`. Per call: :class:`RetryOptions`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import attrs

from pristine_core.contract import PluginSettings, at_least, between, positive, settings, status_codes
from pristine_core.manifest.models import HTTP_METHODS


def _methods(_: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    for method in value or ():
        if method not in HTTP_METHODS:
            raise ValueError(f"'{attribute.name}' must list HTTP methods ({', '.join(HTTP_METHODS)}), got {method!r}")


@settings
class PauseRule:
    """A status the retry plugin waits through for a long time (e.g. 402 billing pauses)."""

    delay_s: float = attrs.field(default=5.0, validator=at_least(0))
    max_pause_s: float = attrs.field(default=3600.0, validator=at_least(0))


@settings
class RetryPolicy:
    """A named retry policy.

    Delays grow as ``base_delay_s * 2**n`` capped at ``max_delay_s``, reduced by up to
    ``jitter`` (a fraction). ``Retry-After``/``retry-after-ms`` win when 0 < value ≤
    ``retry_after_cap_s``. ``deadline_s`` bounds the whole logical call. ``pause_statuses``
    maps a status (as a string) to a long wait.
    """

    max_retries: int = attrs.field(default=2, validator=at_least(0))
    base_delay_s: float = attrs.field(default=0.5, validator=at_least(0))
    max_delay_s: float = attrs.field(default=8.0, validator=at_least(0))
    jitter: float = attrs.field(default=0.25, validator=between(0, 1))
    retry_statuses: tuple[int, ...] = attrs.field(default=(408, 409, 429, 500, 502, 503, 504), validator=status_codes)
    retry_connection_errors: bool = True
    retry_timeouts: bool = True
    respect_should_retry: bool = True
    retry_after_cap_s: float = attrs.field(default=60.0, validator=at_least(0))
    deadline_s: float | None = attrs.field(default=None, validator=positive)
    retry_methods: tuple[str, ...] | None = attrs.field(default=None, validator=_methods)
    pause_statuses: dict[str, PauseRule] = attrs.field(factory=dict, validator=status_codes)

    def __attrs_post_init__(self) -> None:
        if self.max_delay_s < self.base_delay_s:
            raise ValueError("'max_delay_s' must be >= base_delay_s")


@settings
class CircuitBreakerSpec:
    """A circuit breaker shared by the endpoints that name it."""

    failure_threshold: int = attrs.field(default=5, validator=at_least(1))
    reset_timeout_s: float = attrs.field(default=30.0, validator=at_least(0))
    half_open_max_calls: int = attrs.field(default=1, validator=at_least(1))


@settings
class RetryFeature:
    """``features.retry``: the header names the plugin writes (absent: none)."""

    idempotency_header: str | None = None
    attempt_header: str | None = None


@settings
class RetryEndpoint:
    """Per-endpoint keys: the retry policy and circuit breaker an endpoint uses."""

    retry: str | None = None
    circuit_breaker: str | None = None


@settings
class RetryConfig:
    """``Client(config=...)`` keys.

    ``retry``: policy field overrides for every policy (``{"enabled": false}`` switches retries
    off); ``retry_policies``: overrides per named policy; ``circuit_breakers``: overrides per
    breaker; ``circuit_breaker_registry``: share breakers between clients; ``retry_random``: the
    jitter's random source (tests).
    """

    retry: Mapping[str, Any] | None = None
    retry_policies: Mapping[str, Mapping[str, Any]] | None = None
    circuit_breakers: Mapping[str, Mapping[str, Any]] | None = None
    circuit_breaker_registry: Any = None
    retry_random: random.Random | None = None


@settings
class RetryOptions:
    """Per-call option keys.

    ``retry_policy`` names the policy; ``retry`` overrides its fields (or ``False``: one
    attempt); ``max_retries`` overrides the count; ``idempotency_key`` fixes the key;
    ``circuit_breaker: false`` bypasses the breaker.
    """

    retry_policy: str | None = None
    retry: Mapping[str, Any] | bool | None = None
    max_retries: int | None = attrs.field(default=None, validator=at_least(0))
    idempotency_key: str | None = None
    circuit_breaker: bool = True


SETTINGS = PluginSettings(
    sections={
        "retry_policies": dict[str, RetryPolicy],
        "circuit_breakers": dict[str, CircuitBreakerSpec],
        "features.retry": RetryFeature,
    },
    endpoint=RetryEndpoint,
    config=RetryConfig,
    options=RetryOptions,
)

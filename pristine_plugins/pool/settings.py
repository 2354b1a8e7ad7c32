"""Everything the pool plugin reads, declared as typed settings, and per-client overrides.

Manifest: ``pools`` (named :class:`PoolSpec`) and the endpoint key ``backpressure``
(:class:`PoolEndpoint`). Client config (:class:`PoolConfig`): ``pools`` overrides any pool
setting; nested ``rate_limit`` and ``backpressure`` blocks merge key by key into the manifest's,
``None`` switches one off, and a :class:`PoolSpec` replaces the pool wholesale. Pools named only
in the config start from an unlimited ``PoolSpec()``. Every value is checked by the core's
converter against these classes (JSON paths, "did you mean" suggestions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from pristine_core.contract import PluginSettings, at_least, non_empty, positive, settings, status_codes, structure_as
from pristine_core.errors import ValidationError
from pristine_core.manifest.models import Manifest

if TYPE_CHECKING:
    from pristine_core.manifest._converter import Problems

_NESTED = ("rate_limit", "backpressure")


@settings
class RateLimit:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` saved up."""

    rate: float = attrs.field(validator=positive)
    burst: int = attrs.field(default=1, validator=at_least(1))


@settings
class Backpressure:
    """How a pool reacts to a back-pressure status (429) on endpoints that opt in."""

    statuses: tuple[int, ...] = attrs.field(default=(429,), validator=[non_empty, status_codes])
    small_delay_s: float = attrs.field(default=1.0, validator=at_least(0))
    large_delay_s: float = attrs.field(default=5.0, validator=at_least(0))
    large_payload_bytes: int = attrs.field(default=131072, validator=at_least(0))
    reduced_concurrency: int = attrs.field(default=10, validator=at_least(1))
    byte_multiplier: float = attrs.field(default=20.0, validator=at_least(1))
    window_s: float = attrs.field(default=10.0, validator=at_least(0))
    max_attempts: int | None = attrs.field(default=None, validator=at_least(1))


@settings
class PoolSpec:
    """A named connection pool with optional concurrency, byte and rate limits."""

    connections: int = attrs.field(default=10, validator=at_least(1))
    concurrency: int | None = attrs.field(default=None, validator=at_least(1))
    byte_budget: int | None = attrs.field(default=None, validator=at_least(1))
    rate_limit: RateLimit | None = None
    backpressure: Backpressure | None = None
    block: bool = True


@settings
class PoolEndpoint:
    """Per-endpoint key: ``backpressure: true`` lets the pool back off and resend on its statuses."""

    backpressure: bool = False


@settings
class PoolConfig:
    """``Client(config=...)`` key ``pools``: per-pool overrides (see the module docstring)."""

    pools: Mapping[str, Mapping[str, Any] | PoolSpec] | None = None


@settings
class PoolOptions:
    """Per-call option key ``defer_backoff``: instead of sleeping through a back-off (one that
    is pending, or one a back-pressure reply just started), raise
    :class:`~pristine_core.errors.BackoffPending` so the caller can send again from a timer.
    Only a call's first attempt defers; a retry (which may follow a lost reply and must keep its
    idempotency key) waits in place."""

    defer_backoff: bool = False


SETTINGS = PluginSettings(
    sections={"pools": dict[str, PoolSpec]}, endpoint=PoolEndpoint, config=PoolConfig, options=PoolOptions
)


def manifest_problems(manifest: Manifest) -> Problems:
    """Endpoints routing to undeclared pools, and back-pressure endpoints whose pool cannot back off."""
    pools: dict[str, PoolSpec] = manifest.section("pools", {})
    problems: Problems = []
    if manifest.defaults.pool is not None and manifest.defaults.pool not in pools:
        problems.append(("defaults.pool", f"unknown pool {manifest.defaults.pool!r}"))
    for ep in manifest.endpoints():
        at = f"resources.{ep.resource}.{ep.name}"
        if ep.pool is not None and ep.pool not in pools:
            problems.append((f"{at}.pool", f"unknown pool {ep.pool!r}"))
        if not ep.settings_of(PoolEndpoint).backpressure:
            continue
        pool = manifest.pool_for(ep)
        declared = pools.get(pool)
        if declared is None or declared.backpressure is None:
            problems.append((f"{at}.backpressure", f"pool {pool!r} declares no backpressure settings"))
    return problems


def merge_spec(name: str, base: PoolSpec, override: Any) -> PoolSpec:
    """``base`` with ``override`` (a mapping or a PoolSpec) applied; raises ValidationError."""
    at = f"config.pools.{name}"
    if isinstance(override, PoolSpec):
        return override
    if not isinstance(override, Mapping):
        raise ValidationError([(at, "must be an object or a PoolSpec")], "pool config")
    raw: dict[str, Any] = {a.name: getattr(base, a.name) for a in attrs.fields(PoolSpec)}
    for key, value in override.items():
        current = raw.get(key)
        if key in _NESTED and isinstance(value, Mapping) and current is not None:
            value = {**{a.name: getattr(current, a.name) for a in attrs.fields(type(current))}, **value}
        raw[key] = value
    return structure_as(PoolSpec, raw, at)


def effective_specs(
    manifest: Manifest, overrides: Mapping[str, Any], connections: int | None = None
) -> dict[str, PoolSpec]:
    """Every pool's settings after the client's ``config["pools"]`` overrides (ValidationError
    listing what is wrong). ``connections`` (from the environment) replaces the manifest's
    connection counts; config overrides still win over it."""
    specs: dict[str, PoolSpec] = dict(manifest.section("pools", {}))
    if connections is not None:
        specs = {name: attrs.evolve(spec, connections=connections) for name, spec in specs.items()}
    for name, override in overrides.items():
        specs[name] = merge_spec(str(name), specs.get(name, PoolSpec()), override)
    return specs

"""Pristine ``pool`` plugin: named pools with concurrency and byte limits, rate limiting and
429 back-pressure (back off, throttle, resend), all configured by the manifest's ``pools``."""

from pristine_plugins.pool.backoff import BackoffState, registry_keys, reset_registry, shared_state
from pristine_plugins.pool.limits import ByteBudget, CountLimiter, PoolFullError, TokenBucket
from pristine_plugins.pool.plugin import PoolPlugin, PoolStats

__all__ = [
    "BackoffState",
    "ByteBudget",
    "CountLimiter",
    "PoolFullError",
    "PoolPlugin",
    "PoolStats",
    "TokenBucket",
    "registry_keys",
    "reset_registry",
    "shared_state",
]

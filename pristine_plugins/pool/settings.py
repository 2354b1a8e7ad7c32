"""Pool settings: the manifest's ``pools`` merged with per-client overrides, and their checks.

A client may override any pool setting through ``config={"pools": {name: {...}}}``; nested
``rate_limit`` and ``backpressure`` blocks merge key by key into the manifest's, ``None``
switches one off, and a :class:`~pristine_core.manifest.models.PoolSpec` replaces the pool
wholesale. Pools named only in the config start from an unlimited ``PoolSpec()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from pristine_core.errors import ValidationError
from pristine_core.manifest.models import Backpressure, Manifest, PoolSpec, RateLimit

_POOL_FIELDS = frozenset(f.name for f in attrs.fields(PoolSpec))
_RATE_FIELDS = frozenset(f.name for f in attrs.fields(RateLimit))
_BACKPRESSURE_FIELDS = frozenset(f.name for f in attrs.fields(Backpressure))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def spec_problems(at: str, spec: PoolSpec, *, core_checked: bool = False) -> list[tuple[str, str]]:
    """Every problem of one pool's settings as ``(json_path, message)`` pairs.

    ``core_checked``: skip what the core's manifest checks already report (``concurrency``).
    """
    problems: list[tuple[str, str]] = []
    concurrency = spec.concurrency
    if not core_checked and concurrency is not None and (not _is_int(concurrency) or concurrency < 1):
        problems.append((f"{at}.concurrency", "must be an integer of at least 1"))
    if spec.byte_budget is not None and (not _is_int(spec.byte_budget) or spec.byte_budget < 1):
        problems.append((f"{at}.byte_budget", "must be an integer of at least 1"))
    if not isinstance(spec.block, bool):
        problems.append((f"{at}.block", "must be true or false"))
    rate = spec.rate_limit
    if rate is not None:
        if not _is_number(rate.rate) or rate.rate <= 0:
            problems.append((f"{at}.rate_limit.rate", "must be a positive number"))
        if not _is_int(rate.burst) or rate.burst < 1:
            problems.append((f"{at}.rate_limit.burst", "must be an integer of at least 1"))
    if spec.backpressure is not None:
        problems += _backpressure_problems(f"{at}.backpressure", spec.backpressure)
    return problems


def _backpressure_problems(at: str, bp: Backpressure) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    statuses = bp.statuses
    if not statuses or not all(_is_int(s) and 100 <= s <= 599 for s in statuses):
        problems.append((f"{at}.statuses", "must list HTTP status codes"))
    for name in ("small_delay_s", "large_delay_s", "window_s"):
        value = getattr(bp, name)
        if not _is_number(value) or value < 0:
            problems.append((f"{at}.{name}", "must be a number >= 0"))
    if not _is_int(bp.large_payload_bytes) or bp.large_payload_bytes < 0:
        problems.append((f"{at}.large_payload_bytes", "must be an integer >= 0"))
    if not _is_int(bp.reduced_concurrency) or bp.reduced_concurrency < 1:
        problems.append((f"{at}.reduced_concurrency", "must be an integer of at least 1"))
    if not _is_number(bp.byte_multiplier) or bp.byte_multiplier < 1:
        problems.append((f"{at}.byte_multiplier", "must be a number >= 1"))
    if bp.max_attempts is not None and (not _is_int(bp.max_attempts) or bp.max_attempts < 1):
        problems.append((f"{at}.max_attempts", "must be an integer of at least 1"))
    return problems


def manifest_problems(manifest: Manifest) -> list[tuple[str, str]]:
    """Problems of the manifest's pools, and back-pressure endpoints whose pool cannot back off."""
    problems: list[tuple[str, str]] = []
    for name, spec in manifest.pools.items():
        problems += spec_problems(f"pools.{name}", spec, core_checked=True)
    for ep in manifest.endpoints():
        if not ep.backpressure:
            continue
        pool = manifest.pool_for(ep)
        declared = manifest.pools.get(pool)
        if declared is None or declared.backpressure is None:
            problems.append(
                (
                    f"resources.{ep.resource}.{ep.name}.backpressure",
                    f"pool {pool!r} declares no backpressure settings",
                )
            )
    return problems


def _merge_block(at: str, cls: type[Any], fields: frozenset[str], base: Any, value: Any) -> Any:
    if value is None or isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise ValidationError([(at, "must be a mapping, None or a settings object")], "pool config")
    unknown = sorted(set(value) - fields)
    if unknown:
        raise ValidationError([(f"{at}.{k}", "unknown setting") for k in unknown], "pool config")
    changes = {k: (tuple(v) if k == "statuses" and isinstance(v, (list, tuple)) else v) for k, v in value.items()}
    if base is not None:
        return attrs.evolve(base, **changes)
    try:
        return cls(**changes)
    except TypeError as exc:
        raise ValidationError([(at, str(exc))], "pool config") from None


def merge_spec(name: str, base: PoolSpec, override: Any) -> PoolSpec:
    """``base`` with ``override`` (a mapping or a PoolSpec) applied; raises ValidationError."""
    at = f"config.pools.{name}"
    if isinstance(override, PoolSpec):
        return override
    if not isinstance(override, Mapping):
        raise ValidationError([(at, "must be a mapping or a PoolSpec")], "pool config")
    unknown = sorted(set(override) - _POOL_FIELDS)
    if unknown:
        raise ValidationError([(f"{at}.{k}", "unknown setting") for k in unknown], "pool config")
    changes: dict[str, Any] = {}
    for key, value in override.items():
        if key == "rate_limit":
            changes[key] = _merge_block(f"{at}.rate_limit", RateLimit, _RATE_FIELDS, base.rate_limit, value)
        elif key == "backpressure":
            changes[key] = _merge_block(
                f"{at}.backpressure", Backpressure, _BACKPRESSURE_FIELDS, base.backpressure, value
            )
        else:
            changes[key] = value
    return attrs.evolve(base, **changes)


def effective_specs(manifest: Manifest, config: Mapping[str, Any]) -> dict[str, PoolSpec]:
    """Every pool's settings after the client's ``config["pools"]`` overrides; checked.

    Raises :class:`~pristine_core.errors.ValidationError` listing every problem of the result.
    """
    overrides = config.get("pools") or {}
    if not isinstance(overrides, Mapping):
        raise ValidationError([("config.pools", "must be a mapping of pool name to settings")], "pool config")
    specs = dict(manifest.pools)
    for name, override in overrides.items():
        specs[name] = merge_spec(str(name), specs.get(name, PoolSpec()), override)
    problems: list[tuple[str, str]] = []
    for name in overrides:
        problems += spec_problems(f"config.pools.{name}", specs[name])
    if problems:
        raise ValidationError(problems, "pool config")
    return specs

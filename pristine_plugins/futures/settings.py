"""The ``features.futures`` manifest block: defaults, validation and override layering.

Settings come from three layers, each overriding the one before: the manifest block, the
client's ``config["futures"]`` mapping, and (for per-future keys only) the call's
``RequestOptions.extensions["futures"]`` mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from pristine_core.errors import ValidationError
from pristine_core.manifest.models import Manifest

#: Keys that shape one future's polling and may therefore be overridden per call.
PER_FUTURE_KEYS = frozenset(
    {
        "poll_timeout_s",
        "backoff_cap_s",
        "max_blank_400s",
        "iteration_header",
        "request_type_header",
        "roundtrip_header",
        "pending_delay_s",
        "allow_metadata_only",
        "poll_backoff",
        "deadline_s",
    }
)


@attrs.frozen
class FuturesSettings:
    """Everything the futures plugin reads from ``features.futures`` (see the README)."""

    retrieve_endpoint: str | None = None
    poll_timeout_s: float = 45.0
    max_workers: int = 16
    response_budget_bytes: int = 5 * 1024 * 1024
    backoff_cap_s: float = 30.0
    max_blank_400s: int = 3
    iteration_header: str | None = None
    request_type_header: str | None = None
    roundtrip_header: str | None = None
    request_id_field: str = "request_id"
    allow_metadata_only: bool = True
    pending_delay_s: float = 1.0
    close_timeout_s: float = 5.0
    poll_backoff: bool = False
    deadline_s: float | None = None
    queue_state_reasons: Mapping[str, Mapping[str, str]] = attrs.Factory(dict)

    def with_overrides(
        self, overrides: Mapping[str, Any] | None, *, where: str, allowed: frozenset[str] | None = None
    ) -> FuturesSettings:
        """A copy with ``overrides`` applied; raises :class:`ValidationError` on bad keys or values."""
        if not overrides:
            return self
        if not isinstance(overrides, Mapping):
            raise ValidationError([(where, "expected a mapping of futures settings")])
        problems = check_block(overrides, where, allowed=allowed)
        if problems:
            raise ValidationError(problems, "futures settings")
        return attrs.evolve(self, **dict(overrides))


def _fields() -> dict[str, attrs.Attribute]:  # type: ignore[type-arg]
    return {a.name: a for a in attrs.fields(FuturesSettings)}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_value(key: str, value: Any) -> str | None:
    if key in ("poll_timeout_s", "close_timeout_s"):
        return None if _is_number(value) and value > 0 else "expected a positive number"
    if key == "deadline_s":
        return None if value is None or (_is_number(value) and value > 0) else "expected a positive number or null"
    if key in ("backoff_cap_s", "pending_delay_s"):
        return None if _is_number(value) and value >= 0 else "expected a number >= 0"
    if key in ("max_workers", "response_budget_bytes"):
        return None if _is_int(value) and value >= 1 else "expected an integer >= 1"
    if key == "max_blank_400s":
        return None if _is_int(value) and value >= 0 else "expected an integer >= 0"
    if key in ("iteration_header", "request_type_header", "roundtrip_header"):
        return None if value is None or (isinstance(value, str) and value) else "expected a header name or null"
    if key in ("retrieve_endpoint", "request_id_field"):
        return None if isinstance(value, str) and value else "expected a non-empty string"
    if key in ("allow_metadata_only", "poll_backoff"):
        return None if isinstance(value, bool) else "expected a boolean"
    if key == "queue_state_reasons":
        ok = isinstance(value, Mapping) and all(
            isinstance(group, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in group.items())
            for group in value.values()
        )
        return None if ok else "expected {label: {queue_state: reason}}"
    return None


def check_block(block: Mapping[str, Any], where: str, allowed: frozenset[str] | None = None) -> list[tuple[str, str]]:
    """Problems with a settings mapping, as ``(json_path, message)`` pairs."""
    known = _fields()
    problems: list[tuple[str, str]] = []
    for key, value in block.items():
        path = f"{where}.{key}"
        if key not in known:
            problems.append((path, "unknown futures setting"))
        elif allowed is not None and key not in allowed:
            problems.append((path, "cannot be overridden per call"))
        else:
            message = _check_value(key, value)
            if message:
                problems.append((path, message))
    return problems


def manifest_problems(manifest: Manifest) -> list[tuple[str, str]]:
    """Validate ``features.futures`` and its consistency with endpoints declared ``future``."""
    block = manifest.feature("futures")
    future_endpoints = [ep.qualified_name for ep in manifest.endpoints() if ep.future]
    if block is None:
        if future_endpoints:
            return [("features.futures", f"endpoint {future_endpoints[0]} is declared future but the block is missing")]
        return []
    if not isinstance(block, Mapping):
        return [("features.futures", "expected an object")]
    problems = check_block(block, "features.futures")
    if future_endpoints and "retrieve_endpoint" not in block:
        problems.append(("features.futures.retrieve_endpoint", "required when an endpoint is declared future"))
    return problems


def from_manifest(manifest: Manifest, client_overrides: Any = None) -> FuturesSettings:
    """Settings for one client: the manifest block, then ``client.config["futures"]``."""
    block = manifest.feature("futures") or {}
    settings = FuturesSettings(**dict(block))
    return settings.with_overrides(client_overrides, where="config.futures")

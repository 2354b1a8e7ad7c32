"""The ``features.telemetry`` manifest block, its checks, the toggle and per-client overrides.

Block keys (``endpoint`` is required, the rest optional)::

    endpoint           str    endpoint receiving batches of events
    env                str    environment variable switching telemetry off (0/false/no/off)
    batch_size         int    events per request (100)
    queue_cap          int    events held at most; more are dropped and counted (10000)
    flush_interval_s   num    the background thread sends what is queued this often (10)
    flush_timeout_s    num    bound on the flush at close and on flush() without timeout (5)
    event_type         str    manifest type of one event (its properties filter event fields)
    batch_type         str    manifest type of the request body (holds the array of events)
    request_timeout_s  num    HTTP timeout of one batch (the endpoint's own timeout)
    retry_delay_s      num    wait before re-sending a batch that failed transiently (1)
    batch_fields       obj    static fields added to every batch, e.g. {"sdk_version": "1.2"} ({})
    forward_events     list   pristine_on_event names reported as generic events (["request.error"])
    enabled            bool   the default when neither the client nor the environment decides (true)
    ignore_endpoints   list   endpoints whose events are never reported ([]; the telemetry
                              endpoint itself never is)

A client overrides keys with ``config={"telemetry": {...}}``; ``config={"telemetry": False}`` (or
``{"enabled": False}``) switches telemetry off and ``True`` on, whatever the environment says.
Off means no request and no thread at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs

from pristine_core.errors import ValidationError

_OFF = frozenset({"0", "false", "no", "off"})
_ON = frozenset({"1", "true", "yes", "on"})
_INT_KEYS = ("batch_size", "queue_cap")
_NUMBER_KEYS = {"flush_interval_s": False, "flush_timeout_s": True, "request_timeout_s": False, "retry_delay_s": False}
_STR_KEYS = ("endpoint", "env", "event_type", "batch_type")
_LIST_KEYS = ("forward_events", "ignore_endpoints")


@attrs.frozen
class TelemetrySettings:
    """Validated telemetry settings: the manifest block merged with the client's overrides."""

    endpoint: str
    env: str | None = None
    batch_size: int = 100
    queue_cap: int = 10_000
    flush_interval_s: float = 10.0
    flush_timeout_s: float = 5.0
    event_type: str | None = None
    batch_type: str | None = None
    request_timeout_s: float | None = None
    retry_delay_s: float = 1.0
    batch_fields: Mapping[str, Any] = attrs.Factory(dict)
    forward_events: tuple[str, ...] = ("request.error",)
    ignore_endpoints: tuple[str, ...] = ()

    @classmethod
    def build(cls, block: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> TelemetrySettings:
        """Merge ``block`` with ``overrides`` and validate (``ValidationError`` naming bad keys)."""
        merged = {**block, **{k: v for k, v in (overrides or {}).items() if k != "enabled"}}
        problems = block_problems(merged, "telemetry")
        if problems:
            raise ValidationError(problems, "telemetry settings")
        values = {k: v for k, v in merged.items() if k in _KNOWN}
        for key in _LIST_KEYS:
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


_KNOWN = frozenset(a.name for a in attrs.fields(TelemetrySettings))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def block_problems(block: Any, at: str = "features.telemetry") -> list[tuple[str, str]]:
    """Every problem of a ``features.telemetry`` block as ``(json_path, message)`` pairs."""
    if not isinstance(block, Mapping):
        return [(at, "must be an object")]
    problems: list[tuple[str, str]] = []
    for key in sorted(set(block) - _KNOWN - {"enabled"}):
        problems.append((f"{at}.{key}", f"unknown key (known: {', '.join(sorted(_KNOWN))})"))
    if not block.get("endpoint"):
        problems.append((f"{at}.endpoint", "required: the endpoint receiving telemetry batches"))
    for key in _STR_KEYS:
        value = block.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            problems.append((f"{at}.{key}", "must be a non-empty string or null"))
    for key in _INT_KEYS:
        value = block.get(key)
        if key in block and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            problems.append((f"{at}.{key}", "must be an integer of at least 1"))
    for key, zero_ok in _NUMBER_KEYS.items():
        value = block.get(key)
        if value is None:
            continue
        if not _is_number(value) or value < 0 or (value == 0 and not zero_ok):
            problems.append((f"{at}.{key}", "must be a number >= 0" if zero_ok else "must be a number > 0"))
    if block.get("batch_fields") is not None and not isinstance(block["batch_fields"], Mapping):
        problems.append((f"{at}.batch_fields", "must be an object"))
    for key in _LIST_KEYS:
        value = block.get(key)
        if value is not None and (
            not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value)
        ):
            problems.append((f"{at}.{key}", "must be a list of names"))
    if "enabled" in block and not isinstance(block["enabled"], bool):
        problems.append((f"{at}.enabled", "must be true or false"))
    return problems


def overrides_of(value: Any) -> Mapping[str, Any]:
    """The per-client ``config["telemetry"]`` value as a mapping of overrides."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"enabled": value}
    if isinstance(value, Mapping):
        return value
    raise ValidationError([("config.telemetry", "expected true, false or an object of overrides")])


def is_enabled(
    env_name: str | None, explicit: Any, default: bool = True, environ: Mapping[str, str] | None = None
) -> bool:
    """The toggle: an explicit client override wins, then the environment variable (0/false/no/off
    switch off, 1/true/yes/on switch on), then the manifest's ``enabled`` (default on)."""
    if isinstance(explicit, bool):
        return explicit
    if env_name:
        value = (os.environ if environ is None else environ).get(env_name)
        lowered = (value or "").strip().lower()
        if lowered in _OFF:
            return False
        if lowered in _ON:
            return True
    return default

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

from pristine_core.contract import PluginSettings, at_least, non_empty, positive, settings
from pristine_core.manifest.checks import reference_problems
from pristine_core.manifest.models import Manifest

_OFF = frozenset({"0", "false", "no", "off"})
_ON = frozenset({"1", "true", "yes", "on"})


@settings
class TelemetrySettings:
    """The ``features.telemetry`` block (merged with the client's overrides at configure time)."""

    endpoint: str = attrs.field(validator=non_empty)
    env: str | None = attrs.field(default=None, validator=non_empty)
    batch_size: int = attrs.field(default=100, validator=at_least(1))
    queue_cap: int = attrs.field(default=10_000, validator=at_least(1))
    flush_interval_s: float = attrs.field(default=10.0, validator=positive)
    flush_timeout_s: float = attrs.field(default=5.0, validator=at_least(0))
    event_type: str | None = attrs.field(default=None, validator=non_empty)
    batch_type: str | None = attrs.field(default=None, validator=non_empty)
    request_timeout_s: float | None = attrs.field(default=None, validator=positive)
    retry_delay_s: float = attrs.field(default=1.0, validator=positive)
    batch_fields: Mapping[str, Any] = attrs.Factory(dict)
    forward_events: tuple[str, ...] = ("request.error",)
    ignore_endpoints: tuple[str, ...] = ()
    enabled: bool = True


@settings
class TelemetryConfig:
    """``Client(config=...)`` key ``telemetry``: ``True``/``False`` switch it on or off whatever
    the environment says; an object overrides keys of the block (``enabled`` included)."""

    telemetry: bool | Mapping[str, Any] | None = None


SETTINGS = PluginSettings(sections={"features.telemetry": TelemetrySettings}, config=TelemetryConfig)


def manifest_problems(manifest: Manifest) -> list[tuple[str, str]]:
    """The endpoint, types and ignored endpoints the block names exist."""
    block: TelemetrySettings | None = manifest.section("features.telemetry")
    if block is None:
        return []
    at = "features.telemetry"
    problems = reference_problems(manifest, f"{at}.endpoint", block.endpoint, "endpoint")
    problems += reference_problems(manifest, f"{at}.event_type", block.event_type, "type")
    problems += reference_problems(manifest, f"{at}.batch_type", block.batch_type, "type")
    for i, name in enumerate(block.ignore_endpoints):
        problems += reference_problems(manifest, f"{at}.ignore_endpoints[{i}]", name, "endpoint")
    return problems


def is_enabled(
    env_name: str | None, explicit: bool | None, default: bool = True, environ: Mapping[str, str] | None = None
) -> bool:
    """The toggle: an explicit client override wins, then the environment variable (0/false/no/off
    switch off, 1/true/yes/on switch on), then the manifest's ``enabled`` (default on)."""
    if explicit is not None:
        return explicit
    if env_name:
        value = (os.environ if environ is None else environ).get(env_name)
        lowered = (value or "").strip().lower()
        if lowered in _OFF:
            return False
        if lowered in _ON:
            return True
    return default

"""Everything the streaming plugin reads, declared as typed settings.

``features.streaming`` (:class:`StreamingSettings`, all optional)::

    reconnect         bool   re-issue the call with Last-Event-ID after a mid-stream drop (true)
    max_reconnects    int    reconnects allowed per stream, in total (3)
    default_retry_ms  int    first reconnect delay when the server sent no ``retry:`` (1000)
    max_retry_ms      int    cap on every reconnect delay, ``retry:`` and ``Retry-After`` included (60000)
    backoff_factor    float  each further reconnect in a row waits this many times longer (2; 1: fixed)
    jitter            float  reconnect delays are cut by a random fraction up to this (0)
    idle_timeout_s    float  longest gap between two events (None: the call's explicit timeout_s)
    max_duration_s    float  longest a whole stream may run, reconnects included (None: unbounded)
    on_invalid        str    typed streams: "raise" or "skip" events whose data is not valid (raise)
    chunk_size        int    largest read from the socket, in bytes (65536)

Endpoint keys (:class:`StreamingEndpoint`): ``stream: true`` (+ ``stream_event: <type>``) and
``stream_format``: ``"sse"`` (default) or ``"bytes"`` (a raw byte stream). Per-call options
(:class:`StreamingOptions`): ``stream_response``, ``last_event_id``, ``stream_reconnect``,
``stream_max_reconnects``, ``stream_idle_timeout_s``, ``stream_max_duration_s``.
"""

from __future__ import annotations

import random
from typing import Literal

import attrs

from pristine_core.contract import PluginSettings, at_least, between, positive, settings
from pristine_core.manifest.checks import reference_problems
from pristine_core.manifest.models import Manifest
from pristine_runtime.backoff import clamp, exponential

SSE = "sse"
BYTES = "bytes"


@settings
class StreamingSettings:
    """The ``features.streaming`` block."""

    reconnect: bool = True
    max_reconnects: int = attrs.field(default=3, validator=at_least(0))
    default_retry_ms: int = attrs.field(default=1000, validator=at_least(0))
    max_retry_ms: int = attrs.field(default=60_000, validator=at_least(0))
    backoff_factor: float = attrs.field(default=2.0, validator=at_least(1))
    jitter: float = attrs.field(default=0.0, validator=between(0, 1))
    idle_timeout_s: float | None = attrs.field(default=None, validator=positive)
    max_duration_s: float | None = attrs.field(default=None, validator=positive)
    on_invalid: Literal["raise", "skip"] = "raise"
    chunk_size: int = attrs.field(default=65_536, validator=at_least(1))

    def retry_delay_s(
        self,
        server_retry_ms: int | None,
        failures: int = 0,
        retry_after_s: float | None = None,
        rng: random.Random | None = None,
    ) -> float:
        """Seconds to wait before a reconnect (``pristine_runtime.backoff``), capped by ``max_retry_ms``.

        A ``Retry-After`` the server sent with a refused reconnect wins. Otherwise the base is the
        server's ``retry:`` (else ``default_retry_ms``), grown by ``backoff_factor`` for each
        reconnect in a row that delivered no event (``failures``: 0 for the first), minus jitter.
        """
        cap_s = self.max_retry_ms / 1000.0
        if retry_after_s is not None:
            return clamp(retry_after_s, cap_s)
        base_ms = self.default_retry_ms if server_retry_ms is None else server_retry_ms
        return exponential(failures, base_ms / 1000.0, cap_s, factor=self.backoff_factor, jitter=self.jitter, rng=rng)


@settings
class StreamingEndpoint:
    """Per-endpoint keys: ``stream``, ``stream_event`` (the type of one event) and ``stream_format``."""

    stream: bool = False
    stream_event: str | None = None
    stream_format: Literal["sse", "bytes"] = "sse"


@settings
class StreamingOptions:
    """Per-call option keys: ``stream_response`` (return any body unread, as a ByteStream),
    ``last_event_id`` (resume point), ``stream_reconnect``, ``stream_max_reconnects``,
    ``stream_idle_timeout_s`` and ``stream_max_duration_s`` (override the feature settings)."""

    stream_response: bool = False
    last_event_id: str | None = None
    stream_reconnect: bool | None = None
    stream_max_reconnects: int | None = attrs.field(default=None, validator=at_least(0))
    stream_idle_timeout_s: float | None = attrs.field(default=None, validator=positive)
    stream_max_duration_s: float | None = attrs.field(default=None, validator=positive)


SETTINGS = PluginSettings(
    sections={"features.streaming": StreamingSettings}, endpoint=StreamingEndpoint, options=StreamingOptions
)


def endpoint_problems(manifest: Manifest) -> list[tuple[str, str]]:
    """Streaming keys that do not fit together, and unknown event types."""
    problems: list[tuple[str, str]] = []
    for ep in manifest.endpoints():
        at = f"resources.{ep.resource}.{ep.name}"
        keys = ep.settings_of(StreamingEndpoint)
        problems += reference_problems(manifest, f"{at}.stream_event", keys.stream_event, "type")
        if keys.stream_format != SSE and not keys.stream:
            problems.append((f"{at}.stream_format", "only applies to endpoints with stream: true"))
        if keys.stream_event is not None and not keys.stream:
            problems.append((f"{at}.stream_event", "only applies to endpoints with stream: true"))
        if keys.stream_event is not None and keys.stream_format == BYTES:
            problems.append((f"{at}.stream_event", "a bytes stream has no events"))
    return problems

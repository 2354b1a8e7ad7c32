"""The ``features.streaming`` manifest block and the endpoint keys the plugin reads.

Block keys (all optional)::

    reconnect         bool   re-issue the call with Last-Event-ID after a mid-stream drop (true)
    max_reconnects    int    reconnects allowed per stream, in total (3)
    default_retry_ms  int    wait before reconnecting when the server sent no ``retry:`` (1000)
    max_retry_ms      int    cap on the server's ``retry:`` value (60000)
    on_invalid        str    typed streams: "raise" or "skip" events whose data is not valid (raise)
    chunk_size        int    largest read from the socket, in bytes (65536)

Endpoint keys: ``stream: true`` (+ ``stream_event: <type>``), and
``extensions.stream_format``: ``"sse"`` (default) or ``"bytes"`` (a raw byte stream).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from pristine_core.manifest.models import Endpoint, Manifest

SSE = "sse"
BYTES = "bytes"
FORMATS = (SSE, BYTES)
ON_INVALID = ("raise", "skip")


@attrs.frozen
class StreamingSettings:
    """Validated ``features.streaming`` values."""

    reconnect: bool = True
    max_reconnects: int = 3
    default_retry_ms: int = 1000
    max_retry_ms: int = 60_000
    on_invalid: str = "raise"
    chunk_size: int = 65_536

    @classmethod
    def from_block(cls, block: Mapping[str, Any] | None) -> StreamingSettings:
        """Build from a (validated) ``features.streaming`` block; missing keys keep defaults."""
        known = {a.name for a in attrs.fields(cls)}
        return cls(**{k: v for k, v in (block or {}).items() if k in known})

    def retry_delay_s(self, server_retry_ms: int | None) -> float:
        """Seconds to wait before a reconnect: the server's ``retry:`` (capped) or the default."""
        ms = self.default_retry_ms if server_retry_ms is None else server_retry_ms
        return min(ms, self.max_retry_ms) / 1000.0


_INT_KEYS = {"max_reconnects": 0, "default_retry_ms": 0, "max_retry_ms": 0, "chunk_size": 1}


def block_problems(block: Any, at: str = "features.streaming") -> list[tuple[str, str]]:
    """Problems with a ``features.streaming`` block, as ``(json_path, message)`` pairs."""
    if block is None:
        return []
    if not isinstance(block, Mapping):
        return [(at, "must be an object")]
    problems: list[tuple[str, str]] = []
    known = {a.name for a in attrs.fields(StreamingSettings)}
    for key in sorted(set(block) - known):
        problems.append((f"{at}.{key}", f"unknown key (known: {', '.join(sorted(known))})"))
    if "reconnect" in block and not isinstance(block["reconnect"], bool):
        problems.append((f"{at}.reconnect", "must be a boolean"))
    for key, minimum in _INT_KEYS.items():
        if key not in block:
            continue
        value = block[key]
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append((f"{at}.{key}", "must be an integer"))
        elif value < minimum:
            problems.append((f"{at}.{key}", f"must be >= {minimum}"))
    if "on_invalid" in block and block["on_invalid"] not in ON_INVALID:
        problems.append((f"{at}.on_invalid", f"must be one of {', '.join(ON_INVALID)}"))
    return problems


def stream_format(endpoint: Endpoint) -> str:
    """``"sse"`` or ``"bytes"``: how a ``stream: true`` endpoint's body is read."""
    value = endpoint.extensions.get("stream_format", SSE)
    return value if value in FORMATS else SSE


def endpoint_problems(manifest: Manifest) -> list[tuple[str, str]]:
    """Problems with the streaming keys of endpoints."""
    problems: list[tuple[str, str]] = []
    for ep in manifest.endpoints():
        at = f"resources.{ep.resource}.{ep.name}"
        fmt = ep.extensions.get("stream_format")
        if fmt is not None:
            if fmt not in FORMATS:
                problems.append((f"{at}.extensions.stream_format", f"must be one of {', '.join(FORMATS)}"))
            elif not ep.stream:
                problems.append((f"{at}.extensions.stream_format", "only applies to endpoints with stream: true"))
        if ep.stream_event is not None and not ep.stream:
            problems.append((f"{at}.stream_event", "only applies to endpoints with stream: true"))
        if ep.stream_event is not None and fmt == BYTES:
            problems.append((f"{at}.stream_event", "a bytes stream has no events"))
    return problems

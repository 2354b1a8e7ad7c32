"""Reply objects handlers return; the HTTP layer writes them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from .futures import dumps


@attrs.frozen
class JsonReply:
    """A JSON body (an object, or pre-encoded bytes) with a status and extra headers."""

    body: Any
    status: int = 200
    headers: dict[str, str] = attrs.Factory(dict)

    def encoded(self) -> bytes:
        """The body as bytes."""
        return self.body if isinstance(self.body, bytes) else dumps(self.body)


@attrs.frozen
class EmptyReply:
    """A reply without a body (``Content-Length: 0``)."""

    status: int = 200
    headers: dict[str, str] = attrs.Factory(dict)


@attrs.frozen
class StreamReply:
    """A binary body written chunk by chunk (e.g. a tar archive)."""

    chunks: Iterable[bytes]
    content_type: str
    length: int | None
    status: int = 200
    headers: dict[str, str] = attrs.Factory(dict)


@attrs.frozen
class SseReply:
    """A ``text/event-stream`` body: (event name, JSON data) pairs, written as they come."""

    events: Iterable[tuple[str, dict[str, Any]]]
    headers: dict[str, str] = attrs.Factory(dict)


Reply = JsonReply | EmptyReply | StreamReply | SseReply

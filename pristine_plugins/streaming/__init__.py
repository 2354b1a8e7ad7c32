"""Pristine plugin ``streaming``: Server-Sent Events, raw streamed bodies, stream to file.

Endpoints declared ``stream: true`` return a :class:`Stream` of events (typed by
``stream_event``) that reconnects with ``Last-Event-ID``; ``extensions.stream_format: "bytes"``
endpoints, and any call made with the extension option ``stream_response``, return a
:class:`ByteStream`. See README.md for the manifest settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pristine_core import hookimpl
from pristine_core.plugins import STREAMING
from pristine_plugins.streaming.errors import StreamInterruptedError
from pristine_plugins.streaming.raw import ByteStream, stream_to_file
from pristine_plugins.streaming.settings import (
    BYTES,
    StreamingSettings,
    block_problems,
    endpoint_problems,
    stream_format,
)
from pristine_plugins.streaming.sse import SSEDecoder, SSEEvent, iter_sse
from pristine_plugins.streaming.stream import OPT_LAST_EVENT_ID, Stream

if TYPE_CHECKING:
    from pristine_core.client import Client
    from pristine_core.manifest.models import Manifest
    from pristine_core.pipeline import Call, Request, Response

__all__ = [
    "OPT_STREAM_RESPONSE",
    "ByteStream",
    "SSEDecoder",
    "SSEEvent",
    "Stream",
    "StreamInterruptedError",
    "StreamingPlugin",
    "StreamingSettings",
    "iter_sse",
    "stream_to_file",
]

#: Extension option: return the body unread, as a :class:`ByteStream`, for any endpoint.
OPT_STREAM_RESPONSE = "stream_response"


def _has_header(headers: Mapping[str, str], name: str) -> bool:
    lowered = name.lower()
    return any(key.lower() == lowered for key in headers)


class StreamingPlugin:
    """Server-Sent Events streaming responses, raw byte streams and stream-to-file."""

    name = "streaming"
    priority = STREAMING

    def __init__(self) -> None:
        self.settings = StreamingSettings()

    @hookimpl
    def pristine_validate_manifest(self, manifest: Manifest) -> list[tuple[str, str]]:
        """Check ``features.streaming`` and the streaming keys of endpoints."""
        return block_problems(manifest.feature("streaming")) + endpoint_problems(manifest)

    @hookimpl
    def pristine_configure(self, client: Client) -> None:
        """Read ``features.streaming`` for this client."""
        self.settings = StreamingSettings.from_block(client.manifest.feature("streaming"))

    @hookimpl
    def pristine_prepare_call(self, call: Call) -> None:
        """Ask for an event stream, an unencoded body and, when given, a resume point."""
        ep = call.endpoint
        raw_body = bool(call.option(OPT_STREAM_RESPONSE))
        if not ep.stream and not raw_body:
            return
        declared = {**ep.headers, **call.options.headers}
        # Response.iter_bytes hands out the bytes as sent, so ask the server not to compress.
        if not _has_header(declared, "Accept-Encoding"):
            call.headers["Accept-Encoding"] = "identity"
        if ep.stream and not raw_body and stream_format(ep) != BYTES:
            if not _has_header(declared, "Accept"):
                call.headers["Accept"] = "text/event-stream"
            last_id = call.option(OPT_LAST_EVENT_ID)
            if last_id and not _has_header(declared, "Last-Event-ID"):
                call.headers["Last-Event-ID"] = str(last_id)

    @hookimpl
    def pristine_prepare_attempt(self, request: Request) -> None:
        """Leave the body unread for calls made with ``stream_response``."""
        call = request.call
        if call is not None and not request.stream and call.option(OPT_STREAM_RESPONSE):
            request.stream = True

    @hookimpl
    def pristine_process_response(self, call: Call, response: Response) -> Any:
        """A :class:`Stream` for SSE endpoints, a :class:`ByteStream` for raw bodies, else None."""
        if call.option(OPT_STREAM_RESPONSE):
            return ByteStream(response, self.settings.chunk_size)
        ep = call.endpoint
        if not ep.stream:
            return None
        if stream_format(ep) == BYTES:
            return ByteStream(response, self.settings.chunk_size)
        return Stream(call, response, self.settings)

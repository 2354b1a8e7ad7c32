"""Pristine plugin ``streaming``: Server-Sent Events, raw streamed bodies, stream to file.

Endpoints declared ``stream: true`` return a :class:`Stream` of events (typed by
``stream_event``) that reconnects with ``Last-Event-ID``; ``stream_format: "bytes"``
endpoints, and any call made with the option ``stream_response``, return a
:class:`ByteStream`. See README.md for the manifest settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pristine_core import hookimpl
from pristine_core.bands import STREAMING
from pristine_core.contract import PluginSettings
from pristine_plugins.streaming.errors import StreamInterruptedError
from pristine_plugins.streaming.raw import ByteStream, stream_to_file
from pristine_plugins.streaming.settings import (
    BYTES,
    SETTINGS,
    StreamingEndpoint,
    StreamingOptions,
    StreamingSettings,
    endpoint_problems,
)
from pristine_plugins.streaming.sse import SSEDecoder, SSEEvent, iter_sse
from pristine_plugins.streaming.stream import Stream
from pristine_plugins.streaming.watch import watch_for

if TYPE_CHECKING:
    from pristine_core.client import Client
    from pristine_core.manifest.models import Endpoint, Manifest
    from pristine_core.pipeline import Call, Response

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
    def pristine_settings(self) -> PluginSettings:
        """``features.streaming``, the endpoint keys and the call options."""
        return SETTINGS

    @hookimpl
    def pristine_validate_manifest(self, manifest: Manifest) -> list[tuple[str, str]]:
        """The streaming keys of endpoints fit together and name known types."""
        return endpoint_problems(manifest)

    @hookimpl
    def pristine_configure(self, client: Client) -> None:
        """Read ``features.streaming`` for this client."""
        self.settings = client.meta.manifest.section("features.streaming", StreamingSettings())

    @hookimpl
    def pristine_applies_to(self, endpoint: Endpoint) -> bool:
        """Only ``stream`` endpoints (a call's ``stream_response`` option brings the plugin back)."""
        return bool(endpoint.settings_of(StreamingEndpoint).stream)

    @hookimpl
    def pristine_prepare_call(self, call: Call) -> None:
        """Leave the body unread; ask for an event stream, an unencoded body and, when given,
        a resume point."""
        ep = call.endpoint
        keys = ep.settings_of(StreamingEndpoint)
        options = call.settings_of(StreamingOptions)
        raw_body = options.stream_response
        if not keys.stream and not raw_body:
            return
        call.stream = True
        declared = {**ep.headers, **call.options.headers}
        # Response.iter_bytes hands out the bytes as sent, so ask the server not to compress.
        if not _has_header(declared, "Accept-Encoding"):
            call.headers["Accept-Encoding"] = "identity"
        if keys.stream and not raw_body and keys.stream_format != BYTES:
            if not _has_header(declared, "Accept"):
                call.headers["Accept"] = "text/event-stream"
            last_id = options.last_event_id
            if last_id and not _has_header(declared, "Last-Event-ID"):
                call.headers["Last-Event-ID"] = last_id

    @hookimpl
    def pristine_process_response(self, call: Call, response: Response) -> Any:
        """A :class:`Stream` for SSE endpoints, a :class:`ByteStream` for raw bodies, else None."""
        if call.settings_of(StreamingOptions).stream_response:
            return self._byte_stream(call, response)
        keys = call.endpoint.settings_of(StreamingEndpoint)
        if not keys.stream:
            return None
        if keys.stream_format == BYTES:
            return self._byte_stream(call, response)
        return Stream(call, response, self.settings)

    def _byte_stream(self, call: Call, response: Response) -> ByteStream:
        """A :class:`ByteStream` whose reads are bounded by the call's deadline and idle limit."""
        settings = self.settings
        options = call.settings_of(StreamingOptions)
        return ByteStream(
            response,
            settings.chunk_size,
            limits=lambda: watch_for(call, response, settings, options),
            name=call.endpoint.qualified_name,
        )

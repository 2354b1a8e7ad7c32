"""``Stream``: the result of calling an SSE endpoint, an iterator of (typed) events.

Events reach the caller as soon as their bytes arrive. When the connection drops mid-stream,
the stream re-issues the same call through the client (so auth, retry and pool plugins run
again) with a ``Last-Event-ID`` header, after the server's ``retry:`` delay, at most
``max_reconnects`` times. A stream that delivered events but never got an ``id:`` cannot be
resumed and says so (:class:`~pristine_plugins.streaming.errors.StreamInterruptedError`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from pristine_core.errors import APIConnectionError, APIResponseValidationError
from pristine_core.pipeline import Call, Response
from pristine_core.responses import parse, status_error
from pristine_plugins.streaming.errors import (
    DISABLED,
    EXHAUSTED,
    NO_ID,
    READ_ERRORS,
    StreamInterruptedError,
    read_error,
)
from pristine_plugins.streaming.raw import iter_response
from pristine_plugins.streaming.settings import StreamingEndpoint, StreamingOptions
from pristine_plugins.streaming.sse import SSEDecoder, SSEEvent

if TYPE_CHECKING:
    from pristine_plugins.streaming.settings import StreamingSettings

T = TypeVar("T")

_SKIP = object()
_MAX_SHOWN = 500

#: The per-call option holding the resume point (dropped when the stream re-issues the call).
OPT_LAST_EVENT_ID = "last_event_id"


class Stream(Generic[T]):
    """An iterator over the events of one streaming call; close it (or use ``with``) when done.

    Items are instances of the endpoint's ``stream_event`` type (each event's data parsed as
    JSON) or, without one, :class:`~pristine_plugins.streaming.sse.SSEEvent` objects.
    :attr:`response` is the current raw :class:`~pristine_core.pipeline.Response` (a new one
    after each reconnect); :attr:`last_event` is the SSE event behind the last item.
    """

    def __init__(self, call: Call, response: Response, settings: StreamingSettings) -> None:
        self._call = call
        self.response = response
        self._settings = settings
        self._event_type = call.endpoint.settings_of(StreamingEndpoint).stream_event
        options = call.settings_of(StreamingOptions)
        reconnect = options.stream_reconnect
        self._reconnect = settings.reconnect if reconnect is None else reconnect
        limit = options.stream_max_reconnects
        self._max_reconnects = settings.max_reconnects if limit is None else limit
        self._decoder = SSEDecoder()
        self._events = 0
        self.reconnects = 0
        self.last_event: SSEEvent | None = None
        self._closed = False
        self._started = False
        self._iterator = self._run()

    # -- public API -----------------------------------------------------------------------

    @property
    def last_event_id(self) -> str:
        """The id a reconnect would send as ``Last-Event-ID`` ("" when the server sent none)."""
        return self._decoder.last_event_id

    @property
    def retry_ms(self) -> int | None:
        """The reconnection time the server asked for with ``retry:`` (None when it did not)."""
        return self._decoder.retry_ms

    @property
    def events_received(self) -> int:
        """How many SSE events have been dispatched so far, across reconnects."""
        return self._events

    @property
    def closed(self) -> bool:
        """True once the stream ended or :meth:`close` was called."""
        return self._closed

    @property
    def started(self) -> bool:
        """True once iteration has begun (the raw body is then being consumed)."""
        return self._started

    def sse(self) -> Iterator[SSEEvent]:
        """Iterate the raw :class:`SSEEvent` objects instead of typed items (before iterating)."""
        if self._started:
            raise RuntimeError("sse() must be called before iterating the stream")
        self._event_type = None
        return self  # type: ignore[return-value]

    def raw_chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The raw event-stream bytes instead of events (before iterating; no reconnects)."""
        if self._started:
            raise RuntimeError("the stream has already been read from")
        self._started = True
        return iter_response(self.response, chunk_size or self._settings.chunk_size)

    def __iter__(self) -> Stream[T]:
        return self

    def __next__(self) -> T:
        self._started = True
        try:
            return next(self._iterator)
        except StopIteration:
            raise
        except BaseException:
            self.close()  # a failed stream holds no connection
            raise

    def close(self) -> None:
        """Stop the stream and release its connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._iterator.close()
        except ValueError:
            pass  # the generator is running in another thread; closing the response stops it
        self.response.close()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Stream {self._call.endpoint.qualified_name} {state} events={self._events}>"

    # -- the loop -------------------------------------------------------------------------

    def _run(self) -> Generator[Any, None, None]:
        chunk_size = self._settings.chunk_size
        while True:
            response = self.response
            failure: APIConnectionError | None = None
            try:
                for chunk in response.iter_bytes(chunk_size):
                    for sse in self._decoder.feed(chunk):
                        self._events += 1
                        item = self._convert(sse)
                        if item is not _SKIP:
                            self.last_event = sse
                            yield item
            except READ_ERRORS as exc:
                if self._closed:
                    return
                failure = read_error(exc, response)
            if failure is None:
                self._decoder.close()  # an event left without its blank line is dropped
                self._finish()
                return
            response.close()
            new = self._resume(failure)
            if new is None:
                self._finish()
                return
            self.response = new
            # A new connection parses afresh; the last event id and reconnection time carry over.
            self._decoder = SSEDecoder(self._decoder.last_event_id, self._decoder.retry_ms)

    def _finish(self) -> None:
        self._closed = True
        self.response.close()

    def _convert(self, sse: SSEEvent) -> Any:
        name = self._event_type
        if name is None:
            return sse
        if not sse.data.strip():
            return _SKIP  # keep-alives and empty events carry no item
        qualified = self._call.endpoint.qualified_name
        try:
            data = sse.json()
        except ValueError:
            if self._settings.on_invalid == "skip":
                return _SKIP
            raise APIResponseValidationError(
                f"{qualified}: stream event data is not JSON", body=sse.data[:_MAX_SHOWN]
            ) from None
        try:
            return parse(self._call, self.response, data, type_name=name)
        except APIResponseValidationError:
            if self._settings.on_invalid == "skip":
                return _SKIP
            raise

    # -- reconnecting ---------------------------------------------------------------------

    def _interrupted(self, message: str, reason: str, cause: APIConnectionError) -> StreamInterruptedError:
        error = StreamInterruptedError(
            f"{self._call.endpoint.qualified_name}: {message}",
            reason=reason,
            last_event_id=self.last_event_id,
            events=self._events,
            reconnects=self.reconnects,
            method=cause.method,
            url=cause.url,
        )
        error.__cause__ = cause
        return error

    def _resume(self, failure: APIConnectionError) -> Response | None:
        """Reconnect after ``failure``; the new response, or None when the server ended the stream."""
        if not self._reconnect:
            raise self._interrupted(f"stream interrupted ({failure.message})", DISABLED, failure)
        last_id = self.last_event_id
        if not last_id and self._events > 0:
            raise self._interrupted(
                f"stream interrupted after {self._events} event(s) and the server sent no event id: "
                "cannot resume without replaying it",
                NO_ID,
                failure,
            )
        client = self._call.client
        call = self._call
        while True:
            if self.reconnects >= self._max_reconnects:
                raise self._interrupted(
                    f"stream interrupted; gave up after {self.reconnects} reconnect(s) ({failure.message})",
                    EXHAUSTED,
                    failure,
                )
            self.reconnects += 1
            delay = self._settings.retry_delay_s(self.retry_ms)
            client.meta.emit(
                "stream.reconnect",
                endpoint=call.endpoint.qualified_name,
                attempt=self.reconnects,
                delay_s=delay,
                last_event_id=last_id,
                error=type(failure).__name__,
            )
            client.meta.clock.sleep(delay)
            if self._closed:
                return None
            try:
                response = self._reissue(last_id)
            except APIConnectionError as exc:
                failure = exc
                continue
            if response.status_code == 204:
                response.close()
                return None  # the server says there is nothing more to send
            if response.status_code >= 300:
                response.content  # noqa: B018 - read the body so the connection is released
                raise status_error(call, response)
            return response

    def _reissue(self, last_id: str) -> Response:
        """Make the same call again, with ``Last-Event-ID`` when there is one."""
        call = self._call
        headers = {k: v for k, v in call.options.headers.items() if k.lower() != "last-event-id"}
        if last_id:
            headers["Last-Event-ID"] = last_id
        extensions = {k: v for k, v in call.options.extensions.items() if k != OPT_LAST_EVENT_ID}
        options = attrs.evolve(call.options, headers=headers, extensions=extensions)
        kwargs: dict[str, Any] = {**call.path_params, **call.query}
        if call.endpoint.request is not None:
            kwargs["body"] = call.body
        method = call.client.meta.endpoint(call.endpoint.qualified_name)
        return method.raw(request_options=options, **kwargs)

"""``Stream``: the result of calling an SSE endpoint, an iterator of (typed) events.

Events reach the caller as soon as their bytes arrive. When the connection drops mid-stream (or
stays idle too long), the stream re-issues the same call through the client (so auth, retry and
pool plugins run again) with a ``Last-Event-ID`` header, after a delay from
``pristine_runtime.backoff`` (the server's ``retry:`` or ``Retry-After``, capped, growing for
reconnects in a row that bring no event), at most ``max_reconnects`` times. A stream that
delivered events but never got an ``id:`` cannot be resumed and says so
(:class:`~pristine_plugins.streaming.errors.StreamInterruptedError`).

Deadlines (:mod:`pristine_plugins.streaming.watch`): with an explicit ``timeout_s`` the first
event must arrive by the call's deadline, and no connection may stay ``idle_timeout_s`` (default:
that ``timeout_s``) without an event; ``max_duration_s`` bounds the whole stream. The first and
the last end the stream with :class:`~pristine_core.errors.APITimeoutError`; an idle connection
is treated like a dropped one.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from pristine_core.errors import APIConnectionError, APIError, APIResponseValidationError, APITimeoutError
from pristine_core.pipeline import Call, Response
from pristine_core.responses import parse, status_error
from pristine_plugins.streaming.errors import (
    DISABLED,
    EXHAUSTED,
    NO_ID,
    StreamInterruptedError,
    read_error,
    read_errors,
)
from pristine_plugins.streaming.raw import watched_chunks
from pristine_plugins.streaming.settings import StreamingEndpoint, StreamingOptions
from pristine_plugins.streaming.sse import SSEDecoder, SSEEvent
from pristine_plugins.streaming.watch import DURATION, FIRST_EVENT, watch_for
from pristine_runtime.backoff import retry_after_s
from pristine_runtime.secrets import redact

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
        #: Reconnects in a row that brought no event (the back-off exponent).
        self._failures = 0
        self.reconnects = 0
        self._watch = watch_for(call, response, settings, options)
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
        size = chunk_size or self._settings.chunk_size
        return watched_chunks(self.response, size, self._watch, self._call.endpoint.qualified_name)

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
        if self._watch is not None:
            self._watch.close()
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
        watch = self._watch
        while True:
            response = self.response
            failure: APIError | None = None
            try:
                for chunk in response.iter_bytes(chunk_size):
                    events = self._decoder.feed(chunk)
                    if events:
                        self._failures = 0
                        if watch is not None:
                            watch.saw_event()
                    for sse in events:
                        self._events += 1
                        item = self._convert(sse)
                        if item is not _SKIP:
                            self.last_event = sse
                            yield item
            except read_errors() as exc:
                if self._closed:
                    return
                failure = read_error(exc, response)
            if watch is not None and watch.fired is not None:
                failure = self._limit_reached(watch.fired, response)  # raises unless merely idle
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
        if self._watch is not None:
            self._watch.close()
        self.response.close()

    def _limit_reached(self, which: str, response: Response) -> APIError:
        """The error for a limit of the watch: raised for the deadline and the duration (the
        stream ends), returned for an idle connection (the stream reconnects)."""
        request = response.request
        method = request.method if request is not None else ""
        url = redact(response.url or (request.url if request is not None else ""))
        name = self._call.endpoint.qualified_name
        if which == FIRST_EVENT:
            raise APITimeoutError(
                f"{name}: call deadline reached before the first event: {method} {url}", method=method, url=url
            )
        if which == DURATION:
            raise APITimeoutError(
                f"{name}: the stream reached its max_duration_s after {self._events} event(s): {method} {url}",
                method=method,
                url=url,
            )
        idle = self._watch.idle_s if self._watch is not None else None
        return APITimeoutError(f"{name}: no event for {idle:g}s (idle timeout): {method} {url}", method=method, url=url)

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

    def _interrupted(self, message: str, reason: str, cause: APIError) -> StreamInterruptedError:
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

    def _resume(self, failure: APIError) -> Response | None:
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
        told: float | None = None  # a refused reconnect's Retry-After
        while True:
            if self.reconnects >= self._max_reconnects:
                if isinstance(failure, APIConnectionError):
                    raise self._interrupted(
                        f"stream interrupted; gave up after {self.reconnects} reconnect(s) ({failure.message})",
                        EXHAUSTED,
                        failure,
                    )
                raise failure  # the last reconnect was refused with a status: that is the answer
            self.reconnects += 1
            delay = self._settings.retry_delay_s(self.retry_ms, self._failures, told)
            self._failures += 1
            if self._watch is not None:
                limit = self._watch.wait_allowed(delay)
                if limit is not None:
                    self._limit_reached(limit, self.response)
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
                failure, told = exc, None
                continue
            if response.status_code == 204:
                response.close()
                return None  # the server says there is nothing more to send
            if response.status_code >= 300:
                response.content  # noqa: B018 - read the body so the connection is released
                error = status_error(call, response)
                if not error.retryable:
                    raise error
                failure, told = error, retry_after_s(response.headers, client.meta.clock.time())
                continue
            if self._watch is not None:
                self._watch.attach(response)
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

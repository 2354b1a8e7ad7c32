"""Raw streamed bodies: ``ByteStream`` and ``stream_to_file``.

A ``ByteStream`` is what a ``stream: true`` endpoint with ``stream_format: "bytes"``
returns, and what any endpoint returns when called with the extension option
``{"stream_response": True}`` (the body is then not read up front). ``stream_to_file`` writes
a streamed body to disk chunk by chunk, reporting progress.

Deadlines (:func:`watched_chunks`): reading is bounded like an SSE stream's, with a chunk for an
event. With an explicit call ``timeout_s`` the first byte must arrive by the call's deadline, and
no gap between two chunks may last ``idle_timeout_s`` (default: that ``timeout_s``) while the
reader waits; ``max_duration_s`` bounds the whole body. A limit shuts the socket down (from the
client's watchdog) and reading raises :class:`~pristine_core.errors.APITimeoutError`. Time the
caller spends with a chunk does not count as idle.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from pristine_core.errors import APITimeoutError
from pristine_core.pipeline import Response
from pristine_plugins.streaming.errors import read_error, read_errors
from pristine_plugins.streaming.watch import DURATION, FIRST_EVENT, StreamWatch
from pristine_runtime.secrets import redact

if TYPE_CHECKING:
    from pristine_plugins.streaming.stream import Stream

#: Called as ``progress(bytes_done, total_or_None)``.
Progress = Callable[[int, "int | None"], None]

DEFAULT_CHUNK_SIZE = 65_536


def iter_response(response: Response, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
    """``response.iter_bytes`` with read failures mapped to ``APIConnectionError``."""
    try:
        yield from response.iter_bytes(chunk_size)
    except read_errors() as exc:
        raise read_error(exc, response) from exc


def limit_error(which: str, watch: StreamWatch, response: Response, name: str) -> APITimeoutError:
    """The timeout error of a raw stream whose ``which`` limit struck."""
    request = response.request
    method = request.method if request is not None else ""
    url = redact(response.url or (request.url if request is not None else ""))
    prefix = f"{name}: " if name else ""
    if which == FIRST_EVENT:
        message = "call deadline reached before the first byte"
    elif which == DURATION:
        message = "the stream reached its max_duration_s"
    else:
        message = f"no data for {watch.idle_s:g}s (idle timeout)"
    return APITimeoutError(f"{prefix}{message}: {method} {url}", method=method, url=url)


def watched_chunks(
    response: Response, chunk_size: int, watch: StreamWatch | None, name: str = ""
) -> Iterator[bytes]:
    """The body of ``response`` in chunks, under ``watch``'s limits (see the module docstring).

    The idle limit is held while the caller has a chunk. A limit that struck ends reading with
    :class:`~pristine_core.errors.APITimeoutError`, even when the cut socket looked like a clean
    end of the body (a truncated body is never handed out as complete). The watch is closed when
    reading ends, however it ends. A reader that starts after the call's deadline gets one idle
    window for the first byte.
    """
    if watch is None:
        yield from iter_response(response, chunk_size)
        return
    try:
        now = time.monotonic()
        if watch.first_by is not None and watch.first_by < now and watch.idle_s is not None:
            watch.first_by = now + watch.idle_s  # a late reader gets one idle window for the first byte
        watch.release()
        try:
            for chunk in response.iter_bytes(chunk_size):
                if not chunk:
                    continue
                watch.saw_event()
                watch.hold()
                yield chunk
                watch.release()
        except read_errors() as exc:
            due = watch.due_limit()
            if due is None:
                raise read_error(exc, response) from exc
            raise limit_error(due, watch, response, name) from None
        if watch.fired is not None:
            raise limit_error(watch.fired, watch, response, name)
    finally:
        watch.close()


def content_length(response: Response) -> int | None:
    """The body size announced by the server, or None (unknown, or the body is encoded)."""
    if response.headers.get("content-encoding", "identity").lower() != "identity":
        return None
    value = response.headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class ByteStream:
    """A streamed response body: iterate it for byte chunks; close it (or use ``with``).

    ``limits`` builds the :class:`~pristine_plugins.streaming.watch.StreamWatch` that bounds the
    time to the first byte and the gaps between chunks once reading starts (see the module
    docstring); ``name`` (the endpoint) goes in its errors.
    """

    def __init__(
        self,
        response: Response,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        *,
        limits: Callable[[], StreamWatch | None] | None = None,
        name: str = "",
    ) -> None:
        self.response = response
        self.chunk_size = chunk_size
        self.name = name
        #: The limits of the read under way (built when reading starts; None: none).
        self.watch: StreamWatch | None = None
        self._limits = limits
        self._started = False

    @property
    def total(self) -> int | None:
        """The announced body size in bytes, when known."""
        return content_length(self.response)

    @property
    def started(self) -> bool:
        """True once reading has begun."""
        return self._started

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """Yield the body as it arrives, in chunks of at most ``chunk_size`` bytes."""
        self._started = True
        if self.watch is None and self._limits is not None:
            self.watch = self._limits()
        return watched_chunks(self.response, chunk_size or self.chunk_size, self.watch, self.name)

    def raw_chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """Like :meth:`iter_bytes`, but refuses a body that has already been read from."""
        if self._started:
            raise RuntimeError("the stream has already been read from")
        return self.iter_bytes(chunk_size)

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_bytes()

    def read(self) -> bytes:
        """The rest of the body, in one piece."""
        return b"".join(self.iter_bytes())

    def to_file(self, path: str | os.PathLike[str], progress: Progress | None = None) -> int:
        """Write the body to ``path`` (see :func:`stream_to_file`); the number of bytes written."""
        return stream_to_file(self, path, progress=progress, chunk_size=self.chunk_size)

    def close(self) -> None:
        """Release the connection (and stop its limits)."""
        if self.watch is not None:
            self.watch.close()
        self.response.close()

    def __enter__(self) -> ByteStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ByteStream {self.response.status_code} total={self.total}>"


def _source(
    source: Response | ByteStream | Stream | Iterable[bytes], chunk_size: int
) -> tuple[Iterable[bytes], int | None, Response | None]:
    if isinstance(source, Response):
        return iter_response(source, chunk_size), content_length(source), source
    if isinstance(source, ByteStream) or hasattr(source, "raw_chunks"):
        response: Response = source.response  # type: ignore[union-attr]
        return source.raw_chunks(chunk_size), content_length(response), response  # type: ignore[union-attr]
    return source, None, None


def stream_to_file(
    source: Response | ByteStream | Stream | Iterable[bytes],
    path: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> int:
    """Write a streamed body to ``path`` as it arrives; return the number of bytes written.

    ``source`` is a streamed :class:`~pristine_core.pipeline.Response`, a :class:`ByteStream`,
    an SSE ``Stream`` that has not been iterated (its raw event-stream bytes are written) or
    any iterable of byte chunks. ``progress(bytes_done, total)`` is called once before the
    first chunk and after every chunk; ``total`` is the ``Content-Length`` or None. The data
    goes to ``<path>.part`` and is renamed to ``path`` only once complete, so a failed download
    never leaves a truncated file behind. The response is closed in every case.
    """
    chunks, total, response = _source(source, chunk_size)
    target = os.fspath(path)
    partial = target + ".part"
    done = 0
    try:
        if progress is not None:
            progress(0, total)
        with open(partial, "wb") as out:
            for chunk in chunks:
                if not chunk:
                    continue
                out.write(chunk)
                out.flush()  # on disk as it arrives, not when a buffer fills
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        os.replace(partial, target)
    except BaseException:
        _remove(partial)
        raise
    finally:
        if response is not None:
            response.close()
    return done


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass

"""Raw streamed bodies: ``ByteStream`` and ``stream_to_file``.

A ``ByteStream`` is what a ``stream: true`` endpoint with ``stream_format: "bytes"``
returns, and what any endpoint returns when called with the extension option
``{"stream_response": True}`` (the body is then not read up front). ``stream_to_file`` writes
a streamed body to disk chunk by chunk, reporting progress.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from pristine_core.pipeline import Response
from pristine_plugins.streaming.errors import read_error, read_errors

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
    """A streamed response body: iterate it for byte chunks; close it (or use ``with``)."""

    def __init__(self, response: Response, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self.response = response
        self.chunk_size = chunk_size
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
        return iter_response(self.response, chunk_size or self.chunk_size)

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
        """Release the connection."""
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

"""Streamed multipart/form-data bodies (RFC 7578) with an exact length known up front.

:class:`MultipartBody` is an iterable of byte chunks with ``len()``: ``requests`` sends such a
body piece by piece with a ``Content-Length`` header, so a file part is read from disk while it
is sent and never held whole in memory. Iterating again yields the same bytes (retries).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping
from typing import Any

from pristine_core.errors import PristineError, ValidationError
from pristine_plugins.multipart.files import BytesSource, Source, UploadFile

CRLF = b"\r\n"
#: Small pieces are gathered up to this size before being handed to the socket.
COALESCE_BYTES = 64 * 1024
_BOUNDARY_TRIES = 8


def _random_token() -> str:
    return secrets.token_hex(16)


def form_value(value: Any) -> str:
    """How a scalar travels in a form field: JSON spelling for booleans and numbers, ``""`` for
    None, strings as they are."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    return str(value)


def flatten_fields(data: Any) -> list[tuple[str, str]]:
    """Flatten nested data into form fields with bracket names: ``{"a": {"b": [1]}}`` gives
    ``[("a[b][0]", "1")]``. Empty containers produce no field."""
    if data is None:
        return []
    if not isinstance(data, Mapping):
        raise ValidationError([("body", "a multipart body must be an object")])
    out: list[tuple[str, str]] = []
    _flatten(data, "", out)
    return out


def _flatten(value: Any, prefix: str, out: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(item, f"{prefix}[{key}]" if prefix else str(key), out)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _flatten(item, f"{prefix}[{index}]", out)
    else:
        out.append((prefix, form_value(value)))


def _quote(text: str) -> str:
    # The HTML form-encoding escapes for header parameter values.
    return text.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _part_head(boundary: str, name: str, filename: str | None, headers: Mapping[str, str]) -> bytes:
    disposition = f'form-data; name="{_quote(name)}"'
    if filename is not None:
        disposition += f'; filename="{_quote(filename)}"'
    lines = [f"--{boundary}", f"Content-Disposition: {disposition}"]
    for key, value in headers.items():
        if "\r" in key or "\n" in key or "\r" in value or "\n" in value:
            raise ValidationError([(f"files.{name}", "part headers must not contain line breaks")])
        lines.append(f"{key}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


class MultipartBody:
    """A multipart/form-data body: iterate for byte chunks, ``len()`` for the exact size."""

    def __init__(self, boundary: str, parts: list[tuple[bytes, Source]]) -> None:
        self.boundary = boundary
        self._parts = parts
        self._closing = f"--{boundary}--\r\n".encode("ascii")
        self._length = sum(len(head) + src.size + len(CRLF) for head, src in parts) + len(self._closing)

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header value, boundary included."""
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        pending: list[bytes] = []
        pending_size = 0
        for head, source in self._parts:
            small = source.in_memory()
            pieces: Iterator[bytes]
            if small is not None and len(small) <= COALESCE_BYTES:
                pieces = iter([head, small, CRLF])
            else:
                pieces = _chain(head, source.chunks(), CRLF)
            for piece in pieces:
                if len(piece) >= COALESCE_BYTES:
                    if pending:
                        yield b"".join(pending)
                        pending, pending_size = [], 0
                    yield piece
                    continue
                pending.append(piece)
                pending_size += len(piece)
                if pending_size >= COALESCE_BYTES:
                    yield b"".join(pending)
                    pending, pending_size = [], 0
        pending.append(self._closing)
        yield b"".join(pending)

    def to_bytes(self) -> bytes:
        """The whole body at once (tests and small bodies only)."""
        return b"".join(self)

    def __repr__(self) -> str:
        return f"<MultipartBody {len(self._parts)} parts, {self._length} bytes>"


def _chain(head: bytes, chunks: Iterator[bytes], tail: bytes) -> Iterator[bytes]:
    yield head
    yield from chunks
    yield tail


def encode_multipart(
    fields: list[tuple[str, str]], files: list[UploadFile], boundary: str | None = None
) -> MultipartBody:
    """Build the body for form ``fields`` and ``files``.

    Without ``boundary`` a random one is chosen and checked not to occur in any part held in
    memory (streamed file content cannot be checked; 128 random bits make a clash negligible).
    """
    field_parts = [(name, value.encode("utf-8")) for name, value in fields]
    in_memory = [data for _, data in field_parts]
    in_memory += [data for f in files if (data := f.source.in_memory()) is not None]
    in_memory += [(f.filename or "").encode("utf-8") + f.field.encode("utf-8") for f in files]
    if boundary is None:
        for _ in range(_BOUNDARY_TRIES):
            candidate = f"pristine-{_random_token()}"
            marker = candidate.encode("ascii")
            if not any(marker in data for data in in_memory):
                boundary = candidate
                break
        else:
            raise PristineError("could not find a multipart boundary absent from the data")
    parts: list[tuple[bytes, Source]] = []
    for name, data in field_parts:
        parts.append((_part_head(boundary, name, None, {}), BytesSource(data)))
    for upload in files:
        headers = {"Content-Type": upload.content_type, **upload.headers}
        parts.append((_part_head(boundary, upload.field, upload.filename, headers), upload.source))
    return MultipartBody(boundary, parts)

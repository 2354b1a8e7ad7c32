"""File utilities: read a file with a size limit, guess a content type, and turn the values
callers pass as upload files (paths, bytes, file objects, tuples) into sized byte sources."""

from __future__ import annotations

import io
import mimetypes
import os
import stat
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from pristine_core.errors import USER, PristineError, ValidationError

DEFAULT_CONTENT_TYPE = "application/octet-stream"
CHUNK_SIZE = 256 * 1024
_COMPRESSED = {"gzip": "application/gzip", "bzip2": "application/x-bzip2", "xz": "application/x-xz"}


class FileTooLargeError(PristineError, ValueError):
    """A file is larger than the limit it was read with."""

    category = USER

    def __init__(self, path: str, size: int, max_bytes: int) -> None:
        self.path = path
        self.size = size
        self.max_bytes = max_bytes
        super().__init__(f"{path} is {size} bytes, over the limit of {max_bytes} bytes")


def read_file(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The whole content of ``path``; :class:`FileTooLargeError` when it exceeds ``max_bytes``.

    The limit is checked before reading and again while reading (a file growing meanwhile).
    """
    name = os.fspath(path)
    if os.path.isdir(name):
        raise IsADirectoryError(f"{name} is a directory")
    size = os.path.getsize(name)
    if size > max_bytes:
        raise FileTooLargeError(name, size, max_bytes)
    with open(name, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileTooLargeError(name, len(data), max_bytes)
    return data


def guess_content_type(name: str | os.PathLike[str] | None) -> str:
    """The MIME type for a file name (``application/gzip`` for ``.gz`` and so on), else
    ``application/octet-stream``."""
    if not name:
        return DEFAULT_CONTENT_TYPE
    kind, encoding = mimetypes.guess_type(os.fspath(name), strict=False)
    if encoding is not None:
        return _COMPRESSED.get(encoding, DEFAULT_CONTENT_TYPE)
    return kind or DEFAULT_CONTENT_TYPE


class Source:
    """A sized, re-readable run of bytes: each :meth:`chunks` call yields the content again."""

    size: int = 0

    def chunks(self) -> Iterator[bytes]:
        """Yield the content in chunks of at most :data:`CHUNK_SIZE` bytes."""
        raise NotImplementedError

    def in_memory(self) -> bytes | None:
        """The content when it is held in memory (small parts), else None."""
        return None


class BytesSource(Source):
    """Content held in memory."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def chunks(self) -> Iterator[bytes]:
        """Yield the bytes (in slices, so a huge buffer is not copied at once)."""
        view = memoryview(self.data)
        for start in range(0, self.size, CHUNK_SIZE):
            yield bytes(view[start : start + CHUNK_SIZE])

    def in_memory(self) -> bytes:
        """The bytes themselves."""
        return self.data


def _read_exactly(handle: Any, size: int, label: str) -> Iterator[bytes]:
    left = size
    while left > 0:
        chunk = handle.read(min(CHUNK_SIZE, left))
        if not chunk:
            raise PristineError(f"{label} shrank while being sent ({size - left} of {size} bytes)")
        left -= len(chunk)
        yield chunk


class PathSource(Source):
    """A file on disk, opened anew for every read (so retries resend it)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.size = os.path.getsize(path)

    def chunks(self) -> Iterator[bytes]:
        """Stream the file; fails if it became shorter than when the body was built."""
        with open(self.path, "rb") as handle:
            yield from _read_exactly(handle, self.size, self.path)


class FileObjectSource(Source):
    """An open binary, seekable file object; every read starts where it stood at first."""

    def __init__(self, handle: Any, start: int, size: int) -> None:
        self.handle = handle
        self.start = start
        self.size = size

    def chunks(self) -> Iterator[bytes]:
        """Seek back to the starting offset and stream ``size`` bytes."""
        self.handle.seek(self.start)
        yield from _read_exactly(self.handle, self.size, getattr(self.handle, "name", "file object"))


@attrs.frozen
class UploadFile:
    """One file part: field name, file name (None: no ``filename`` parameter), content type,
    extra part headers and the byte source."""

    field: str
    filename: str | None
    content_type: str
    source: Source
    headers: Mapping[str, str] = attrs.Factory(dict)


_UNSET: Any = object()


def _file_object_source(handle: Any, where: str) -> Source:
    try:
        probe = handle.read(0)
    except (OSError, ValueError) as exc:
        raise ValidationError([(where, f"cannot read the file object: {exc}")]) from None
    if not isinstance(probe, (bytes, bytearray)):
        raise ValidationError([(where, "file objects must be opened in binary mode")])
    seekable = getattr(handle, "seekable", lambda: False)
    if seekable():
        start = handle.tell()
        try:
            info = os.fstat(handle.fileno())
            end = info.st_size if stat.S_ISREG(info.st_mode) else None
        except (AttributeError, OSError, io.UnsupportedOperation):
            end = None
        if end is None:
            end = handle.seek(0, io.SEEK_END)
            handle.seek(start)
        return FileObjectSource(handle, start, max(end - start, 0))
    # A pipe or socket cannot be rewound or measured: read it once into memory.
    return BytesSource(bytes(handle.read()))


def _source(data: Any, where: str) -> tuple[Source, str | None]:
    """A byte source for ``data`` and the file name it suggests."""
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if not isinstance(path, str) or not os.path.isfile(path):
            raise ValidationError([(where, f"no such file: {path!r}")])
        return PathSource(path), os.path.basename(path)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return BytesSource(bytes(data)), None
    if hasattr(data, "read"):
        name = getattr(data, "name", None)
        return _file_object_source(data, where), os.path.basename(name) if isinstance(name, str) else None
    raise ValidationError(
        [
            (
                where,
                f"expected a path, bytes, a binary file object or a (filename, data, content_type) tuple, "
                f"got {type(data).__name__}",
            )
        ]
    )


def upload_file(field: str, value: Any, where: str) -> UploadFile:
    """Normalize one caller value into an :class:`UploadFile`.

    ``value`` is a path (``str``/``PathLike``), bytes, a binary file object, or a tuple
    ``(filename, data[, content_type[, headers]])`` whose ``data`` is any of those.
    """
    filename: str | None = _UNSET
    content_type: str | None = None
    headers: Mapping[str, str] = {}
    if isinstance(value, tuple):
        if not 2 <= len(value) <= 4:
            raise ValidationError([(where, "a file tuple is (filename, data[, content_type[, headers]])")])
        filename, data = value[0], value[1]
        content_type = value[2] if len(value) > 2 else None
        headers = value[3] if len(value) > 3 else {}
        if filename is not None and not isinstance(filename, str):
            raise ValidationError([(where, "the file name must be a string or None")])
        if content_type is not None and not isinstance(content_type, str):
            raise ValidationError([(where, "the content type must be a string or None")])
        if not isinstance(headers, Mapping):
            raise ValidationError([(where, "extra part headers must be a mapping")])
    else:
        data = value
    source, suggested = _source(data, where)
    if filename is _UNSET:
        filename = suggested or "upload"
    return UploadFile(
        field=field,
        filename=filename,
        content_type=content_type or guess_content_type(filename),
        source=source,
        headers=dict(headers),
    )


def upload_files(files: Any) -> list[UploadFile]:
    """Normalize the ``files`` option: a mapping ``{field: value | [values]}`` or a list of
    ``(field, value)`` pairs (order kept, a field may repeat)."""
    if files is None:
        return []
    if isinstance(files, Mapping):
        pairs = list(files.items())
    elif isinstance(files, (list, tuple)):
        pairs = list(files)
    else:
        raise ValidationError([("files", "expected a mapping or a list of (field, value) pairs")])
    out: list[UploadFile] = []
    for index, pair in enumerate(pairs):
        if not isinstance(pair, tuple) or len(pair) != 2 or not isinstance(pair[0], str):
            raise ValidationError([(f"files[{index}]", "expected a (field name, value) pair")])
        field, value = pair
        values = value if isinstance(value, list) else [value]
        for position, item in enumerate(values):
            where = f"files.{field}" + (f"[{position}]" if isinstance(value, list) else "")
            out.append(upload_file(field, item, where))
    return out

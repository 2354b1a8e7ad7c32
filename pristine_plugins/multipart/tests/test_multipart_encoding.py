"""The encoder and the file utilities, checked with the stdlib email parser."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pristine_core import PristineError, ValidationError
from pristine_plugins.multipart import (
    FileTooLargeError,
    encode_multipart,
    flatten_fields,
    guess_content_type,
    read_file,
    upload_files,
)
from pristine_plugins.multipart import encoder as encoder_module
from pristine_plugins.multipart.files import CHUNK_SIZE

Parse = Callable[[str, bytes], list[dict[str, Any]]]


def test_nested_fields_are_flattened_with_bracket_names() -> None:
    data = {"a": {"b": [1, {"c": "x"}], "d": {}}, "t": True, "n": None, "f": 1.5, "s": "ü"}
    assert flatten_fields(data) == [
        ("a[b][0]", "1"),
        ("a[b][1][c]", "x"),
        ("t", "true"),
        ("n", ""),
        ("f", "1.5"),
        ("s", "ü"),
    ]


def test_a_non_object_body_is_rejected() -> None:
    with pytest.raises(ValidationError):
        flatten_fields([1, 2])
    assert flatten_fields(None) == []


def test_fields_and_files_parse_back(tmp_path: Path, parse_email: Parse) -> None:
    doc = tmp_path / "report.json"
    doc.write_bytes(b'{"k": [1, 2]}')
    files = upload_files(
        [
            ("doc", str(doc)),
            ("blob", b"\x00\xff\r\n--x"),
            ("note", ("note.txt", b"hello", "text/plain; charset=utf-8")),
            ("anon", (None, b"no file name")),
            ("path", doc),
        ]
    )
    body = encode_multipart([("purpose", "train"), ("meta[a]", "ü")], files)
    parts = parse_email(body.content_type, body.to_bytes())
    assert [(p["name"], p["filename"], p["type"], p["data"]) for p in parts] == [
        ("purpose", None, None, b"train"),
        ("meta[a]", None, None, "ü".encode()),
        ("doc", "report.json", "application/json", b'{"k": [1, 2]}'),
        ("blob", "upload", "application/octet-stream", b"\x00\xff\r\n--x"),
        ("note", "note.txt", "text/plain", b"hello"),
        ("anon", None, "application/octet-stream", b"no file name"),
        ("path", "report.json", "application/json", b'{"k": [1, 2]}'),
    ]
    assert parts[4]["charset"] == "utf-8"


def test_length_is_exact_and_iterating_again_gives_the_same_bytes(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * CHUNK_SIZE + 17))
    handle = big.open("rb")
    try:
        files = upload_files({"a": str(big), "b": handle, "c": b"x" * 100_000, "d": [b"1", b"22"]})
        body = encode_multipart([("f", "v")], files)
        first = body.to_bytes()
        assert len(first) == len(body)
        assert body.to_bytes() == first
    finally:
        handle.close()


def test_file_parts_stream_in_bounded_chunks(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        out.truncate(20 * CHUNK_SIZE)
    body = encode_multipart([], upload_files({"file": str(big)}))
    sizes = [len(chunk) for chunk in body]
    assert sum(sizes) == len(body)
    assert max(sizes) <= CHUNK_SIZE + encoder_module.COALESCE_BYTES


def test_a_file_object_is_sent_from_where_it_stood(parse_email: Parse) -> None:
    handle = io.BytesIO(b"0123456789")
    handle.seek(4)
    body = encode_multipart([], upload_files({"f": handle}))
    for _ in range(2):
        assert parse_email(body.content_type, body.to_bytes())[0]["data"] == b"456789"


def test_a_pipe_is_read_once_into_memory(parse_email: Parse) -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"piped data")
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        body = encode_multipart([], upload_files({"f": pipe}))
    assert parse_email(body.content_type, body.to_bytes())[0]["data"] == b"piped data"
    assert body.to_bytes() == body.to_bytes()


def test_a_file_that_shrinks_before_sending_fails_loudly(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 1000)
    body = encode_multipart([], upload_files({"f": str(path)}))
    path.write_bytes(b"x" * 10)
    with pytest.raises(PristineError, match="shrank"):
        body.to_bytes()


@pytest.mark.parametrize(
    "files",
    [
        {"f": 42},
        {"f": "/no/such/file.bin"},
        {"f": io.StringIO("text mode")},
        {"f": ("name.txt",)},
        {"f": (b"name", b"data")},
        {"f": ("n.txt", b"d", "text/plain", {"X-Evil": "a\r\nb"})},
        "not files",
        [("only-a-name",)],
    ],
)
def test_bad_file_values_are_validation_errors(files: Any) -> None:
    with pytest.raises(ValidationError):
        encode_multipart([], upload_files(files))


def test_the_boundary_is_random_and_never_inside_in_memory_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = iter(["aaaa", "bbbb"])
    monkeypatch.setattr(encoder_module, "_random_token", lambda: next(tokens))
    body = encode_multipart([("f", "contains pristine-aaaa inside")], [])
    assert body.boundary == "pristine-bbbb"
    monkeypatch.undo()
    one, two = encode_multipart([], []), encode_multipart([], [])
    assert one.boundary != two.boundary
    assert re.fullmatch(r"pristine-[0-9a-f]{32}", one.boundary)


def test_names_with_quotes_and_line_breaks_are_escaped(parse_email: Parse) -> None:
    body = encode_multipart([('we"ird\r\nname', "v")], upload_files({"f": ('a"b.txt', b"d")}))
    raw = body.to_bytes()
    assert b'name="we%22ird%0D%0Aname"' in raw
    parts = parse_email(body.content_type, raw)
    assert len(parts) == 2 and parts[1]["data"] == b"d"


# -- file utilities ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("data.json", "application/json"),
        ("photo.PNG", "image/png"),
        ("notes.txt", "text/plain"),
        ("archive.tar.gz", "application/gzip"),
        ("weights.unknownext", "application/octet-stream"),
        ("", "application/octet-stream"),
        (None, "application/octet-stream"),
    ],
)
def test_guess_content_type(name: str | None, expected: str) -> None:
    assert guess_content_type(name) == expected


def test_read_file_within_and_over_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abcdef")
    assert read_file(path, 6) == b"abcdef"
    with pytest.raises(FileTooLargeError) as info:
        read_file(str(path), 5)
    assert info.value.size == 6 and info.value.max_bytes == 5
    assert "6 bytes" in str(info.value) and "limit of 5 bytes" in str(info.value)
    with pytest.raises(IsADirectoryError):
        read_file(tmp_path, 10)
    with pytest.raises(FileNotFoundError):
        read_file(tmp_path / "missing", 10)

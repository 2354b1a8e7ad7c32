"""The SSE decoder against the WHATWG event-stream rules, whole and split at any boundary."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pristine_plugins.streaming import SSEDecoder, SSEEvent, iter_sse

Row = tuple[str, str, str, "int | None"]


def decode(*chunks: bytes) -> list[Row]:
    """Feed ``chunks`` to one decoder and return the events as tuples."""
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    decoder.close()
    return [(e.event, e.data, e.id, e.retry) for e in events]


def oracle(raw: bytes) -> list[Row]:
    """An independent, character-by-character reading of the spec, used as the reference."""
    text = raw.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "\r\n":
            lines.append("".join(current))
            current = []
            if ch == "\r" and i + 1 < len(text) and text[i + 1] == "\n":
                i += 1
        else:
            current.append(ch)
        i += 1
    # ``current`` holds an unterminated last line: never processed.
    out: list[Row] = []
    data, event_type, id_buffer, block_retry = "", "", "", None
    for line in lines:
        if line == "":
            last_event_id = id_buffer
            if data == "":
                event_type, block_retry = "", None
                continue
            if data.endswith("\n"):
                data = data[:-1]
            out.append((event_type or "message", data, last_event_id, block_retry))
            data, event_type, block_retry = "", "", None
            continue
        if line.startswith(":"):
            continue
        if ":" in line:
            field, value = line.split(":", 1)
            if value.startswith(" "):
                value = value[1:]
        else:
            field, value = line, ""
        if field == "data":
            data += value + "\n"
        elif field == "event":
            event_type = value
        elif field == "id":
            if "\0" not in value:
                id_buffer = value
        elif field == "retry":
            if value and all(c in "0123456789" for c in value):
                block_retry = int(value)
    return out


# -- the spec's examples, written out -----------------------------------------------------


def test_stock_ticker_example() -> None:
    """Four lines: three data lines and a blank line make one event joined with LF."""
    assert decode(b"data: YHOO\ndata: +2\ndata: 10\n\n") == [("message", "YHOO\n+2\n10", "", None)]


def test_comment_and_ids_example() -> None:
    """Comments are skipped; ``id`` is carried; a bare ``id`` resets it to empty."""
    stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"
    assert decode(stream) == [
        ("message", "first event", "1", None),
        ("message", "second event", "", None),
        ("message", " third event", "", None),
    ]


def test_empty_data_example() -> None:
    """``data`` without a colon adds an empty line; the unterminated last block is dropped."""
    assert decode(b"data\n\ndata\ndata\n\ndata:") == [("message", "", "", None), ("message", "\n", "", None)]


def test_space_after_colon_example() -> None:
    """Only one leading space is removed, so these two events are identical."""
    assert decode(b"data:test\n\ndata: test\n\n") == [("message", "test", "", None)] * 2


# -- field rules --------------------------------------------------------------------------


def test_event_names_and_reset() -> None:
    """``event`` names one event only; an empty name means ``message``."""
    stream = b"event: add\ndata: 1\n\ndata: 2\n\nevent\ndata: 3\n\nevent:\ndata: 4\n\n"
    assert [r[0] for r in decode(stream)] == ["add", "message", "message", "message"]


def test_last_event_id_carries_across_events() -> None:
    """Events without ``id:`` keep the previous id; the decoder exposes the current one."""
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 41\ndata: a\n\ndata: b\n\nid: 42\n\n")
    assert [(e.data, e.id) for e in events] == [("a", "41"), ("b", "41")]
    assert decoder.last_event_id == "42"  # an id-only block updates the id without an event


def test_id_with_nul_is_ignored() -> None:
    """An ``id`` value containing NUL does not change the last event id."""
    assert decode(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n") == [
        ("message", "a", "1", None),
        ("message", "b", "1", None),
    ]


def test_id_line_without_blank_line_does_not_count() -> None:
    """The id only becomes the stream's last event id when its block is dispatched."""
    decoder = SSEDecoder()
    decoder.feed(b"id: 1\ndata: a\n\nid: 2\n")
    assert decoder.last_event_id == "1"
    decoder.close()
    assert decoder.last_event_id == "1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"3000", 3000),
        (b"0", 0),
        (b"12a", None),
        (b"  5", None),
        (b" 5", 5),
        (b"-1", None),
        (b"", None),
        (b"\xc2\xb2", None),
    ],
)
def test_retry_digits_only(value: bytes, expected: int | None) -> None:
    """``retry`` is honoured only for ASCII digits (a superscript two is not a digit here)."""
    decoder = SSEDecoder()
    events = decoder.feed(b"retry:" + value + b"\ndata: x\n\n")
    assert events[0].retry == expected and decoder.retry_ms == expected


def test_retry_only_block_sets_time_without_event() -> None:
    """A block with ``retry`` and no data changes the reconnection time, dispatches nothing."""
    decoder = SSEDecoder()
    assert decoder.feed(b"retry: 250\n\n") == []
    assert decoder.retry_ms == 250


def test_unknown_fields_and_field_without_colon() -> None:
    """Unknown fields are ignored; a whole line without a colon is a field name."""
    assert decode(b"foo: bar\ndata\nDATA: no\ndata : no\nevent\n\n") == [("message", "", "", None)]


def test_colon_in_value_and_only_first_colon_splits() -> None:
    """The value runs from the first colon to the end of the line, colons included."""
    assert decode(b'data: {"a": "b:c"}\n\n') == [("message", '{"a": "b:c"}', "", None)]


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_line_endings(eol: bytes) -> None:
    """LF, CR and CRLF end lines alike."""
    stream = eol.join([b"event: e", b"data: a", b"data: b", b"", b": c", b"data: d", b"", b""])
    assert decode(stream) == [("e", "a\nb", "", None), ("message", "d", "", None)]


def test_mixed_line_endings_and_cr_lf_split_across_chunks() -> None:
    """A CR ending one chunk and a LF starting the next are one line ending, not two."""
    assert decode(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == [("message", "a\nb", "", None)]
    # ...whereas CR then CR is two line endings (a blank line).
    assert decode(b"data: a\r", b"\r") == [("message", "a", "", None)]


def test_leading_bom_stripped_once_even_when_split() -> None:
    """One leading byte-order mark is dropped, even split over chunks; a second one is kept."""
    bom = b"\xef\xbb\xbf"
    assert decode(bom + b"data: x\n\n") == [("message", "x", "", None)]
    assert decode(b"\xef", b"\xbb", b"\xbfdata: x\n\n") == [("message", "x", "", None)]
    # The second BOM makes the field name "\ufeffdata", an unknown field.
    assert decode(bom + bom + b"data: x\n\n") == []


def test_no_dispatch_of_incomplete_event_at_eof() -> None:
    """An event not followed by a blank line never reaches the caller."""
    assert decode(b"data: complete\n\ndata: partial\n") == [("message", "complete", "", None)]
    assert list(iter_sse([b"data: a\n\n", b"data: b"])) == [SSEEvent("message", "a")]


def test_events_are_returned_as_soon_as_complete() -> None:
    """feed() hands out each event with the chunk that completes it, not later."""
    decoder = SSEDecoder()
    assert decoder.feed(b"data: one") == []
    assert decoder.feed(b"\n") == []
    assert [e.data for e in decoder.feed(b"\ndata: two\n")] == ["one"]
    assert [e.data for e in decoder.feed(b"\n")] == ["two"]


def test_invalid_utf8_is_replaced_and_multibyte_split_is_kept() -> None:
    """Bad bytes become U+FFFD; a character split over chunks is decoded whole."""
    euro = "€".encode()
    assert decode(b"data: \xff\n\n") == [("message", "\ufffd", "", None)]
    assert decode(b"data: " + euro[:1], euro[1:] + b"\n\n") == [("message", "€", "", None)]


def test_json_helper() -> None:
    """SSEEvent.json parses the data."""
    assert SSEEvent(data='{"a": [1, 2]}').json() == {"a": [1, 2]}


def test_long_line_over_many_chunks() -> None:
    """A line longer than many chunks is assembled once it ends."""
    payload = b"x" * 10_000
    chunks = [b"data: "] + [payload[i : i + 7] for i in range(0, len(payload), 7)] + [b"\n\n"]
    assert decode(*chunks) == [("message", "x" * 10_000, "", None)]


# -- property tests ----------------------------------------------------------------------

_VALUE_TEXT = st.text(alphabet=st.sampled_from(list('ab :é€0129\x00\ufeff{}"')), max_size=12)
_FIELD = st.sampled_from(["data", "event", "id", "retry", "foo", "dat", "data ", "DATA", ""])


@st.composite
def _lines(draw: Any) -> bytes:
    kind = draw(st.sampled_from(["field", "field", "field", "bare", "comment", "blank", "blank", "bytes"]))
    if kind == "field":
        sep = draw(st.sampled_from([":", ": ", ":  "]))
        line = (draw(_FIELD) + sep + draw(_VALUE_TEXT)).encode()
    elif kind == "bare":
        line = draw(_FIELD).encode()
    elif kind == "comment":
        line = (":" + draw(_VALUE_TEXT)).encode()
    elif kind == "bytes":
        line = b"data: " + draw(st.binary(max_size=6)).replace(b"\r", b"").replace(b"\n", b"")
    else:
        line = b""
    return line + draw(st.sampled_from([b"\n", b"\r", b"\r\n"]))


@st.composite
def _common_blocks(draw: Any) -> bytes:
    """Whole blocks of the shapes the decoder handles in bulk, with awkward values."""
    value = draw(_VALUE_TEXT).encode()
    eol = draw(st.sampled_from([b"\n", b"\r\n"]))
    if draw(st.booleans()):
        return b"data: " + value + eol + eol
    return b"id: " + draw(_VALUE_TEXT).encode() + eol + b"data: " + value + eol + eol


@st.composite
def _streams(draw: Any) -> bytes:
    body = b"".join(draw(st.lists(st.one_of(_lines(), _common_blocks()), max_size=30)))
    if draw(st.booleans()):
        body += draw(st.sampled_from([b"data: tail", b"id: 9", b"\r", b""]))
    if draw(st.booleans()):
        body = b"\xef\xbb\xbf" + body
    return body


@settings(max_examples=300, deadline=None)
@given(stream=_streams(), data=st.data())
def test_random_chunking_matches_whole_and_reference(stream: bytes, data: Any) -> None:
    """Splitting a stream at random boundaries yields the same events as the spec reference."""
    expected = oracle(stream)
    assert decode(stream) == expected
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(stream)), max_size=12))))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=False)]
    assert decode(*chunks) == expected


@settings(max_examples=100, deadline=None)
@given(stream=_streams())
def test_byte_by_byte_matches_whole(stream: bytes) -> None:
    """Feeding one byte at a time gives the same events and the same last event id."""
    whole, single = SSEDecoder(), SSEDecoder()
    expected = whole.feed(stream)
    got = [e for i in range(len(stream)) for e in single.feed(stream[i : i + 1])]
    assert got == expected
    assert (single.last_event_id, single.retry_ms) == (whole.last_event_id, whole.retry_ms)

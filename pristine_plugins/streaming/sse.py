"""An incremental Server-Sent Events decoder that follows the WHATWG event-stream rules.

The rules (HTML Living Standard, "Server-sent events", section "Parsing an event stream"):

* the stream is UTF-8 (invalid bytes become U+FFFD); one leading byte-order mark is dropped;
* lines end with CRLF, LF or CR; a CR at the end of one chunk and a LF at the start of the
  next are one line ending;
* an empty line dispatches the event being built; a line starting with ``:`` is a comment;
* otherwise the field name runs up to the first ``:`` and the value follows it, minus one
  leading space; a line without a colon is a field with an empty value;
* ``data`` appends its value plus a LF to the data buffer; ``event`` sets the event type;
  ``id`` sets the last-event-id buffer unless the value contains NUL; ``retry`` sets the
  reconnection time when the value is ASCII digits only; other fields are ignored;
* dispatch: the last event id becomes the buffer's value (it carries over to later events and
  is not reset by them); an empty data buffer dispatches nothing; otherwise the final LF is
  removed and an event is produced with type ``message`` when none was given;
* at end of stream, an event that was not followed by an empty line is discarded.

:class:`SSEDecoder` never holds more than the current incomplete line and the event being
built. The common case is handled in bulk: each chunk's complete lines are decoded in one
call and split into blocks on blank lines in one call; then runs of the two usual block shapes
(a lone ``data: x`` line, or ``id: n`` + ``data: x``) are classified and turned into events with
C-level ``map`` calls, without a per-line Python loop. Other blocks go through the general
line-by-line path.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable, Iterator
from itertools import groupby, repeat
from typing import Any, NamedTuple

__all__ = ["SSEDecoder", "SSEEvent", "iter_sse"]

_BOM = b"\xef\xbb\xbf"
_CR = 13
_LF = 10


class SSEEvent(NamedTuple):
    """One dispatched event.

    ``id`` is the stream's last event id when the event was dispatched (it carries over from
    earlier events until the server sends another ``id:``); ``retry`` is the reconnection time
    in milliseconds given in this event's own block, or None. A named tuple rather than an
    attrs class because one is built per event on the hot path, where a tuple is several times
    cheaper to make; it is just as immutable.
    """

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None

    def json(self) -> Any:
        """The data parsed as JSON (``ValueError`` when it is not JSON)."""
        return json.loads(self.data)


_new_tuple = tuple.__new__
_after_data = operator.itemgetter(slice(6, None))  # the value of a "data: <value>" line
_after_id = operator.itemgetter(slice(4, None))  # the value of an "id: <value>" line
_first = operator.itemgetter(0)
_third = operator.itemgetter(2)

# Block shapes that are decoded in bulk (see _shapes).
_OTHER, _DATA, _ID_DATA = 0, 1, 2


def _shapes(pieces: list[str], with_ids: bool) -> list[int]:
    """Classify complete blocks without a Python-level loop (every step is a C-level ``map``).

    ``_DATA``: a single ``data: <value>`` line. ``_ID_DATA``: ``id: <id>`` then ``data: <value>``,
    looked for only when ``with_ids`` (the text has ``id:`` lines and no NUL, so every id in it
    is valid). ``_OTHER``: anything else.
    """
    data = map(operator.gt, map(str.startswith, pieces, repeat("data: ")), map(operator.contains, pieces, repeat("\n")))
    if not with_ids:
        return list(map(int, data))
    id_data = map(
        operator.and_,
        map(
            operator.and_,
            map(str.startswith, pieces, repeat("id: ")),
            map(operator.eq, map(str.count, pieces, repeat("\n")), repeat(1)),
        ),
        map(operator.ge, map(str.find, pieces, repeat("\ndata: ")), repeat(0)),
    )
    return list(map(operator.add, data, map(operator.mul, id_data, repeat(_ID_DATA))))


class SSEDecoder:
    """Feed bytes in, get complete events out: ``events = decoder.feed(chunk)``.

    ``last_event_id`` is the id to send as ``Last-Event-ID`` when reconnecting; ``retry_ms``
    is the reconnection time the server asked for (None until it sends ``retry:``). Both may
    be seeded from an earlier connection of the same logical stream. ``dispatched`` counts the
    events produced so far.
    """

    __slots__ = (
        "_at_start",
        "_block_retry",
        "_data",
        "_dirty",
        "_event",
        "_id_buffer",
        "_skip_lf",
        "_tail",
        "dispatched",
        "last_event_id",
        "retry_ms",
    )

    def __init__(self, last_event_id: str = "", retry_ms: int | None = None) -> None:
        self._tail: list[bytes] = []  # pieces of the current incomplete line (never holds CR/LF)
        self._skip_lf = False  # the previous chunk ended with CR: a leading LF belongs to it
        self._at_start = True  # a byte-order mark may still come
        self._data: list[str] = []
        self._event = ""
        self._id_buffer = ""
        self._block_retry: int | None = None
        self._dirty = False  # the data, event or retry buffers of the current block are not empty
        self.last_event_id = last_event_id
        self.retry_ms = retry_ms
        self.dispatched = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume ``chunk`` and return the events it completes (often none or one)."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == _LF:
                chunk = chunk[1:]
                if not chunk:
                    return []
        if self._at_start:
            stripped = self._strip_bom(chunk)
            if stripped is None:
                return []
            chunk = stripped
        lf = chunk.rfind(b"\n")
        cr = chunk.rfind(b"\r")
        cut = lf if lf > cr else cr
        if cut < 0:
            self._tail.append(chunk)
            return []
        end = cut + 1
        if self._tail:
            self._tail.append(chunk[:end])
            complete = b"".join(self._tail)
        else:
            complete = chunk[:end] if end < len(chunk) else chunk
        if end < len(chunk):
            self._tail = [chunk[end:]]
        else:
            self._tail = []
            self._skip_lf = cut == cr
        if cr >= 0:
            complete = complete.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return self._process(complete.decode("utf-8", "replace"))

    def close(self) -> None:
        """End of stream: drop the incomplete line and any event not yet dispatched."""
        self._tail = []
        self._skip_lf = False
        self._reset_block()

    def _strip_bom(self, chunk: bytes) -> bytes | None:
        head = b"".join((*self._tail, chunk)) if self._tail else chunk
        if len(head) < len(_BOM) and _BOM.startswith(head):
            self._tail = [head]  # could still become a byte-order mark
            return None
        self._at_start = False
        self._tail = []
        return head[len(_BOM) :] if head.startswith(_BOM) else head

    def _process(self, text: str) -> list[SSEEvent]:
        """Handle ``text``: whole lines, each ending with LF (line endings already normalised)."""
        events: list[SSEEvent] = []
        # Every "\n\n" is the end of a line followed by an empty line, i.e. a dispatch: the
        # pieces before the last one are complete blocks, the last one is a block in progress.
        pieces = text.split("\n\n")
        last = pieces.pop()
        if pieces:
            self._blocks(pieces, _shapes(pieces, "id: " in text and "\x00" not in text), events)
        if last:
            self._lines(last[:-1].split("\n"), events)
        return events

    def _blocks(self, pieces: list[str], shapes: list[int], events: list[SSEEvent]) -> None:
        """Dispatch complete blocks: runs of the two common shapes in bulk, others one by one."""
        if self._dirty:
            shapes[0] = _OTHER  # it continues a block begun in an earlier chunk
        start = 0
        for shape, group in groupby(shapes):
            stop = start + len(list(group))
            run = pieces[start:stop]
            if shape == _DATA:
                id_buffer = self._id_buffer
                fields = zip(repeat("message"), map(_after_data, run), repeat(id_buffer), repeat(None))
                events.extend(map(_new_tuple, repeat(SSEEvent), fields))
                self.last_event_id = id_buffer
                self.dispatched += len(run)
            elif shape == _ID_DATA:
                halves = list(map(str.partition, run, repeat("\n")))
                ids = list(map(_after_id, map(_first, halves)))
                fields = zip(repeat("message"), map(_after_data, map(_third, halves)), ids, repeat(None))
                events.extend(map(_new_tuple, repeat(SSEEvent), fields))
                self.last_event_id = self._id_buffer = ids[-1]
                self.dispatched += len(run)
            else:
                for index, piece in enumerate(run, start):
                    if index == 0 and self._dirty:
                        self._lines(piece.split("\n"), events)
                        self._dispatch(events)
                    else:
                        self._block(piece, events)
            start = stop

    def _block(self, piece: str, events: list[SSEEvent]) -> None:
        """Parse and dispatch one complete block, starting from clean buffers."""
        # Leading LFs are empty lines right after a dispatch: they would dispatch nothing.
        lines = (piece.lstrip("\n") if piece.startswith("\n") else piece).split("\n")
        data: list[str] = []
        event = ""
        retry: int | None = None
        for line in lines:
            field, colon, value = line.partition(":")
            if colon and value.startswith(" "):
                value = value[1:]
            if field == "data":
                data.append(value)
            elif not field:
                continue  # a comment (or the empty remains of a piece that was all LFs)
            elif field == "id":
                if "\x00" not in value:
                    self._id_buffer = value
            elif field == "event":
                event = value
            elif field == "retry":
                if value.isascii() and value.isdigit():
                    self.retry_ms = retry = int(value)
        self.last_event_id = self._id_buffer
        if data:
            self.dispatched += 1
            events.append(_new_tuple(SSEEvent, (event or "message", "\n".join(data), self._id_buffer, retry)))

    def _lines(self, lines: list[str], events: list[SSEEvent]) -> None:
        data = self._data
        for line in lines:
            if not line:
                self._dispatch(events)
                continue
            field, colon, value = line.partition(":")
            if colon and value.startswith(" "):
                value = value[1:]
            if field == "data":
                data.append(value)
                self._dirty = True
            elif not field:
                continue  # a comment
            elif field == "id":
                if "\x00" not in value:
                    self._id_buffer = value
            elif field == "event":
                self._event = value
                self._dirty = True
            elif field == "retry":
                if value.isascii() and value.isdigit():
                    self.retry_ms = self._block_retry = int(value)
                    self._dirty = True

    def _dispatch(self, events: list[SSEEvent]) -> None:
        self.last_event_id = self._id_buffer
        if not self._dirty:
            return
        if self._data:
            self.dispatched += 1
            fields = (self._event or "message", "\n".join(self._data), self._id_buffer, self._block_retry)
            events.append(_new_tuple(SSEEvent, fields))
        self._reset_block()

    def _reset_block(self) -> None:
        self._data.clear()  # the same list object: _lines holds on to it across dispatches
        self._event = ""
        self._block_retry = None
        self._dirty = False


def iter_sse(chunks: Iterable[bytes], decoder: SSEDecoder | None = None) -> Iterator[SSEEvent]:
    """Decode an iterable of byte chunks lazily, yielding each event as soon as it is complete."""
    decoder = decoder or SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    decoder.close()

"""SSE decode throughput: the streaming plugin's decoder against a line-by-line reference.

Both decoders get the same generated event streams (about 8 MB each, fed in 64 KiB chunks) and
must produce the same events. The reference is the straightforward reading of the WHATWG rules:
accumulate bytes, cut them into lines, decode and interpret each line on its own. Three shapes
are measured: LLM-token streams (one ``data:`` line per event), resumable streams (``id:`` and
``data:`` per event) and a mixed stream (CRLF endings, multi-line data, event names, retry).

Run: ``python bench/sse_decode.py``; the last line is the headline: the plugin decoder's
throughput over all three streams together (total bytes / total best time).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable

from pristine_plugins.streaming.sse import SSEDecoder, SSEEvent

CHUNK = 65_536
TARGET_BYTES = 8 * 1024 * 1024
ROUNDS = 5


class ReferenceDecoder:
    """A plain line-by-line SSE decoder (the usual way of writing one), for comparison."""

    def __init__(self) -> None:
        self._buffer = b""
        self._pending_cr = False
        self._data: list[str] = []
        self._event = ""
        self._id = ""
        self._retry: int | None = None
        self._started = False
        self.last_event_id = ""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        if not self._started:
            self._started = True
            if chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:]
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split between chunks
        self._buffer += chunk
        lines = self._buffer.splitlines(keepends=True)
        self._buffer = b""
        for raw in lines:
            if not raw.endswith((b"\n", b"\r")):
                self._buffer = raw  # an incomplete last line waits for more bytes
                break
            self._line(raw.rstrip(b"\r\n").decode("utf-8", "replace"), events)
        self._pending_cr = bool(lines) and not self._buffer and lines[-1].endswith(b"\r")
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if line == "":
            self.last_event_id = self._id
            if self._data:
                events.append(SSEEvent(self._event or "message", "\n".join(self._data), self._id, self._retry))
            self._data, self._event, self._retry = [], "", None
            return
        if line.startswith(":"):
            return
        if ":" in line:
            field, value = line.split(":", 1)
            if value.startswith(" "):
                value = value[1:]
        else:
            field, value = line, ""
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\0" not in value:
                self._id = value
        elif field == "retry":
            if value.isascii() and value.isdigit():
                self._retry = int(value)


def token_stream(rng: random.Random) -> bytes:
    """LLM-token shape: one ``data:`` line per event, a keep-alive comment now and then."""
    parts: list[bytes] = []
    size = i = 0
    while size < TARGET_BYTES:
        payload = json.dumps({"index": i, "text": "tok" * rng.randint(1, 8), "logprob": -rng.random()})
        event = f"data: {payload}\n\n"
        if i % 97 == 0:
            event = ": keep-alive\n\n" + event
        raw = event.encode()
        parts.append(raw)
        size += len(raw)
        i += 1
    return b"".join(parts)


def resumable_stream(rng: random.Random) -> bytes:
    """Resumable shape: every event carries an ``id:`` line before its ``data:`` line."""
    parts: list[bytes] = []
    size = i = 0
    while size < TARGET_BYTES:
        payload = json.dumps({"index": i, "text": "tok" * rng.randint(1, 8)})
        raw = f"id: {i}\ndata: {payload}\n\n".encode()
        parts.append(raw)
        size += len(raw)
        i += 1
    return b"".join(parts)


def mixed_stream(rng: random.Random) -> bytes:
    """CRLF endings, event names, multi-line data, ids and retry fields."""
    parts: list[bytes] = []
    size = i = 0
    while size < TARGET_BYTES:
        lines = [f"event: {rng.choice(['delta', 'usage', 'message'])}", f"id: {i}"]
        lines += [f'data: {{"line": {k}, "v": "{"x" * rng.randint(0, 40)}"}}' for k in range(rng.randint(1, 4))]
        if i % 50 == 0:
            lines.append("retry: 3000")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
        parts.append(raw)
        size += len(raw)
        i += 1
    return b"".join(parts)


def run(factory: Callable[[], object], chunks: Iterable[bytes]) -> tuple[float, int]:
    """Seconds to decode all chunks with a fresh decoder, and the number of events.

    Events are counted and dropped, as a consumer handling them one by one would: keeping
    hundreds of thousands of them alive would mostly measure the garbage collector.
    """
    decoder = factory()
    feed = decoder.feed  # type: ignore[attr-defined]
    count = 0
    started = time.perf_counter()
    for chunk in chunks:
        count += len(feed(chunk))
    return time.perf_counter() - started, count


def decode_all(factory: Callable[[], object], chunks: Iterable[bytes]) -> list[SSEEvent]:
    """Every event (untimed), to check that both decoders agree."""
    decoder = factory()
    return [event for chunk in chunks for event in decoder.feed(chunk)]  # type: ignore[attr-defined]


def measure(name: str, stream: bytes) -> tuple[float, float]:
    """Print both decoders' throughput on ``stream``; return the best seconds of each."""
    chunks = [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]
    mb = len(stream) / 1e6
    events = decode_all(SSEDecoder, chunks)
    if events != decode_all(ReferenceDecoder, chunks):
        raise SystemExit(f"{name}: the decoders disagree")
    best = {"plugin": float("inf"), "reference": float("inf")}
    for _ in range(ROUNDS):
        for label, factory in (("plugin", SSEDecoder), ("reference", ReferenceDecoder)):
            seconds, count = run(factory, chunks)
            if count != len(events):
                raise SystemExit(f"{name}: {label} produced {count} events, expected {len(events)}")
            best[label] = min(best[label], seconds)
    plugin, reference = mb / best["plugin"], mb / best["reference"]
    print(
        f"{name:>9}: {mb:.1f} MB, {len(events):>6} events | plugin {plugin:6.1f} MB/s | "
        f"reference {reference:6.1f} MB/s | ratio {plugin / reference:.2f}x"
    )
    return best["plugin"], best["reference"]


def main() -> None:
    """Measure three stream shapes; the headline is the plugin's throughput over all of them."""
    rng = random.Random(20240601)
    streams = {"tokens": token_stream(rng), "resumable": resumable_stream(rng), "mixed": mixed_stream(rng)}
    total_mb = sum(len(s) for s in streams.values()) / 1e6
    plugin_s = reference_s = 0.0
    for name, stream in streams.items():
        p, r = measure(name, stream)
        plugin_s += p
        reference_s += r
    plugin, reference = total_mb / plugin_s, total_mb / reference_s
    print(
        f"{'all':>9}: {total_mb:.1f} MB | plugin {plugin:6.1f} MB/s | reference {reference:6.1f} MB/s | "
        f"ratio {plugin / reference:.2f}x"
    )
    print(f"sse_decode_mb_per_s: {plugin:.1f}")


if __name__ == "__main__":
    main()

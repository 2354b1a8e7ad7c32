"""Server-side futures: ``request_id`` → pending/completed/failed, long-poll retrieval, expiry."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from .clock import Clock

PollHook = Callable[[], None]
SWEEP_EVERY = 1000  # futures created between two sweeps of expired ones


@attrs.define
class FutureEntry:
    """One future. ``payload`` is the JSON reply once finished (result or error object)."""

    request_id: str
    endpoint: str
    created_at: float
    visible_at: float
    poll_hook: PollHook | None = None
    state: str = "pending"
    payload: bytes = b""
    compute_seconds: float = 0.0
    finished_at: float | None = None
    result: Any = None  # the completed result object (re-encoded for protobuf readers)


@attrs.frozen
class RetrieveOutcome:
    """What retrieve_future answers. ``kind``: result | failed | metadata | pending | expired."""

    kind: str
    payload: bytes = b""
    compute_seconds: float = 0.0
    queue_state: str = "active"
    queue_state_reason: str | None = None
    payload_size: int = 0
    result: Any = None
    endpoint: str = ""


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes (non-finite floats become NaN/Infinity literals, as Python emits)."""
    return json.dumps(obj, separators=(",", ":")).encode()


class FutureStore:
    """Holds futures; completion and queue-state changes wake long-polling retrievers."""

    def __init__(self, clock: Clock, *, ttl_s: float, queue_delay_s: float,
                 queue_state: str, queue_state_reason: str | None,
                 metadata_threshold_bytes: int) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self.queue_delay_s = queue_delay_s
        self.metadata_threshold_bytes = metadata_threshold_bytes
        self._queue_state = queue_state
        self._queue_reason = queue_state_reason
        self._cond = threading.Condition()
        self._entries: dict[str, FutureEntry] = {}
        self._closed = False
        self._created = 0

    def create(self, endpoint: str, poll_hook: PollHook | None = None) -> str:
        """Register a pending future and return its request id."""
        now = self._clock()
        request_id = f"req-{uuid.uuid4().hex}"
        entry = FutureEntry(request_id, endpoint, now, now + self.queue_delay_s, poll_hook)
        with self._cond:
            self._entries[request_id] = entry
            self._created += 1
            sweep_now = self._created % SWEEP_EVERY == 0
        if sweep_now:  # keeps memory bounded without a janitor thread
            self.sweep()
        return request_id

    def set_poll_hook(self, request_id: str, hook: PollHook | None) -> None:
        """Attach a callable run (outside locks) on every retrieve while the future is pending."""
        with self._cond:
            entry = self._entries.get(request_id)
            if entry is not None:
                entry.poll_hook = hook

    def _finish(self, request_id: str, state: str, payload: bytes, compute_seconds: float,
                result: Any = None) -> None:
        with self._cond:
            entry = self._entries.get(request_id)
            if entry is None or entry.state != "pending":
                return
            entry.state = state
            entry.payload = payload
            entry.result = result
            entry.compute_seconds = compute_seconds
            entry.finished_at = self._clock()
            entry.poll_hook = None
            self._cond.notify_all()

    def complete(self, request_id: str, result: dict[str, Any], compute_seconds: float = 0.0) -> None:
        """Mark a future completed with ``result`` (a JSON object)."""
        self._finish(request_id, "completed", dumps(result), compute_seconds, result)

    def fail(self, request_id: str, message: str, category: str, compute_seconds: float = 0.0) -> None:
        """Mark a future failed; retrieval answers ``{"error": message, "category": category}``."""
        self._finish(request_id, "failed", dumps({"error": message, "category": category}),
                     compute_seconds)

    def state_of(self, request_id: str) -> str | None:
        """pending / completed / failed, or None when unknown."""
        with self._cond:
            entry = self._entries.get(request_id)
            return None if entry is None else entry.state

    def wait_finished(self, request_ids: list[str], timeout_s: float) -> list[tuple[str, str]]:
        """(request_id, state) of the given futures that are finished and deliverable, waiting
        up to ``timeout_s`` (real time) for at least one; unknown ids count as failed."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                now = self._clock()
                done = []
                for request_id in request_ids:
                    entry = self._entries.get(request_id)
                    if entry is None:
                        done.append((request_id, "failed"))
                    elif (entry.state != "pending" and now >= entry.visible_at
                          and self._queue_state == "active"):
                        done.append((request_id, entry.state))
                remaining = deadline - time.monotonic()
                if done or self._closed or remaining <= 0 or not request_ids:
                    return done
                self._cond.wait(min(remaining, 0.05))

    def set_queue_state(self, state: str, reason: str | None) -> None:
        """Change the queue state reported for pending futures (paused states hold results)."""
        with self._cond:
            self._queue_state = state
            self._queue_reason = reason
            self._cond.notify_all()

    @property
    def queue_state(self) -> tuple[str, str | None]:
        """The current (state, reason)."""
        with self._cond:
            return self._queue_state, self._queue_reason

    def close(self) -> None:
        """Wake every long-poll; they answer "pending" from now on."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _expired(self, entry: FutureEntry, now: float) -> bool:
        return entry.finished_at is not None and now >= entry.finished_at + self._ttl_s

    def sweep(self) -> int:
        """Forget finished futures older than the TTL; returns how many were dropped."""
        now = self._clock()
        with self._cond:
            dead = [k for k, e in self._entries.items() if self._expired(e, now)]
            for key in dead:
                del self._entries[key]
            return len(dead)

    def retrieve(self, request_id: str, allow_metadata_only: bool, long_poll_s: float) -> RetrieveOutcome:
        """Wait up to ``long_poll_s`` (real time) for the future to be deliverable."""
        with self._cond:
            entry = self._entries.get(request_id)
            hook = entry.poll_hook if entry is not None else None
        if hook is not None:
            hook()
        deadline = time.monotonic() + long_poll_s
        with self._cond:
            while True:
                now = self._clock()
                entry = self._entries.get(request_id)
                if entry is None or self._expired(entry, now):
                    return RetrieveOutcome("expired")
                visible = now >= entry.visible_at and self._queue_state == "active"
                if entry.state != "pending" and visible:
                    return self._deliver(entry, allow_metadata_only)
                remaining = deadline - time.monotonic()
                if self._closed or remaining <= 0:
                    return RetrieveOutcome("pending", queue_state=self._queue_state,
                                           queue_state_reason=self._queue_reason)
                if entry.state != "pending" and now < entry.visible_at:
                    remaining = min(remaining, max(entry.visible_at - now, 0.001))
                self._cond.wait(remaining)

    def _deliver(self, entry: FutureEntry, allow_metadata_only: bool) -> RetrieveOutcome:
        size = len(entry.payload)
        if entry.state == "failed":
            return RetrieveOutcome("failed", entry.payload, entry.compute_seconds)
        if allow_metadata_only and size > self.metadata_threshold_bytes:
            body = dumps({"status": "complete_metadata", "response_payload_size": size})
            return RetrieveOutcome("metadata", body, entry.compute_seconds, payload_size=size)
        return RetrieveOutcome("result", entry.payload, entry.compute_seconds, result=entry.result,
                               endpoint=entry.endpoint)
